"""Zones: regions, presence areas and lines that turn tracked detections into events.

`models` validates what clients send, `geometry` holds the exact point-in-polygon and
line-crossing tests and the shape checks, `engine` is the per-(camera, zone, track) state machine
and `kernel` its compiled batch step (`docs/design/zones.md`). All are pure: no store, no clock,
no I/O. `service` wires them to the store, the API and the detection hub.
"""
