"""ffmpeg argv builders: fixed templates, never a shell, never a user-supplied option.

Inputs are URLs that passed `heldar.cameras.urls.validate_stream_url`; each `-i` is preceded by a
`-protocol_whitelist` so ffmpeg cannot be talked into `file:`, `concat:` or nested playlists.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

RTSP_SOCKET_TIMEOUT_US = 15_000_000
SEGMENT_NAME = "%Y%m%d_%H%M%S"
FMP4_MOVFLAGS = "movflags=+frag_keyframe+empty_moov+default_base_moof"


def protocol_whitelist(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    allowed = ["rtsp", "rtsps", "tcp", "udp", "rtp", "tls"]
    if scheme in ("http", "https"):
        allowed += ["http", "https", "httpproxy"]
    return ",".join(allowed)


def input_args(url: str) -> list[str]:
    """Options for a network input, then `-i url`."""
    if url.startswith("-"):
        raise ValueError("an input URL may not start with '-'")
    args = ["-protocol_whitelist", protocol_whitelist(url)]
    if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
        args = ["-rtsp_transport", "tcp", "-timeout", str(RTSP_SOCKET_TIMEOUT_US), *args]
    else:
        args = ["-rw_timeout", str(RTSP_SOCKET_TIMEOUT_US), *args]
    return [*args, "-i", url]


def _segment_options(seconds: int) -> list[tuple[str, str]]:
    return [
        ("segment_time", str(max(seconds, 2))),
        ("segment_format", "mp4"),
        ("segment_format_options", FMP4_MOVFLAGS),
        ("reset_timestamps", "1"),
        ("strftime", "1"),
    ]


def _tee_escape(value: str) -> str:
    """Escape a tee slave option value or file name. The tee spec is unescaped twice (once as a
    token, once as an option list), so each special character gets a doubly escaped backslash."""
    for ch in ("\\", ":", "|", "[", "]", "'"):
        value = value.replace(ch, "\\\\\\" + ch)
    return value


def record_argv(
    ffmpeg: str,
    *,
    url: str,
    out_dir: Path,
    segment_seconds: int,
    record_audio: bool,
    name_suffix: str = "",
    mirror_dir: Path | None = None,
) -> list[str]:
    """Stream-copy `url` into fMP4 segments named by their UTC start second under `out_dir`.

    ffmpeg prints `name,start,end` on stdout whenever a segment closes (`-segment_list pipe:1`).
    The child must run with `TZ=UTC` so `-strftime` names are UTC. With `mirror_dir`, one RTSP
    pull feeds two segment muxers through `tee`; the mirror has `onfail=ignore`, so a failing
    mirror volume never stops the primary recording.
    """
    audio = ["-map", "0:a:0?", "-c:a", "copy"] if record_audio else ["-an"]
    name = f"{SEGMENT_NAME}{name_suffix}.mp4"
    pattern = str(out_dir / name)
    head = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning", *input_args(url)]
    maps = ["-map", "0:v:0", *audio, "-c:v", "copy"]
    if mirror_dir is not None:
        primary = [
            *_segment_options(segment_seconds),
            ("segment_list", "pipe:1"),
            ("segment_list_type", "csv"),
        ]
        mirror = [*_segment_options(segment_seconds), ("onfail", "ignore")]
        slaves = "|".join(
            "[f=segment:"
            + ":".join(f"{k}={_tee_escape(v)}" for k, v in options)
            + "]"
            + _tee_escape(path)
            for options, path in ((primary, pattern), (mirror, str(mirror_dir / name)))
        )
        return [*head, *maps, "-f", "tee", slaves]
    options = [
        *_segment_options(segment_seconds),
        ("segment_list", "pipe:1"),
        ("segment_list_type", "csv"),
    ]
    flags = [part for key, value in options for part in (f"-{key}", value)]
    return [*head, *maps, "-f", "segment", *flags, pattern]
