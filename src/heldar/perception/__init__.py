"""Perception: frames for AI workers.

The sampler decodes each (camera, stream profile) that has AI tasks in a child process, within a
global frames-per-second budget, and keeps the newest JPEG frames in memory with sequence numbers:
`budget`, `frames`, `decoder` (+ `records`, `pacing`), `process`, `sampler`, `manager`.
See docs/design/sampler.md.
"""
