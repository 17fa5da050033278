"""fMP4 splitting and the HLS window, on real ffmpeg output of the simcam clip."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
from pathlib import Path

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heldar.errors import MediaError
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.live.fmp4 import (
    AvcConfig,
    FragmentInfo,
    InitInfo,
    fragment_info,
    fragment_samples,
    read_box,
)
from heldar.live.hls import HlsWindow
from heldar.live.pull import MOVFLAGS


def _fmp4(clip: Path, movflags: str = MOVFLAGS) -> bytes:
    argv = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-i", str(clip), "-map", "0:v:0"]
    argv += ["-c", "copy", "-f", "mp4", "-movflags", movflags, "pipe:1"]
    return subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout


async def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    boxes = []
    while (box := await read_box(reader)) is not None:
        boxes.append(box)
    return boxes


async def test_split_per_frame_fragments_with_keyframes(simcam_clip: Path) -> None:
    boxes = await _boxes(_fmp4(simcam_clip))
    kinds = [kind for kind, _ in boxes]
    assert kinds[:2] == [b"ftyp", b"moov"]
    info = InitInfo.parse(boxes[0][1] + boxes[1][1])
    assert info.codec.startswith("avc1.") and info.browser_playable
    assert (info.width, info.height) == (640, 360)
    assert info.mime == f'video/mp4; codecs="{info.codec}"'
    moofs = [fragment_info(data) for kind, data in boxes if kind == b"moof"]
    assert len(moofs) == 60  # 4 s at 15 fps, one frame per fragment
    assert [i for i, m in enumerate(moofs) if m.keyframe] == [0, 15, 30, 45]  # 1 s GOP
    assert [m.decode_time for m in moofs[:3]] == [0, info.timescale // 15, 2 * info.timescale // 15]

    window = HlsWindow(target_s=1.0, window=6)
    for (kind, data), nxt in itertools.pairwise(boxes):
        if kind == b"moof":
            window.add(data + nxt[1], fragment_info(data), info.timescale)
    parts = window.parts
    assert [p.seq for p in parts] == [0, 1, 2]  # the 4th GOP is still open
    assert all(abs(p.duration_s - 1.0) < 1e-6 for p in parts)
    playlist = window.playlist("?token=t")
    assert '#EXT-X-MAP:URI="init.mp4?token=t"' in playlist
    assert "#EXT-X-MEDIA-SEQUENCE:0" in playlist and "2.m4s?token=t" in playlist


@pytest.mark.parametrize("movflags", [MOVFLAGS, "+frag_keyframe+empty_moov+default_base_moof"])
async def test_fragments_become_decodable_annexb_access_units(
    simcam_clip: Path, movflags: str
) -> None:
    """What WebRTC forwards: every sample, start codes, SPS/PPS before each IDR, so a decoder
    that joins at any keyframe decodes every frame (one frame per fragment or a GOP per one)."""
    boxes = await _boxes(_fmp4(simcam_clip, movflags))
    info = InitInfo.parse(boxes[0][1] + boxes[1][1])
    config = AvcConfig.parse(info.avcc)
    assert config.length_size == 4 and len(config.parameter_sets) == 2
    samples = [
        sample
        for (kind, moof), (_, mdat) in itertools.pairwise(boxes)
        if kind == b"moof"
        for sample in fragment_samples(moof + mdat)
    ]
    assert len(samples) == 60
    assert [s.decode_time for s in samples[:3]] == [
        0,
        info.timescale // 15,
        2 * info.timescale // 15,
    ]
    for start in (0, 15):  # from the first keyframe, and joining at the second one
        decoder = av.CodecContext.create("h264", "r")
        frames = []
        for sample in samples[start:]:
            unit = config.annexb(sample.data)
            assert unit.startswith(b"\x00\x00\x00\x01")
            frames += decoder.decode(av.Packet(unit))
        frames += decoder.decode(None)
        assert len(frames) == 60 - start
        assert {(f.width, f.height) for f in frames} == {(640, 360)}
    with pytest.raises(MediaError):
        config.annexb(b"\x00\x00\x01\x00abc")  # a length running past the sample
    with pytest.raises(MediaError):
        AvcConfig.parse(info.avcc[:8])


async def test_truncated_or_absurd_boxes_are_errors() -> None:
    with pytest.raises(MediaError):
        await _boxes(b"\x00\x00\x00")
    with pytest.raises(MediaError):
        await _boxes(b"\xff\xff\xff\xffmoof")
    assert await _boxes(b"") == []


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 30)), min_size=1, max_size=200))
def test_hls_parts_start_at_keyframes_and_last_long_enough(frames: list[tuple[bool, int]]) -> None:
    window = HlsWindow(target_s=1.0, window=1000)
    t = 0
    for key, step in frames:
        marker = b"K" if key else b"P"
        window.add(marker, FragmentInfo(keyframe=key, decode_time=t), 15)
        t += step
    for part in window.parts:
        assert part.data.startswith(b"K")
        assert part.duration_s >= 1.0
    assert [p.seq for p in window.parts] == list(range(len(window.parts)))
