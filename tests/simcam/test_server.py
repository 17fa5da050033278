"""SimCamServer at the RTSP/RTP level, driven by a raw client: protocol, pacing, outages, stalls."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import socket
from pathlib import Path

import pytest

from heldar.simcam.packetizer import NAL_SPS, nal_type
from heldar.simcam.server import SimCamServer
from tests.support.rtsp import SIMCAM_PASSWORD, SIMCAM_USER
from tests.support.rtsp_client import RawRtspClient

TCP = {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}


async def test_describe_answers_an_sdp_a_decoder_can_use(simcam: SimCamServer) -> None:
    async with await RawRtspClient.connect(simcam.url(2)) as client:
        options = await client.request("OPTIONS", simcam.url(2))
        reply = await client.request("DESCRIBE", simcam.url(2), {"Accept": "application/sdp"})
    assert options.status == 200
    assert "SETUP" in (options.header("public") or "")
    assert reply.status == 200
    assert reply.header("content-type") == "application/sdp"
    assert reply.header("content-base") == simcam.url(2) + "/"
    sdp = reply.body.decode().split("\r\n")
    assert "m=video 0 RTP/AVP 96" in sdp
    assert "a=rtpmap:96 H264/90000" in sdp
    assert "a=framerate:15" in sdp
    assert f"a=control:{simcam.url(2)}/trackID=0" in sdp
    (fmtp,) = [line for line in sdp if line.startswith("a=fmtp:96 ")]
    params = dict(p.strip().split("=", 1) for p in fmtp.removeprefix("a=fmtp:96 ").split(";"))
    assert params["packetization-mode"] == "1"
    sps_b64, pps_b64 = params["sprop-parameter-sets"].split(",")
    sps = base64.b64decode(sps_b64)
    assert nal_type(sps) == NAL_SPS
    assert params["profile-level-id"] == sps[1:4].hex()
    assert nal_type(base64.b64decode(pps_b64)) == 8


async def test_describe_never_echoes_userinfo(simcam: SimCamServer) -> None:
    url = simcam.url(1).replace("rtsp://", "rtsp://admin:hunter2@") + "/?profile=main"
    async with await RawRtspClient.connect(simcam.url(1)) as client:
        reply = await client.request("DESCRIBE", url)
    assert reply.status == 200
    assert f"a=control:{simcam.url(1)}/trackID=0" in reply.body.decode()
    assert "hunter2" not in reply.body.decode() + str(reply.headers)


async def test_rtp_is_well_formed_and_paced_in_real_time(simcam: SimCamServer) -> None:
    loop = asyncio.get_running_loop()
    async with await RawRtspClient.connect(simcam.url(1)) as client:
        played = await client.play(simcam.url(1))
        started = loop.time()
        units = await client.read_access_units(16)
        elapsed = loop.time() - started
    info = dict(kv.split("=", 1) for kv in (played.header("rtp-info") or "").split(";"))
    assert info["url"] == f"{simcam.url(1)}/trackID=0"
    packets = [p for unit in units for p in unit]
    assert packets[0].sequence == int(info["seq"])
    assert packets[0].timestamp == int(info["rtptime"])
    assert nal_type(packets[0].payload) == NAL_SPS, "a session starts at a keyframe"
    seqs = [p.sequence for p in packets]
    assert seqs == [(seqs[0] + i) % 2**16 for i in range(len(seqs))]
    assert len({p.ssrc for p in packets}) == 1
    assert all(len(p.payload) <= 1400 for p in packets)
    stamps = [unit[0].timestamp for unit in units]
    assert all({p.timestamp for p in unit} == {unit[0].timestamp} for unit in units)
    assert [(b - a) % 2**32 for a, b in itertools.pairwise(stamps)] == [6000] * 15
    assert 0.9 < elapsed < 3.0, "15 frame intervals at 15 fps take one second"


async def test_unknown_paths_are_404(simcam: SimCamServer) -> None:
    base = simcam.url(1).removesuffix("/cam1")
    async with await RawRtspClient.connect(simcam.url(1)) as client:
        for path in ("/cam3", "/cam0", "/nope", "/cam1/../cam2", "/cam1/trackID=1"):
            reply = await client.request("DESCRIBE", base + path)
            assert reply.status == 404, path
        assert (await client.request("DESCRIBE", simcam.url(1))).status == 200


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n",
        b"OPTIONS /" + b"a" * 10_000 + b" RTSP/1.0\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    ],
)
async def test_malformed_requests_get_400_and_the_server_lives_on(
    simcam: SimCamServer, garbage: bytes
) -> None:
    async with await RawRtspClient.connect(simcam.url(1)) as client:
        await client.send(garbage)
        assert (await client.read_reply()).status == 400
        assert await client.reader.read() == b"", "the connection is closed after a 400"
    async with await RawRtspClient.connect(simcam.url(1)) as client:
        assert (await client.request("OPTIONS", simcam.url(1))).status == 200


async def test_state_errors(simcam: SimCamServer) -> None:
    url = simcam.url(1)
    async with await RawRtspClient.connect(url) as client:
        assert (await client.request("PLAY", url)).status == 455
        assert (await client.request("PLAY", url, {"Session": "nope"})).status == 454
        assert (await client.request("RECORD", url)).status == 501
        client.writer.write(b"OPTIONS * RTSP/2.0\r\nCSeq: 99\r\n\r\n")
        assert (await client.read_reply()).status == 505
        setup = await client.request("SETUP", f"{url}/trackID=0", TCP)
        assert setup.status == 200
        assert (setup.header("session") or "").endswith(";timeout=60")
        session = (setup.header("session") or "").split(";")[0]
        assert (await client.request("PLAY", url, {"Session": session + "x"})).status == 454
        assert (await client.request("GET_PARAMETER", url, {"Session": session})).status == 200


@pytest.mark.parametrize(
    "transport",
    ["RTP/AVP;unicast;client_port=5000-5001", "RTP/AVP/UDP;unicast;client_port=5000-5001", ""],
)
async def test_udp_transport_is_461(simcam: SimCamServer, transport: str) -> None:
    async with await RawRtspClient.connect(simcam.url(1)) as client:
        reply = await client.request(
            "SETUP", f"{simcam.url(1)}/trackID=0", {"Transport": transport}
        )
    assert reply.status == 461


async def test_pause_play_and_teardown(simcam: SimCamServer) -> None:
    url = simcam.url(1)
    async with await RawRtspClient.connect(url) as client:
        await client.play(url)
        await client.read_access_units(2)
        session = {"Session": client.session or ""}
        assert (await client.request("PAUSE", url, session)).status == 200
        client.frames.clear()
        with pytest.raises(TimeoutError):
            await client.read_rtp(timeout=0.5)
        assert (await client.request("PLAY", url, session)).status == 200
        first = await client.read_rtp()
        assert nal_type(first.payload) == NAL_SPS, "PLAY resumes at a keyframe"
        assert (await client.request("TEARDOWN", url, session)).status == 200
        client.frames.clear()
        with pytest.raises(TimeoutError):
            await client.read_rtp(timeout=0.5)
        assert (await client.request("PLAY", url, session)).status == 454


async def test_stalled_camera_keeps_tcp_open_and_sends_nothing(simcam: SimCamServer) -> None:
    url = simcam.url(1)
    async with await RawRtspClient.connect(url) as client:
        await client.play(url)
        before = (await client.read_access_units(2))[-1][-1]
        simcam.set_stalled(True)
        with pytest.raises(TimeoutError):
            for _ in range(50):  # what was already in flight, then silence
                before = await client.read_rtp(timeout=1.0)
        reply = await client.request("GET_PARAMETER", url, {"Session": client.session or ""})
        assert reply.status == 200, "RTSP still answers: the TCP session is open"
        simcam.set_stalled(False)
        after = await client.read_rtp(timeout=3)
    assert nal_type(after.payload) == NAL_SPS, "a stalled camera comes back at a keyframe"
    assert after.sequence == (before.sequence + 1) % 2**16
    assert (after.timestamp - before.timestamp) % 2**32 >= 90_000, "the RTP clock kept running"


async def test_stop_closes_everything_and_start_reuses_the_port(simcam: SimCamServer) -> None:
    port = simcam.port
    url = simcam.url(1)
    client = await RawRtspClient.connect(url)
    try:
        await client.play(url)
        await client.read_access_units(1)
        await simcam.stop()
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            for _ in range(100):
                await client.read_frame(timeout=2)
    finally:
        await client.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await simcam.start()
    assert simcam.port == port
    async with await RawRtspClient.connect(url) as again:
        await again.play(url)
        assert len(await again.read_access_units(3)) == 3


async def test_basic_auth_by_hand(simcam_auth: SimCamServer) -> None:
    url = simcam_auth.url(1)
    token = base64.b64encode(f"{SIMCAM_USER}:{SIMCAM_PASSWORD}".encode()).decode()
    wrong = base64.b64encode(f"{SIMCAM_USER}:nope".encode()).decode()
    async with await RawRtspClient.connect(url) as client:
        challenge = await client.request("OPTIONS", url)
        assert challenge.status == 401
        schemes = (challenge.header("www-authenticate") or "").split("\n")
        assert [s.split(" ")[0] for s in schemes] == ["Digest", "Basic"]
        assert "nonce=" in schemes[0]
        assert (
            await client.request("OPTIONS", url, {"Authorization": f"Basic {wrong}"})
        ).status == 401
        await client.play(url, {"Authorization": f"Basic {token}"})
        assert len(await client.read_access_units(1)) == 1


async def test_digest_with_qop_by_hand(simcam_auth: SimCamServer) -> None:
    url = simcam_auth.url(2)

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    async with await RawRtspClient.connect(url) as client:
        challenge = await client.request("DESCRIBE", url)
        digest = (challenge.header("www-authenticate") or "").split("\n")[0]
        params = dict(p.strip().split("=", 1) for p in digest.removeprefix("Digest ").split(","))
        realm, nonce = params["realm"].strip('"'), params["nonce"].strip('"')
        ha1 = md5(f"{SIMCAM_USER}:{realm}:{SIMCAM_PASSWORD}")
        response = md5(f"{ha1}:{nonce}:00000001:c0ffee:auth:{md5('DESCRIBE:' + url)}")
        header = (
            f'Digest username="{SIMCAM_USER}", realm="{realm}", nonce="{nonce}", uri="{url}", '
            f'qop=auth, nc=00000001, cnonce="c0ffee", response="{response}"'
        )
        reply = await client.request("DESCRIBE", url, {"Authorization": header})
        assert reply.status == 200
        forged = header.replace(response, md5("forged"))
        assert (await client.request("DESCRIBE", url, {"Authorization": forged})).status == 401


async def test_auth_failures_never_log_the_password(
    simcam_auth: SimCamServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    url = simcam_auth.url(1)
    guess = base64.b64encode(f"{SIMCAM_USER}:{SIMCAM_PASSWORD}x".encode()).decode()
    async with await RawRtspClient.connect(url) as client:
        assert (
            await client.request("DESCRIBE", url, {"Authorization": f"Basic {guess}"})
        ).status == 401
    assert "rejected credentials" in caplog.text
    assert SIMCAM_PASSWORD not in caplog.text
    assert guess not in caplog.text


@pytest.mark.slow
async def test_a_stuck_client_loses_frames_and_blocks_no_one(simcam_clip: Path) -> None:
    async with SimCamServer(simcam_clip, port=0, max_write_buffer=16 * 1024) as server:
        url = server.url(1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        async with RawRtspClient(reader, writer) as stuck, await RawRtspClient.connect(url) as fast:
            await stuck.play(url)
            loop = asyncio.get_running_loop()
            await fast.play(url)
            started = loop.time()
            assert len(await fast.read_access_units(31)) == 31
            assert loop.time() - started < 3.5, "the stuck client did not slow the other down"
            stamps: list[int] = []
            first_after_gap = None
            for _ in range(2000):
                packet = await stuck.read_rtp()
                if stamps and packet.timestamp not in (stamps[-1], (stamps[-1] + 6000) % 2**32):
                    first_after_gap = packet
                    break
                if not stamps or packet.timestamp != stamps[-1]:
                    stamps.append(packet.timestamp)
    assert first_after_gap is not None, "frames were dropped instead of buffered without bound"
    assert nal_type(first_after_gap.payload) == NAL_SPS, "after a drop, sending resumes at an IDR"
