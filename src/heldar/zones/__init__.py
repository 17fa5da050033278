"""Zones: regions, presence areas and lines that turn tracked detections into events.

`models` validates what clients send, `geometry` answers point-in-polygon and line-crossing
questions for many anchors at once, and `engine` is the per-(camera, zone, track) state machine
(`docs/design/zones.md`). All three are pure: no store, no clock, no I/O.
"""
