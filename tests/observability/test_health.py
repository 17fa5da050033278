"""Health judged by progress (pure): stale after max(3 × segment, 30 s), and the readiness quorum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from heldar.cameras.models import CameraRecord
from heldar.observability.health import judge, quorum, stale_after_s
from heldar.recording.models import CameraStatus

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _record(segment_seconds: int = 10, **changes: object) -> CameraRecord:
    values: dict[str, object] = {
        "id": "gate",
        "name": "Gate",
        "vendor": "generic",
        "address": None,
        "rtsp_port": 554,
        "username": None,
        "password_enc": None,
        "main_stream_url": "rtsp://10.0.0.5/main",
        "sub_stream_url": None,
        "record_stream": "main",
        "record_enabled": True,
        "enabled": True,
        "record_mode": "continuous",
        "segment_seconds": segment_seconds,
        "retention_hours": 24,
        "pre_roll_seconds": 0,
        "post_roll_seconds": 10,
        "record_audio": False,
        "mirror_enabled": False,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return CameraRecord.model_validate(values)


@given(st.integers(2, 3600), st.floats(0, 20_000, allow_nan=False))
def test_recording_is_stale_exactly_past_the_limit(segment_seconds: int, age_s: float) -> None:
    status = CameraStatus(state="recording", last_segment_at=NOW - timedelta(seconds=age_s))
    health = judge(_record(segment_seconds), status, NOW, recording_since=None)
    limit = max(3 * segment_seconds, 30)
    assert health.stale_after_s == limit == stale_after_s(segment_seconds)
    assert health.stale == (age_s > limit)
    assert health.state == ("error" if age_s > limit else "recording")
    assert health.online == (not health.stale)
    if health.stale:
        assert health.last_error is not None and "no new segment" in health.last_error


def test_a_fresh_run_without_a_segment_counts_from_when_it_started_recording() -> None:
    status = CameraStatus(state="recording", last_segment_at=NOW - timedelta(hours=5))
    fresh = judge(_record(), status, NOW, recording_since=NOW - timedelta(seconds=5))
    assert not fresh.stale and fresh.online
    old = judge(_record(), status, NOW, recording_since=NOW - timedelta(seconds=45))
    assert old.stale and old.state == "error"


def test_only_recording_states_can_be_stale_and_errors_are_redacted() -> None:
    status = CameraStatus(
        state="offline",
        last_error="cannot open rtsp://admin:hunter22@10.0.0.5/main",
        last_segment_at=NOW - timedelta(days=3),
    )
    health = judge(_record(), status, NOW, recording_since=None)
    assert (health.state, health.stale, health.online) == ("offline", False, False)
    assert health.last_error == "cannot open rtsp://***@10.0.0.5/main"
    assert health.last_segment_age_s == 3 * 86400


def test_who_is_expected_to_record() -> None:
    offline = CameraStatus(state="offline")
    assert judge(_record(), offline, NOW, None).expected_to_record
    assert not judge(_record(enabled=False), offline, NOW, None).expected_to_record
    assert not judge(_record(record_enabled=False), offline, NOW, None).expected_to_record
    idle = CameraStatus(state="idle")
    assert not judge(_record(record_mode="scheduled"), idle, NOW, None).expected_to_record
    assert judge(_record(record_mode="event"), offline, NOW, None).expected_to_record


def test_quorum() -> None:
    up = judge(_record(), CameraStatus(state="recording", last_segment_at=NOW), NOW, None)
    down = judge(_record(), CameraStatus(state="offline"), NOW, None)
    off = judge(_record(enabled=False), CameraStatus(state="disabled"), NOW, None)
    assert quorum([up, down, off], None).ready
    half = quorum([up, down, off], 100)
    assert (half.ready, half.recording_pct, half.required_pct) == (False, 50.0, 100)
    assert half.reason is not None
    assert quorum([up, down], 50).ready
    assert quorum([off], 100).ready  # nobody is expected to record: vacuously ready
