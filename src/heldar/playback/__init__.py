"""Playback: HLS playlists over the recorded fMP4 files, clip export, snapshots.

Media only — no HTTP and no store: callers pass the segments (`SegmentRef`) the index holds and
the URIs or paths they own. See docs/design/playback.md.
"""
