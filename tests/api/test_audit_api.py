"""`GET /audit`: who did what, filtered and paged; camera changes and refusals are in it."""

from __future__ import annotations

import itertools
from datetime import timedelta

import httpx
import pytest

from tests.conftest import ClientAs
from tests.support.auth import ADMIN_USER
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_camera_changes_are_audited_with_actor_and_camera(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "gate", "name": "Gate", "main_stream_url": "rtsp://u:SeCr3t@10.0.0.1/a"}
    assert (await client.post("/api/v1/cameras", json=body)).status_code == 201
    assert (
        await client.patch("/api/v1/cameras/gate", json={"password": "An0ther"})
    ).status_code == 200
    assert (await client.delete("/api/v1/cameras/gate")).status_code == 204
    entries = (await client.get("/api/v1/audit", params={"actor": ADMIN_USER})).json()
    camera = [e for e in entries if e["action"].startswith("camera.")]
    assert [e["action"] for e in camera] == ["camera.delete", "camera.update", "camera.create"]
    assert {e["camera_id"] for e in camera} == {"gate"}
    assert {e["client_addr"] for e in camera} == {"127.0.0.1"}
    assert '"changed":["password"]' in camera[1]["detail"]
    text = (await client.get("/api/v1/audit")).text
    assert "SeCr3t" not in text and "An0ther" not in text


async def test_filters_time_window_and_paging(
    client: httpx.AsyncClient, client_as: ClientAs, clock: FakeClock
) -> None:
    start = clock.now()
    viewer = await client_as("viewer")
    for _ in range(3):
        clock.advance(60)
        assert (await viewer.delete("/api/v1/cameras/x")).status_code == 403
    everything = (await client.get("/api/v1/audit", params={"limit": 1000})).json()
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True)
    denied = (await client.get("/api/v1/audit", params={"action": "auth.forbidden"})).json()
    assert len(denied) == 3
    assert all(e["actor"].startswith("viewer-") and e["outcome"] == "denied" for e in denied)
    window = {
        "from": (start + timedelta(seconds=90)).isoformat(),
        "to": (start + timedelta(seconds=150)).isoformat(),
        "action": "auth.forbidden",
    }
    assert len((await client.get("/api/v1/audit", params=window)).json()) == 1
    first = (await client.get("/api/v1/audit", params={"limit": 2})).json()
    more = (
        await client.get("/api/v1/audit", params={"limit": 2, "before": first[-1]["seq"]})
    ).json()
    assert [e["seq"] for e in first + more] == seqs[:4]
    for bad in (
        {"limit": 0},
        {"limit": 1001},
        {"from": "yesterday"},
        {"from": "2026-01-01T00:00:00"},
    ):
        assert (await client.get("/api/v1/audit", params=bad)).status_code == 422, bad


async def test_entries_chain_to_each_other(client: httpx.AsyncClient) -> None:
    entries = list(reversed((await client.get("/api/v1/audit")).json()))
    assert entries[0]["prev_hash"] == "0" * 64
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
        assert after["seq"] == before["seq"] + 1
