"""Fixtures of the API tests that need recorded footage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from heldar.app import Kernel
from tests.support.recordings import T0, Run, record_run

AddFootage = Callable[..., Awaitable[list[Run]]]


@pytest.fixture
def add_footage(app: FastAPI, client: httpx.AsyncClient) -> AddFootage:
    """`await add_footage(3, (20, 2))`: camera `cam` with real indexed segment runs from T0, each
    run a count of 2 s segments or a (seconds of gap before it, count) pair."""

    async def add(*plan: int | tuple[float, int]) -> list[Run]:
        created = await client.post(
            "/api/v1/cameras",
            json={"id": "cam", "name": "cam", "main_stream_url": "rtsp://127.0.0.1:9/x"},
        )
        assert created.status_code == 201
        kernel: Kernel = app.state.kernel
        directory = kernel.settings.data_dir / "recordings" / "cam"
        runs: list[Run] = []
        for step in plan:
            gap, count = step if isinstance(step, tuple) else (0.0, step)
            start = runs[-1].end + timedelta(seconds=gap) if runs else T0
            runs.append(record_run(directory, start=start, count=count))
        indexed = await kernel.indexer.scan(include_newest=True)
        assert indexed == sum(len(r.segments) for r in runs)
        return runs

    return add
