"""The `heldar` command: serve, migrate, check, user, simcam.

Flags override `HELDAR_*` variables, which override defaults (pydantic-settings). Every
sub-command exits non-zero with a one-line reason on a configuration error, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from heldar import __version__
from heldar.errors import ConfigurationError, HeldarError
from heldar.logs import configure_logging
from heldar.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for flag, field in (("host", "api_host"), ("port", "api_port"), ("data_dir", "data_dir")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    return Settings(**overrides)


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from heldar.api.app import create_app
    from heldar.live.tokens import TokenQueryFilter

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, demo=args.demo)
    store = "sqlite" if settings.database_url is None else settings.store_url.split(":", 1)[0]
    print(
        f"Heldar {__version__}: API on http://{settings.api_host}:{settings.api_port} "
        f"(OpenAPI at /openapi.json); data in {settings.data_dir} (store: {store})",
        flush=True,
    )
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        server_header=False,
        # Deflate would compress every H.264 live fragment: ~17x the CPU for ~nothing (issue 9).
        ws_per_message_deflate=False,
    )
    # uvicorn logs every WebSocket's path with its query string: mask live tokens there.
    logging.getLogger("uvicorn.error").addFilter(TokenQueryFilter())
    server = uvicorn.Server(config)
    _tune_gc()
    server.run()
    return 0 if server.started else 1


GC_GEN0_THRESHOLD = 50_000


def _tune_gc() -> None:
    """Keep CPython's cyclic collector off the hot paths of a long-running server.

    Every ingest request allocates thousands of short-lived objects (parsed detections, rows,
    events); with the default generation-0 threshold (700) the collector ran every few requests
    and took about a fifth of the kernel's CPU under bench/ingest.py. Objects alive at start-up
    (modules, the app) are frozen out of collection, and generation 0 is collected every 50,000
    allocations instead: ~25 % more ingest throughput with the zone engine on, at the cost of
    a few MB more transient garbage."""
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def _cmd_migrate(args: argparse.Namespace) -> int:
    from heldar.app import prepare_data_dir
    from heldar.store.engine import Store

    settings = _settings(args)
    configure_logging(settings.log_level, settings.log_format)

    async def migrate() -> str:
        prepare_data_dir(settings)
        store = Store(settings.store_url)
        try:
            return await store.migrate()
        finally:
            await store.close()

    revision = asyncio.run(migrate())
    print(f"store is at revision {revision}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from heldar.check import repair, run_checks

    settings = _settings(args)
    configure_logging("warning", settings.log_format)
    if args.repair:
        print(f"repair: {asyncio.run(repair(settings))}")
    results = asyncio.run(run_checks(settings))
    for result in results:
        print(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.summary}")
        for problem in result.problems[:20]:
            print(f"     - {problem}")
        if len(result.problems) > 20:
            print(f"     … and {len(result.problems) - 20} more")
    failed = [r.name for r in results if not r.ok]
    print(f"heldar check: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _read_password(args: argparse.Namespace) -> str:
    """A new password from stdin (`--password-stdin` or a pipe) or typed twice at a prompt."""
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ConfigurationError("the passwords do not match")
    return first


def _cmd_user(args: argparse.Namespace) -> int:
    from heldar.auth import admin
    from heldar.auth.rbac import Role

    settings = _settings(args)
    configure_logging("warning", settings.log_format)
    try:
        if args.action == "list":
            users = asyncio.run(admin.list_users(settings))
            print(f"{'id':>4}  {'username':<24} {'role':<12} {'state':<8} cameras")
            for user in users:
                state = "locked" if user.locked_until else "enabled" if user.enabled else "disabled"
                scope = ",".join(user.camera_ids) if user.camera_ids is not None else "*"
                print(f"{user.id:>4}  {user.username:<24} {user.role:<12} {state:<8} {scope}")
            return 0
        if args.action == "add":
            password = _read_password(args)
            user = asyncio.run(
                admin.add_user(settings, args.name, password, Role(args.role), args.camera)
            )
            print(f"user {user.username!r} added (id {user.id}, role {user.role})")
        elif args.action == "passwd":
            user = asyncio.run(admin.set_password(settings, args.name, _read_password(args)))
            print(f"password of {user.username!r} changed; its sessions ended")
        elif args.action in ("disable", "enable"):
            enabled = args.action == "enable"
            user = asyncio.run(admin.set_enabled(settings, args.name, enabled))
            print(f"user {user.username!r} {args.action}d")
        elif args.action == "unlock":
            user = asyncio.run(admin.unlock(settings, args.name))
            print(f"user {user.username!r} unlocked")
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        print(f"heldar user: {reasons}", file=sys.stderr)
        return 2
    return 0


def _cmd_simcam(args: argparse.Namespace) -> int:
    from heldar.ffmpeg.binary import find_ffmpeg
    from heldar.simcam.server import serve_simcam

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    configure_logging(settings.log_level, settings.log_format)
    if (args.user is None) != (args.password is None):
        print("heldar simcam: give both --user and --password, or neither", file=sys.stderr)
        return 2
    find_ffmpeg(settings.ffmpeg_bin)  # fail early with a clear message
    return _run_until_signal(
        serve_simcam(
            cache_dir=settings.path("simcam"),
            port=args.port,
            streams=args.streams,
            height=args.height,
            fps=args.fps,
            username=args.user,
            password=args.password,
        )
    )


def _run_until_signal(coro: Coroutine[Any, Any, None]) -> int:
    """Run `coro` until it ends or SIGINT/SIGTERM arrives; cancellation runs its cleanup."""

    async def main() -> None:
        task = asyncio.ensure_future(coro)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heldar",
        description="Heldar open video kernel. Settings also come from HELDAR_* variables.",
    )
    parser.add_argument("--version", action="version", version=f"heldar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the kernel (API and all services)")
    serve.add_argument("--host", help="bind address (HELDAR_API_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="bind port (HELDAR_API_PORT, default 8000)")
    serve.add_argument(
        "--data-dir", type=Path, help="data directory (HELDAR_DATA_DIR, default ./data)"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also serve a simulated camera and register it as 'demo'",
    )
    serve.set_defaults(func=_cmd_serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the store schema, then exit")
    migrate.add_argument("--data-dir", type=Path, help="data directory (HELDAR_DATA_DIR)")
    migrate.set_defaults(func=_cmd_migrate)

    check = sub.add_parser(
        "check", help="verify the store's invariants (audit hash chain, …); non-zero on violation"
    )
    check.add_argument("--data-dir", type=Path, help="data directory (HELDAR_DATA_DIR)")
    check.add_argument(
        "--repair",
        action="store_true",
        help="first reconcile disk and index (index strays, quarantine unreadable files, "
        "drop rows without files); refused while a kernel records here",
    )
    check.set_defaults(func=_cmd_check)

    user = sub.add_parser("user", help="manage users without a running kernel")
    user.add_argument("--data-dir", type=Path, help="data directory (HELDAR_DATA_DIR)")
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user (password from a prompt or stdin)")
    add.add_argument("name")
    add.add_argument(
        "--role",
        default="viewer",
        choices=["admin", "manager", "guard", "viewer", "integration"],
        help="role (default viewer)",
    )
    add.add_argument(
        "--camera", action="append", metavar="ID", help="limit to this camera (repeatable)"
    )
    passwd = actions.add_parser("passwd", help="set a user's password; ends its sessions")
    passwd.add_argument("name")
    for sub_parser in (add, passwd):
        sub_parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    actions.add_parser("list", help="list users")
    for action, text in (
        ("disable", "disable a user; ends its sessions"),
        ("enable", "enable a user again"),
        ("unlock", "end a lock set by failed logins"),
    ):
        actions.add_parser(action, help=text).add_argument("name")
    user.set_defaults(func=_cmd_user)

    simcam = sub.add_parser("simcam", help="serve simulated RTSP cameras (H.264 test pattern)")
    simcam.add_argument("--port", type=int, default=8554, help="RTSP port (default 8554)")
    simcam.add_argument(
        "--streams",
        type=int,
        default=1,
        choices=range(1, 65),
        metavar="N",
        help="serve /cam1 … /camN (1..64, default 1)",
    )
    simcam.add_argument(
        "--height",
        type=int,
        default=720,
        choices=(360, 720, 1080),
        help="picture height (default 720)",
    )
    simcam.add_argument(
        "--fps",
        type=int,
        default=15,
        choices=range(1, 61),
        metavar="FPS",
        help="frame rate (default 15)",
    )
    simcam.add_argument("--user", help="require this user name (Basic and Digest auth)")
    simcam.add_argument("--password", help="password for --user")
    simcam.add_argument("--data-dir", type=Path, help="where the generated clip is cached")
    simcam.set_defaults(func=_cmd_simcam)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ValidationError as exc:
        fields = ", ".join(
            ".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors()
        )
        print(f"heldar: invalid setting: {fields}", file=sys.stderr)
        return 2
    except HeldarError as exc:
        print(f"heldar: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
