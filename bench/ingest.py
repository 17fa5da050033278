"""Sustained detection ingest through `POST /api/v1/ai/events`: detections/s and latency.

Starts a real kernel (`heldar serve`, SQLite, a temp data dir), creates a camera and an
integration API key, then in one run measures:
  baseline: `GET /healthz` requests/s and p99 with the same concurrency (the HTTP floor of this
            box: uvicorn + a lean keep-alive client, bench/loadclient.py, no work behind it);
  figure:   batches of 50 detections from 16 concurrent clients — one worker per camera, its
            50 tracks walking across the image, each batch a new frame — with no detection
            consumer, and (with --zones) with the zone engine evaluating `--zone-count` zones
            of every camera.
Prints detections/s, request p50/p99, and the share of the HTTP floor the ingest reaches.
Target (issue 6): ≥ 10,000 detections/s with p99 < 250 ms on SQLite, on 2 cores.

    .venv/bin/python bench/ingest.py [--seconds 20] [--clients 16] [--batch 50] [--zones]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import time
from typing import Any

import httpx
from kernel_process import PASSWORD, kernel, pct
from loadclient import Connection

FRAMES = itertools.count()  # frame ids stay unique across the phases of a run
TARGET_DPS = 10_000
TARGET_P99_MS = 250.0


async def setup(base: str, cameras: int, zones: int) -> str:
    """`cameras` cameras (one per client, as with one worker per camera), each with `zones`
    zones, and an integration key; returns the key."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        for c in range(cameras):
            camera = {"id": f"cam{c}", "name": f"cam{c}", "main_stream_url": "rtsp://127.0.0.1:9/x"}
            (await http.post("/api/v1/cameras", json=camera)).raise_for_status()
            for n in range(zones):
                x = 0.05 + 0.9 * n / max(1, zones)
                zone = {
                    "name": f"zone {n}",
                    "kind": "region",
                    "polygon": [[x, 0.1], [x + 0.08, 0.1], [x + 0.08, 0.9], [x, 0.9]],
                }
                (await http.post(f"/api/v1/cameras/cam{c}/zones", json=zone)).raise_for_status()
        key = await http.post("/api/v1/api-keys", json={"name": "bench-worker"})
        key.raise_for_status()
        token: str = key.json()["token"]
        return token


class Walkers:
    """`size` tracked people walking across one camera's image, a small step per frame."""

    def __init__(self, camera: str, size: int, rng: random.Random) -> None:
        self.camera = camera
        self.rng = rng
        self.pos = [[rng.uniform(0, 0.9), rng.uniform(0, 0.8)] for _ in range(size)]
        self.vel = [[rng.uniform(-0.01, 0.01), rng.uniform(-0.005, 0.005)] for _ in range(size)]

    def batch(self, frame: int) -> dict[str, Any]:
        detections = []
        for track, (p, v) in enumerate(zip(self.pos, self.vel, strict=True)):
            for axis, top in ((0, 0.9), (1, 0.8)):
                p[axis] += v[axis]
                if not 0 <= p[axis] <= top:
                    v[axis] = -v[axis]
                    p[axis] = min(max(p[axis], 0.0), top)
            detections.append(
                {
                    "label": "person",
                    "confidence": round(self.rng.uniform(0.5, 1.0), 3),
                    "bbox": [round(p[0], 4), round(p[1], 4), 0.05, 0.15],
                    "track_id": f"t{track}",
                    "attributes": {},
                }
            )
        return {
            "camera_id": self.camera,
            "task_type": "person",
            "frame_id": f"f{frame}",
            "detections": detections,
        }


async def hammer(
    base: str, token: str, seconds: float, clients: int, size: int
) -> tuple[int, list[float], float]:
    """`clients` connections posting batches back to back for `seconds`."""
    latencies: list[float] = []
    headers = {"X-API-Key": token}

    async def client(seed: int) -> None:
        walkers = Walkers(f"cam{seed}", size, random.Random(seed))
        bodies = [json.dumps(walkers.batch(next(FRAMES))).encode() for _ in range(64)]
        connection = await Connection.open(base)
        try:
            n = 0
            while time.perf_counter() < stop:
                if n == len(bodies):  # fresh frame ids, encoded outside the timed request
                    bodies = [json.dumps(walkers.batch(next(FRAMES))).encode() for _ in bodies]
                    n = 0
                started = time.perf_counter()
                status, text = await connection.request(
                    "POST", "/api/v1/ai/events", bodies[n], headers
                )
                if status != 200:
                    raise SystemExit(f"ingest failed: {status} {text[:300]!r}")
                latencies.append((time.perf_counter() - started) * 1000)
                n += 1
        finally:
            await connection.close()

    stop = time.perf_counter() + seconds
    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return len(latencies), latencies, time.perf_counter() - began


async def floor(base: str, seconds: float, clients: int) -> tuple[float, float]:
    """The same client against `GET /healthz`: this box's HTTP ceiling."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        connection = await Connection.open(base)
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                status, _ = await connection.request("GET", "/healthz")
                assert status == 200
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(latencies) / (time.perf_counter() - began), pct(latencies, 0.99)


async def measure(base: str, args: argparse.Namespace, zones: int) -> None:
    token = await setup(base, args.clients, zones)
    await hammer(base, token, 1.0, args.clients, args.batch)  # warm-up
    floor_rps, floor_p99 = await floor(base, min(5.0, args.seconds), args.clients)
    count, latencies, elapsed = await hammer(base, token, args.seconds, args.clients, args.batch)
    rps = count / elapsed
    dps = rps * args.batch
    p99 = pct(latencies, 0.99)
    label = f"{zones} zones" if zones else "no consumer"
    print(f"-- {label}: {args.clients} clients, batches of {args.batch}, {args.seconds:.0f} s")
    print(f"baseline  GET /healthz: {floor_rps:8.0f} req/s, p99 {floor_p99:.1f} ms")
    print(
        f"figure    POST /ai/events: {rps:8.0f} req/s = {dps:8.0f} detections/s, "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms"
    )
    print(f"ratio     ingest req/s / healthz req/s: {rps / floor_rps:.2f}")
    ok = dps >= TARGET_DPS and p99 < TARGET_P99_MS
    verdict = "PASS" if ok else "FAIL"
    print(
        f"{verdict}: {dps:.0f} detections/s (target ≥ {TARGET_DPS}), p99 {p99:.0f} ms "
        f"(target < {TARGET_P99_MS:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--zones", action="store_true", help="also run with the zone consumer")
    parser.add_argument("--zone-count", type=int, default=10)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    env = {"HELDAR_AI_SAMPLING_ENABLED": "false", "HELDAR_RECORDING_ENABLED": "false"}
    with kernel(env) as base:
        asyncio.run(measure(base, args, 0))
    if args.zones:
        with kernel(env) as base:
            asyncio.run(measure(base, args, args.zone_count))


if __name__ == "__main__":
    main()
