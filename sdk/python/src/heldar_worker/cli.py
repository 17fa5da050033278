"""`heldar-worker`: run an analyzer against a kernel from the command line.

The API key comes from a file (`--api-key-file`) or `HELDAR_API_KEY`, never from an argument,
where every user of the machine could read it in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from heldar_worker._version import __version__
from heldar_worker.analyzer import Analyzer, AnalyzerUnavailable
from heldar_worker.analyzers import BUILTIN, load
from heldar_worker.client import HeldarClient
from heldar_worker.errors import AuthError
from heldar_worker.frames import DecoderUnavailable, jpeg_decoder
from heldar_worker.runner import Runner

log = logging.getLogger("heldar_worker")

EXIT_USAGE = 2
EXIT_AUTH = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heldar-worker", description="Heldar AI worker: lease tasks, analyze frames, post."
    )
    parser.add_argument("--version", action="version", version=f"heldar-worker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run an analyzer until SIGTERM/SIGINT")
    run.add_argument(
        "--analyzer",
        required=True,
        help=f"{' | '.join(sorted(BUILTIN))} | package.module:ClassName",
    )
    run.add_argument(
        "--url",
        default=os.environ.get("HELDAR_URL"),
        help="the kernel's base URL, e.g. http://127.0.0.1:8000 (env HELDAR_URL)",
    )
    run.add_argument(
        "--api-key-file", type=Path, help="file holding the API key (else env HELDAR_API_KEY)"
    )
    run.add_argument(
        "--worker-id",
        default=_default_worker_id(),
        help="stable name of this worker (default host:pid)",
    )
    run.add_argument("--task-type", help="lease this task type instead of the analyzer's own")
    run.add_argument("--max-tasks", type=int, help="lease at most this many tasks")
    run.add_argument("--ttl", type=int, default=30, help="lease TTL in seconds (default 30)")
    run.add_argument(
        "--wait-ms", type=int, default=5000, help="long-poll for a new frame (default 5000)"
    )
    run.add_argument("--max-frame-age-ms", type=float, help="skip frames older than this")
    run.add_argument(
        "--post-empty", action="store_true", help="post a batch for frames with no detection"
    )
    run.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    return parser


def _default_worker_id() -> str:
    """`<short host name>:<pid>`, cut to the kernel's worker-id alphabet and length."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])[:40].strip("-.")
    return f"{host or 'worker'}:{os.getpid()}"


def _api_key(path: Path | None) -> str | None:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(
                f"heldar-worker: cannot read the API key file: {exc.strerror}"
            ) from exc
    return os.environ.get("HELDAR_API_KEY") or None


def _analyzer(spec: str) -> type[Analyzer]:
    """The analyzer class, tried once so a missing dependency stops us before any lease."""
    try:
        cls = load(spec)
        cls()
        if spec in BUILTIN:
            jpeg_decoder()
    except (ValueError, TypeError, ImportError, AnalyzerUnavailable, DecoderUnavailable) as exc:
        raise SystemExit(f"heldar-worker: {exc}") from exc
    return cls


async def _run(args: argparse.Namespace, analyzer: type[Analyzer], api_key: str | None) -> int:
    async with HeldarClient(args.url, api_key, timeout=args.timeout) as client:
        runner = Runner(
            client,
            analyzer,
            args.worker_id,
            task_type=args.task_type,
            max_tasks=args.max_tasks,
            ttl_secs=args.ttl,
            wait_ms=args.wait_ms,
            max_frame_age_ms=args.max_frame_age_ms,
            post_empty=args.post_empty,
        )
        log.info(
            "worker %s: %s analyzer on %r tasks at %s",
            args.worker_id,
            analyzer.name,
            runner.task_type,
            client.base_url,
        )
        try:
            stats = await runner.run(handle_signals=True)
        except AuthError:
            return EXIT_AUTH  # the runner has logged why
    log.info("stopped: %s", stats)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    if not args.url:
        print("heldar-worker: --url (or HELDAR_URL) is required", file=sys.stderr)
        return EXIT_USAGE
    api_key = _api_key(args.api_key_file)
    if api_key is None:
        log.warning("no API key: only a kernel with auth turned off will answer")
    analyzer = _analyzer(args.analyzer)
    try:
        return asyncio.run(_run(args, analyzer, api_key))
    except ValueError as exc:  # a malformed --url or key, caught by HeldarClient
        print(f"heldar-worker: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
