"""The test clip: rendered once, cached by parameters, 1 s GOP, no B-frames, demuxed losslessly."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from heldar.errors import MediaError
from heldar.ffmpeg.binary import find_ffmpeg
from heldar.simcam.clip import clip_width, ensure_clip, load_clip
from heldar.simcam.packetizer import NAL_IDR, NAL_PPS, NAL_SPS, nal_type


def test_clip_has_the_promised_shape(simcam_clip: Path) -> None:
    assert simcam_clip.name == "simcam-640x360-15fps-4s-v2.mp4"
    with av.open(str(simcam_clip)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        assert (stream.codec_context.name, stream.codec_context.width) == ("h264", 640)
        assert stream.codec_context.height == 360
        assert stream.codec_context.profile in ("Main", "Constrained Baseline", "Baseline")
    assert len(packets) == 60
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 15, 30, 45]
    assert [p.pts for p in packets] == [p.dts for p in packets], "B-frames reorder pts"


def test_load_clip_repeats_parameter_sets_before_each_idr(simcam_clip: Path) -> None:
    media = load_clip(simcam_clip)
    assert (media.width, media.height, media.fps) == (640, 360, 15)
    assert media.duration == 4 * 90_000
    assert {unit.duration for unit in media.units} == {6000}
    for unit in media.units:
        types = [nal_type(n) for n in unit.nals]
        if unit.keyframe:
            assert types[:2] == [NAL_SPS, NAL_PPS]
            assert NAL_IDR in types
        else:
            assert NAL_SPS not in types
            assert NAL_IDR not in types
    assert media.config.profile_level_id == media.config.sps[0][1:4].hex()


async def test_ensure_clip_renders_once(simcam_clip: Path) -> None:
    cache = simcam_clip.parent
    before = simcam_clip.stat().st_mtime_ns
    again = await ensure_clip(cache, ffmpeg="/nonexistent/ffmpeg", height=360, fps=15, seconds=4)
    assert again == simcam_clip
    assert again.stat().st_mtime_ns == before
    assert not list(cache.glob(".*partial*"))


async def test_ensure_clip_raises_media_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="exited with"):
        await ensure_clip(tmp_path, ffmpeg="/bin/false", height=360, fps=15, seconds=1)
    assert list(tmp_path.iterdir()) == []


async def test_ensure_clip_other_parameters(tmp_path: Path) -> None:
    clip = await ensure_clip(tmp_path, ffmpeg=find_ffmpeg(), height=144, fps=5, seconds=2)
    media = load_clip(clip)
    assert (media.width, media.height) == (256, 144)
    assert [u.keyframe for u in media.units] == [True, *[False] * 4] * 2


@pytest.mark.parametrize("font", ["missing", "breaks-the-filtergraph"])
async def test_clip_without_a_usable_font_has_no_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, font: str
) -> None:
    # An unreadable font file does not fail drawtext (fontconfig substitutes one); a path
    # that drawtext cannot parse does, and exercises the fallback.
    fonts = [tmp_path / "missing.ttf"]
    if font == "breaks-the-filtergraph":
        fonts = [tmp_path / "a:b.ttf"]
        fonts[0].write_bytes(b"not a font")
    cache = tmp_path / "cache"
    clip = await ensure_clip(cache, ffmpeg=find_ffmpeg(), height=144, fps=5, seconds=1, fonts=fonts)
    assert load_clip(clip).units
    assert any("without" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert [p.name for p in cache.iterdir()] == [clip.name]


@pytest.mark.parametrize(("height", "width"), [(360, 640), (720, 1280), (1080, 1920), (480, 854)])
def test_widths_are_16_9_and_even(height: int, width: int) -> None:
    assert clip_width(height) == width


@pytest.mark.parametrize("kwargs", [{"height": 721}, {"height": 8}, {"fps": 0}, {"seconds": 0}])
async def test_ensure_clip_refuses_bad_parameters(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        await ensure_clip(tmp_path, ffmpeg="ffmpeg", **kwargs)


def test_load_clip_rejects_non_h264(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(MediaError):
        load_clip(junk)
