"""Evidence locks and incidents on both store backends: lock, unlock, label, list, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from heldar.errors import NotFound
from heldar.recording.evidence import Evidence
from heldar.store import segments as segment_sql
from heldar.store.engine import Store
from tests.support.recordings import T0


async def _segment(store: Store, camera_id: str, minute: int, *, deleting: bool = False) -> int:
    start = T0 + timedelta(minutes=minute)
    async with store.write() as conn:
        row_id = await segment_sql.insert_segment(
            conn,
            {
                "camera_id": camera_id,
                "path": f"recordings/{camera_id}/{start:%Y%m%d_%H%M%S}.mp4",
                "start_time": start,
                "end_time": start + timedelta(seconds=60),
                "duration_s": 60.0,
                "codec": "h264",
                "width": 320,
                "height": 180,
                "size_bytes": 1000,
                "locked": False,
                "incident_id": None,
                "deleting": deleting,
                "created_at": start,
            },
        )
    assert row_id is not None
    return row_id


async def test_lock_unlock_and_label(store: Store) -> None:
    evidence = Evidence(store)
    first = await _segment(store, "cam", 0)
    row = await evidence.lock(first)
    assert (row.locked, row.incident_id) == (True, None)
    row = await evidence.lock(first, "inc-7")
    assert (row.locked, row.incident_id) == (True, "inc-7")
    row = await evidence.lock(first)  # locking again keeps the label
    assert row.incident_id == "inc-7"
    row = await evidence.unlock(first)
    assert (row.locked, row.incident_id) == (False, "inc-7")  # the label stays
    row = await evidence.set_incident(first, None)
    assert (row.locked, row.incident_id) == (False, None)
    assert (await evidence.segment(first)).id == first


async def test_missing_and_departing_segments_are_not_found(store: Store) -> None:
    evidence = Evidence(store)
    going = await _segment(store, "cam", 0, deleting=True)
    for call in (
        evidence.segment(going),
        evidence.lock(going),
        evidence.unlock(going),
        evidence.set_incident(going, "x"),
        evidence.lock(999_999),
    ):
        with pytest.raises(NotFound) as missing:
            await call
        assert missing.value.code == "segment_not_found"


async def test_incidents_are_listed_per_scope(store: Store) -> None:
    evidence = Evidence(store)
    a1, a2, b1, b2, c1 = (
        await _segment(store, "a", 0),
        await _segment(store, "a", 1),
        await _segment(store, "b", 5),
        await _segment(store, "b", 6),
        await _segment(store, "c", 9),
    )
    await evidence.lock(a1, "inc-1")
    await evidence.set_incident(a2, "inc-1")
    await evidence.lock(b2, "inc-1")
    await evidence.set_incident(b1, "inc-2")
    await evidence.lock(c1)  # locked, no incident
    going = await _segment(store, "a", 20, deleting=True)
    assert going  # a row being deleted is never listed
    incidents = await evidence.incidents()
    assert [i.incident_id for i in incidents] == ["inc-1", "inc-2"]  # latest end first
    inc1 = incidents[0]
    assert inc1.segment_count == 3
    assert inc1.camera_ids == ["a", "b"]
    assert inc1.locked_count == 2
    assert inc1.first_start == T0
    assert inc1.last_end == T0 + timedelta(minutes=7)
    scoped = await evidence.incidents(camera_scope={"a"})
    assert [(i.incident_id, i.segment_count, i.camera_ids) for i in scoped] == [("inc-1", 2, ["a"])]
    assert await evidence.incidents(camera_scope=set()) == []
    assert len(await evidence.incidents(limit=1)) == 1
    segments = await evidence.incident_segments("inc-1")
    assert [s.id for s in segments] == [a1, a2, b2]
    assert segments[0].url == "/media/recordings/a/20261125_120000.mp4"
    assert [s.id for s in await evidence.incident_segments("inc-1", camera_scope={"b"})] == [b2]
    for incident, scope in (("inc-2", {"a"}), ("nope", None)):
        with pytest.raises(NotFound) as missing:
            await evidence.incident_segments(incident, camera_scope=scope)
        assert missing.value.code == "incident_not_found"
