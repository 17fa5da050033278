"""The box index of recorded fMP4 segments: init section, fragments, timing, torn tails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from heldar.errors import MediaError
from heldar.playback.fmp4 import Fmp4Cache, read_index
from tests.playback.conftest import FPS, T0, Library, record_run
from tests.playback.media import decode_file, top_level_boxes


def test_index_finds_the_init_section_and_every_fragment(library: Library) -> None:
    path = library.small.segments[1].path
    index = read_index(path)
    data = path.read_bytes()

    assert data[4:8] == b"ftyp"
    assert data[index.init_size + 4 : index.init_size + 8] == b"moof"
    assert [t.handler for t in index.tracks] == ["vide"]
    assert not index.truncated
    # frag_keyframe with a 1 s GOP: two fragments of 1 s, each opening with a keyframe
    assert [(f.start_s, f.duration_s, f.keyframe) for f in index.fragments] == [
        (0.0, 1.0, True),
        (1.0, 1.0, True),
    ]
    assert index.duration_s == 2.0
    # fragments tile the file from the init section up to ffmpeg's closing mfra box
    assert index.fragments[0].offset == index.init_size
    assert index.fragments[0].end == index.fragments[1].offset
    assert top_level_boxes(path)[-1] == "mfra"
    samples = sum(index.main_run(f).samples for f in index.fragments)
    assert samples == decode_file(path).frames == 2 * FPS


@pytest.mark.parametrize("where", ["mid-mdat", "mid-moof", "after-header"])
def test_a_torn_last_fragment_is_left_out(library: Library, tmp_path: Path, where: str) -> None:
    source = library.small.segments[0].path
    whole = read_index(source)
    last = whole.fragments[-1]
    cut = {
        "mid-mdat": last.end - 100,
        "mid-moof": last.offset + 40,
        "after-header": last.offset + 4,
    }[where]
    torn = tmp_path / "torn.mp4"
    torn.write_bytes(source.read_bytes()[:cut])

    index = read_index(torn)

    assert index.truncated
    assert index.fragments == whole.fragments[:-1]
    assert index.duration_s == 1.0


def test_a_file_cut_inside_its_moov_or_not_mp4_is_a_media_error(
    library: Library, tmp_path: Path
) -> None:
    source = library.small.segments[0].path
    cases = {
        "moov.mp4": source.read_bytes()[: read_index(source).init_size - 10],
        "text.mp4": b"this is not an mp4 file at all, just text\n" * 10,
        "empty.mp4": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(MediaError) as caught:
            read_index(tmp_path / name)
        assert caught.value.code == "bad_segment"
    with pytest.raises(FileNotFoundError):
        read_index(tmp_path / "missing.mp4")


def test_b_frames_and_an_audio_track(tmp_path: Path) -> None:
    run = record_run(tmp_path, start=T0, count=2, bframes=2, audio=True)
    for segment in run.segments:
        index = read_index(segment.path)
        assert sorted(t.handler for t in index.tracks) == ["soun", "vide"]
        assert index.track(index.main_track_id).handler == "vide"  # type: ignore[union-attr]
        assert all(f.keyframe for f in index.fragments)
        assert all(len(f.runs) == 2 for f in index.fragments)  # one traf per track
        assert index.duration_s == pytest.approx(2.0, abs=1 / FPS)
        samples = sum(index.main_run(f).samples for f in index.fragments)
        assert samples == decode_file(segment.path).frames


def test_cache_rereads_a_file_only_when_it_changed(library: Library, tmp_path: Path) -> None:
    source = library.small.segments[0].path
    whole = source.read_bytes()
    growing = tmp_path / "live.mp4"
    growing.write_bytes(whole[: read_index(source).fragments[0].end + 10])
    cache = Fmp4Cache(max_entries=1)

    first = cache.index(growing)
    assert len(first.fragments) == 1 and first.truncated
    assert cache.index(growing) is first  # unchanged: not parsed again

    growing.write_bytes(whole)  # ffmpeg wrote the next fragment and closed the file
    second = cache.index(growing)
    assert len(second.fragments) == 2 and not second.truncated

    other = tmp_path / "other.mp4"
    shutil.copyfile(source, other)
    cache.index(other)
    assert len(cache) == 1  # bounded: the least recently used entry went
