"""The RTSP request reader: what it accepts, what it refuses, and the transport header."""

from __future__ import annotations

import asyncio

import pytest

from heldar.simcam.rtsp import (
    MAX_BODY,
    MAX_LINE,
    RtspProtocolError,
    RtspResponse,
    interleave,
    parse_transport,
    read_request,
)


def reader_for(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=MAX_LINE)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_reads_requests_and_skips_interleaved_frames() -> None:
    rtcp = interleave(1, b"\x81\xc9\x00\x01" + bytes(4))
    data = (
        b"GET_PARAMETER rtsp://h/cam1 RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 4\r\n\r\nabcd"
        + rtcp
        + b"\r\nOPTIONS * RTSP/1.0\nCSeq: 8\n\n"
    )
    reader = reader_for(data)
    first = await read_request(reader)
    second = await read_request(reader)
    assert first is not None
    assert (first.method, first.url, first.cseq, first.body) == (
        "GET_PARAMETER",
        "rtsp://h/cam1",
        "7",
        b"abcd",
    )
    assert second is not None
    assert (second.method, second.cseq) == ("OPTIONS", "8")
    assert await read_request(reader) is None


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"get rtsp://h/ RTSP/1.0\r\n\r\n",
        b"OPTIONS  RTSP/1.0\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nNoColon\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nX: \x00\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nX: \xff\xfe\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n",
        f"OPTIONS * RTSP/1.0\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode(),
        b"OPTIONS /" + b"a" * (MAX_LINE + 10) + b" RTSP/1.0\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(100)) + b"\r\n",
    ],
)
async def test_malformed_requests_raise(data: bytes) -> None:
    with pytest.raises(RtspProtocolError):
        await read_request(reader_for(data))


async def test_truncated_body_is_an_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        await read_request(reader_for(b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 9\r\n\r\nab"))


@pytest.mark.parametrize(
    ("value", "channels"),
    [
        ("RTP/AVP/TCP;unicast;interleaved=0-1", (0, 1)),
        ("RTP/AVP/TCP;unicast;interleaved=4-5", (4, 5)),
        ("RTP/AVP/TCP;unicast", (0, 1)),
        ("RTP/AVP;unicast;client_port=5000-5001, RTP/AVP/TCP;interleaved=2-3", (2, 3)),
        ("RTP/AVP;unicast;client_port=5000-5001", None),
        ("RTP/AVP/UDP;unicast;client_port=5000-5001", None),
        ("RTP/AVP/TCP;interleaved=x-1", None),
        ("", None),
    ],
)
def test_parse_transport(value: str, channels: tuple[int, int] | None) -> None:
    assert parse_transport(value) == channels


def test_response_framing() -> None:
    wire = RtspResponse(200, [("Session", "abc;timeout=60")], b"v=0\r\n").encode("3")
    head, _, body = wire.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"RTSP/1.0 200 OK",
        b"CSeq: 3",
        b"Server: heldar-simcam",
        b"Session: abc;timeout=60",
        b"Content-Length: 5",
    ]
    assert body == b"v=0\r\n"
