"""H.264 over RTP (RFC 6184), as the simulated camera speaks it: pure logic, no I/O.

Owns the RTP packet type, the packetizer (single NAL unit packets and FU-A fragments, marker on
the last packet of an access unit, 16-bit sequence numbers that wrap), the AVCC helpers that turn
what PyAV demuxes from MP4 into NAL units, and the SDP `fmtp` value a client needs to decode.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RTP_VERSION = 2
RTP_CLOCK_RATE = 90_000
DEFAULT_PAYLOAD_TYPE = 96
DEFAULT_MAX_PAYLOAD = 1400
FU_A = 28
NAL_SPS = 7
NAL_PPS = 8
NAL_IDR = 5
_HEADER = struct.Struct("!BBHII")
_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 fixed header, no CSRC list, no extension)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes

    def to_bytes(self) -> bytes:
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = _HEADER.pack(RTP_VERSION << 6, second, self.sequence, self.timestamp, self.ssrc)
        return header + self.payload

    @classmethod
    def from_bytes(cls, data: bytes) -> RtpPacket:
        """Parse a packet; raise `ValueError` on anything but a plain version-2 packet."""
        if len(data) < _HEADER.size:
            raise ValueError("RTP packet shorter than its header")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION or first & 0x3F:
            raise ValueError("not a plain RTP version 2 packet")
        return cls(
            payload_type=second & 0x7F,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            marker=bool(second & 0x80),
            payload=bytes(data[_HEADER.size :]),
        )


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """The decoder configuration from an MP4 `avcC` box (what PyAV calls extradata)."""

    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    nal_length_size: int

    @property
    def profile_level_id(self) -> str:
        """Profile, constraint flags and level from the first SPS, as six hex digits."""
        return self.sps[0][1:4].hex()

    def fmtp(self) -> str:
        """The SDP `a=fmtp:` value (without the payload type) for this stream."""
        sets = ",".join(base64.b64encode(nal).decode("ascii") for nal in (*self.sps, *self.pps))
        return (
            f"packetization-mode=1; profile-level-id={self.profile_level_id}; "
            f"sprop-parameter-sets={sets}"
        )


def parse_avcc_extradata(extradata: bytes) -> AvcConfig:
    """Parse an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1)."""
    try:
        if extradata[0] != 1:
            raise ValueError("extradata is not an avcC record (Annex B stream?)")
        length_size = (extradata[4] & 0x03) + 1
        pos = 5
        sets: list[list[bytes]] = []
        for mask in (0x1F, 0xFF):
            count = extradata[pos] & mask
            pos += 1
            found: list[bytes] = []
            for _ in range(count):
                (size,) = struct.unpack_from("!H", extradata, pos)
                nal = extradata[pos + 2 : pos + 2 + size]
                if len(nal) != size or size == 0:
                    raise ValueError("truncated parameter set in avcC")
                found.append(bytes(nal))
                pos += 2 + size
            sets.append(found)
    except (IndexError, struct.error) as exc:
        raise ValueError("truncated avcC record") from exc
    sps, pps = sets
    if not sps or not pps or len(sps[0]) < 4:
        raise ValueError("avcC record lacks an SPS or a PPS")
    return AvcConfig(sps=tuple(sps), pps=tuple(pps), nal_length_size=length_size)


def split_avcc(data: bytes, length_size: int = 4) -> list[bytes]:
    """Split length-prefixed (AVCC) data into NAL units; raise `ValueError` if truncated."""
    nals: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + length_size > len(data):
            raise ValueError("truncated NAL length prefix")
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            raise ValueError("NAL unit length is zero or runs past the end")
        nals.append(bytes(data[pos : pos + size]))
        pos += size
    return nals


def fragment_nal(nal: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads for one NAL unit: the NAL itself if it fits, else FU-A fragments."""
    if not nal:
        raise ValueError("empty NAL unit")
    if len(nal) <= max_payload:
        return [nal]
    if max_payload < 3:
        raise ValueError("max_payload too small for FU-A")
    indicator = (nal[0] & 0xE0) | FU_A
    nal_type = nal[0] & 0x1F
    body = nal[1:]
    step = max_payload - 2
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    payloads = []
    for index, chunk in enumerate(chunks):
        start = 0x80 if index == 0 else 0
        end = 0x40 if index == len(chunks) - 1 else 0
        payloads.append(bytes((indicator, start | end | nal_type)) + chunk)
    return payloads


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


class H264Packetizer:
    """Turns access units into RTP packets for one stream (one SSRC, one sequence space)."""

    def __init__(
        self,
        *,
        ssrc: int,
        payload_type: int = DEFAULT_PAYLOAD_TYPE,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        initial_sequence: int = 0,
    ) -> None:
        if not 0 <= ssrc < 2**32:
            raise ValueError("ssrc must fit in 32 bits")
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.max_payload = max_payload
        self._sequence = initial_sequence % 2**16
        self.packets_sent = 0
        self.octets_sent = 0

    @property
    def sequence(self) -> int:
        """The sequence number the next packet will carry."""
        return self._sequence

    def packetize(self, nals: Sequence[bytes], timestamp: int) -> list[RtpPacket]:
        """Packets for one access unit; all share `timestamp`, the last carries the marker."""
        payloads = [p for nal in nals for p in fragment_nal(nal, self.max_payload)]
        packets = []
        for index, payload in enumerate(payloads):
            packets.append(
                RtpPacket(
                    payload_type=self.payload_type,
                    sequence=self._sequence,
                    timestamp=timestamp % 2**32,
                    ssrc=self.ssrc,
                    marker=index == len(payloads) - 1,
                    payload=payload,
                )
            )
            self._sequence = (self._sequence + 1) % 2**16
            self.packets_sent += 1
            self.octets_sent += len(payload)
        return packets


def join_avcc(nals: Iterable[bytes], length_size: int = 4) -> bytes:
    """The inverse of `split_avcc`."""
    return b"".join(len(nal).to_bytes(length_size, "big") + nal for nal in nals)


def sender_report(
    *, ssrc: int, wallclock: float, rtp_timestamp: int, packets: int, octets: int
) -> bytes:
    """An RTCP sender report with no report blocks (RFC 3550 §6.4.1); `wallclock` is Unix time."""
    ntp = int((wallclock + _NTP_EPOCH_OFFSET) * 2**32)
    return struct.pack(
        "!BBHIIIIII",
        0x80,
        200,
        6,
        ssrc,
        (ntp >> 32) & 0xFFFFFFFF,
        ntp & 0xFFFFFFFF,
        rtp_timestamp % 2**32,
        packets % 2**32,
        octets % 2**32,
    )
