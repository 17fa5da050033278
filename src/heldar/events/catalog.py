"""The event types the kernel itself logs, with what each means (`GET /events/types`).

Workers and apps may log their own types too; the route adds every type found in the log.
"""

from __future__ import annotations

from pydantic import BaseModel

KERNEL_EVENT_TYPES: dict[str, str] = {
    "camera_offline": "A camera's recorder lost its stream (ffmpeg exited); it reconnects.",
    "recording_started": "Media flows into a file again (recording or the pre-roll buffer).",
    "recorder_stalled": "No new segment within the stall limit; ffmpeg was killed and restarts.",
    "recorder_error": "The recorder cannot run for a camera (e.g. ffmpeg cannot start).",
    "recorder_stale_stopped": "A leftover ffmpeg of a previous run was found and stopped.",
    "clock_went_backwards": "The wall clock is behind the newest segment name.",
    "trigger": "An event window opened (API or zone trigger).",
    "recording_gap": "A hole between consecutive recorded segments.",
    "segment_quarantined": "A recording file could not be indexed and was set aside.",
    "index_guard": "The indexer refused an implausible change.",
    "retention_pruned": "Retention deleted old segments.",
    "retention_guard": "Retention refused to delete an implausible share in one pass.",
    "sampler_offline": "An AI frame sampler lost its stream.",
    "sampler_online": "An AI frame sampler decodes frames again.",
    "consumer_failed": "A detection consumer failed on a batch.",
    "zone_enter": "A tracked object entered a zone.",
    "zone_exit": "A tracked object left a zone.",
    "zone_dwell": "A tracked object stayed in a zone past its dwell time.",
    "test": "A webhook test delivery (never stored in the log).",
}


class EventTypeInfo(BaseModel):
    event_type: str
    description: str
    source: str  # kernel | observed


def event_types(observed: list[str]) -> list[EventTypeInfo]:
    """The kernel's types, then any other type found in the log."""
    out = [
        EventTypeInfo(event_type=name, description=text, source="kernel")
        for name, text in KERNEL_EVENT_TYPES.items()
    ]
    out.extend(
        EventTypeInfo(
            event_type=name,
            description="Logged by a worker or an app (not a kernel type).",
            source="observed",
        )
        for name in observed
        if name not in KERNEL_EVENT_TYPES
    )
    return out
