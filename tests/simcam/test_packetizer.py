"""RFC 6184 packetization properties: fragments reassemble, sequence numbers wrap, one marker."""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar.simcam.packetizer import (
    FU_A,
    H264Packetizer,
    RtpPacket,
    fragment_nal,
    join_avcc,
    parse_avcc_extradata,
    sender_report,
    split_avcc,
)

# A real avcC from a 640x360 Main-profile libx264 clip.
SPS = bytes.fromhex("674d401ed900a02ff970110000030001000003001e8f162e48")
PPS = bytes.fromhex("68ebc3cb22c0")
AVCC = bytes.fromhex("014d401effe1") + struct.pack("!H", len(SPS)) + SPS
AVCC += b"\x01" + struct.pack("!H", len(PPS)) + PPS

nal_units = st.binary(min_size=1, max_size=6000).map(lambda b: bytes([0x65 & 0x7F]) + b)
any_nal = st.builds(
    lambda header, body: bytes([header]) + body,
    st.integers(0, 0x7F).filter(lambda h: h & 0x1F not in (0, FU_A)),
    st.binary(max_size=5000),
)


def reassemble(payloads: list[bytes]) -> bytes:
    """The receiver side of RFC 6184 §5.8 for one NAL unit."""
    if payloads[0][0] & 0x1F != FU_A:
        assert len(payloads) == 1
        return payloads[0]
    indicator, first_header = payloads[0][0], payloads[0][1]
    assert first_header & 0x80, "first fragment carries S"
    assert payloads[-1][1] & 0x40, "last fragment carries E"
    for middle in payloads[1:-1]:
        assert middle[1] & 0xC0 == 0
    header = (indicator & 0xE0) | (first_header & 0x1F)
    return bytes([header]) + b"".join(p[2:] for p in payloads)


@given(any_nal, st.integers(min_value=3, max_value=1500))
def test_fragments_reassemble_to_the_original_nal(nal: bytes, max_payload: int) -> None:
    payloads = fragment_nal(nal, max_payload)
    assert all(len(p) <= max_payload for p in payloads)
    assert reassemble(payloads) == nal
    assert (len(payloads) == 1) == (len(nal) <= max_payload)


@given(
    st.lists(any_nal, min_size=1, max_size=5),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
)
def test_marker_only_on_the_last_packet_and_sequence_wraps(
    nals: list[bytes], initial: int, timestamp: int
) -> None:
    packetizer = H264Packetizer(ssrc=0x1234, initial_sequence=initial, max_payload=700)
    packets = packetizer.packetize(nals, timestamp)
    assert [p.marker for p in packets] == [False] * (len(packets) - 1) + [True]
    assert [p.sequence for p in packets] == [(initial + i) % 2**16 for i in range(len(packets))]
    assert packetizer.sequence == (initial + len(packets)) % 2**16
    assert {p.timestamp for p in packets} == {timestamp}
    assert packetizer.packets_sent == len(packets)


def test_sequence_wraps_across_access_units() -> None:
    packetizer = H264Packetizer(ssrc=1, initial_sequence=2**16 - 2)
    first = packetizer.packetize([b"\x65" + bytes(3000)], 0)
    second = packetizer.packetize([b"\x41" + bytes(10)], 6000)
    assert [p.sequence for p in first + second] == [65534, 65535, 0, 1]


@given(
    st.integers(0, 127),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.binary(max_size=200),
)
def test_rtp_header_round_trips(
    pt: int, seq: int, ts: int, ssrc: int, marker: bool, payload: bytes
) -> None:
    packet = RtpPacket(pt, seq, ts, ssrc, marker, payload)
    wire = packet.to_bytes()
    assert wire[0] == 0x80
    assert RtpPacket.from_bytes(wire) == packet


def test_rtp_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        RtpPacket.from_bytes(b"\x80\x60")
    with pytest.raises(ValueError):
        RtpPacket.from_bytes(b"\x40" + bytes(11))


@given(st.lists(nal_units, max_size=6), st.sampled_from([1, 2, 4]))
def test_avcc_split_inverts_join(nals: list[bytes], length_size: int) -> None:
    if length_size < 4:
        nals = [n[: 2 ** (8 * length_size) - 1] for n in nals]
    assert split_avcc(join_avcc(nals, length_size), length_size) == nals


def test_avcc_split_rejects_truncation() -> None:
    with pytest.raises(ValueError):
        split_avcc(b"\x00\x00\x00\x09\x65\x00")
    with pytest.raises(ValueError):
        split_avcc(b"\x00\x00")


def test_fmtp_from_real_extradata() -> None:
    config = parse_avcc_extradata(AVCC)
    assert config.sps == (SPS,)
    assert config.pps == (PPS,)
    assert config.nal_length_size == 4
    sprop = f"{base64.b64encode(SPS).decode()},{base64.b64encode(PPS).decode()}"
    assert config.fmtp() == (
        f"packetization-mode=1; profile-level-id=4d401e; sprop-parameter-sets={sprop}"
    )


@pytest.mark.parametrize(
    "extradata",
    [b"", b"\x00\x4d\x40\x1e\xff\xe1", AVCC[:12], AVCC[:-3], b"\x01\x4d\x40\x1e\xff\xe0\x00"],
)
def test_bad_extradata_is_rejected(extradata: bytes) -> None:
    with pytest.raises(ValueError):
        parse_avcc_extradata(extradata)


def test_sender_report_layout() -> None:
    report = sender_report(
        ssrc=0xDEADBEEF, wallclock=0.5, rtp_timestamp=2**32 + 7, packets=3, octets=99
    )
    version, pt, length, ssrc, ntp_s, ntp_f, ts, packets, octets = struct.unpack(
        "!BBHIIIIII", report
    )
    assert (version, pt, length, ssrc) == (0x80, 200, 6, 0xDEADBEEF)
    assert (ntp_s, ntp_f) == (2_208_988_800, 2**31)
    assert (ts, packets, octets) == (7, 3, 99)
    assert len(report) == (length + 1) * 4
