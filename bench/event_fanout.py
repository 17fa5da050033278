"""Event fan-out from logging to delivery: 1,000 SSE subscribers and 10 webhook targets on loopback.

A kernel runs in a child process (this script with --child: the real app under uvicorn, SQLite,
auth off on 127.0.0.1, webhooks to 127.0.0.1 allowlisted) and logs events through `EventLog` on
command, each carrying its wall-clock logging time. This process holds the subscribers (raw
asyncio HTTP/1.1 connections to `/api/v1/events/stream`) and 10 webhook receivers, and measures:
  baseline: the same events logged with nobody listening (no subscriber, no webhook): events/s;
  figure:   the events logged while 1,000 streams and 10 webhooks listen: events/s until the last
            copy is delivered everywhere, and p50/p99 end-to-end latency (logged → received) for
            SSE and for webhooks, plus the share of the baseline logging rate that remains.

    .venv/bin/python bench/event_fanout.py [--events 1000] [--subscribers 1000] [--webhooks 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


# -- the child: a kernel that logs events on command --------------------------------------------


async def child(port: int, data_dir: str) -> None:
    import uvicorn

    from heldar.api.app import create_app
    from heldar.settings import Settings

    settings = Settings(
        data_dir=Path(data_dir),
        api_host="127.0.0.1",
        api_port=port,
        auth_enabled=False,
        recording_enabled=False,
        ai_sampling_enabled=False,
        min_free_disk_gb=0,
        log_level="warning",
        webhook_allow_private=["127.0.0.1/32"],
        bootstrap_admin_password="bench-Passw0rd-123",
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        count, phase = int(line[1]), line[2]
        events = app.state.kernel.events
        started = time.perf_counter()
        for n in range(count):
            await events.append(
                "bench", camera_id="cam", payload={"t": time.time(), "phase": phase, "n": n}
            )
        print(f"DONE {time.perf_counter() - started:.6f}", flush=True)
    server.should_exit = True
    await serving


# -- the parent: subscribers, receivers, numbers -------------------------------------------------


@dataclass
class Sink:
    """Latencies and arrival times of one kind of delivery (SSE or webhook), per phase."""

    latencies: list[float] = field(default_factory=list)
    last_arrival: float = 0.0
    count: int = 0

    def got(self, sent_at: float) -> None:
        now = time.time()
        self.latencies.append(now - sent_at)
        self.last_arrival = now
        self.count += 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def subscriber(port: int, sink: Sink, connected: asyncio.Event, counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(
        b"GET /api/v1/events/stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"
    )
    await writer.drain()
    while (line := await reader.readline()) not in (b"\r\n", b""):
        pass
    counter[0] += 1
    connected.set()
    try:
        while line := await reader.readline():
            if line.startswith(b"data: "):
                sink.got(json.loads(line[6:])["payload"]["t"])
    except asyncio.CancelledError:
        pass  # the run is over
    finally:
        writer.close()


async def receiver_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sink: Sink
) -> None:
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        while await reader.readline():
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            sink.got(json.loads(body)["payload"]["t"])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    writer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Kernel:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def command(self, text: str) -> str:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    async def log(self, count: int, phase: str) -> float:
        answer = await asyncio.to_thread(self.command, f"log {count} {phase}")
        return float(answer.split()[1])


async def run(kernel: Kernel, port: int, args: argparse.Namespace) -> None:
    assert kernel.proc.stdout is not None
    ready = await asyncio.to_thread(kernel.proc.stdout.readline)
    if ready.strip() != "READY":
        raise SystemExit("the kernel did not start")
    await measure(kernel, port, args)


async def measure(kernel: Kernel, port: int, args: argparse.Namespace) -> None:
    n = args.events
    await kernel.log(50, "warmup")
    baseline_s = await kernel.log(n, "baseline")
    baseline_rate = n / baseline_s

    hooks = Sink()
    servers = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for i in range(args.webhooks):
            server = await asyncio.start_server(
                lambda r, w: receiver_connection(r, w, hooks), "127.0.0.1", 0
            )
            servers.append(server)
            target = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
            created = await http.post("/api/v1/webhooks", json={"name": f"t{i}", "url": target})
            created.raise_for_status()
    streams = Sink()
    connected, counter = asyncio.Event(), [0]
    tasks = []
    for _ in range(args.subscribers):
        tasks.append(asyncio.create_task(subscriber(port, streams, connected, counter)))
        if len(tasks) % 100 == 0:
            await asyncio.sleep(0.05)  # let the kernel accept in waves
    deadline = time.monotonic() + 60
    while counter[0] < args.subscribers and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if counter[0] < args.subscribers:
        raise SystemExit(f"only {counter[0]} of {args.subscribers} streams connected")

    started = time.time()
    logging_s = await kernel.log(n, "fanout")
    want_sse, want_hooks = n * args.subscribers, n * args.webhooks
    deadline = time.monotonic() + 300
    while streams.count < want_sse or hooks.count < want_hooks:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for server in servers:
        server.close()

    sse_s = streams.last_arrival - started
    hook_s = hooks.last_arrival - started
    print(f"events: {n}; subscribers: {args.subscribers}; webhook targets: {args.webhooks}")
    print(f"baseline  logging, nobody listening:  {baseline_rate:8.0f} events/s")
    print(
        f"figure    logging with fan-out:       {n / logging_s:8.0f} events/s "
        f"(ratio {n / logging_s / baseline_rate:.2f} of baseline)"
    )
    print(
        f"          SSE: {streams.count}/{want_sse} copies, {n / sse_s:8.0f} events/s to all "
        f"{args.subscribers} subscribers; latency p50 {pct(streams.latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(streams.latencies, 0.99) * 1000:.1f} ms"
    )
    print(
        f"          webhooks: {hooks.count}/{want_hooks} deliveries, {n / hook_s:8.0f} events/s to "
        f"all {args.webhooks} targets; latency p50 {pct(hooks.latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(hooks.latencies, 0.99) * 1000:.1f} ms"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(int(sys.argv[2]), sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=10)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="heldar-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELDAR_")}
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(port), str(Path(tmp) / "data")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        kernel = Kernel(proc)
        try:
            asyncio.run(run(kernel, port, args))
        finally:
            with contextlib.suppress(BrokenPipeError):
                kernel.command("quit")
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
