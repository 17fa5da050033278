"""The `heldar` command: serve, migrate, simcam.

Flags override `HELDAR_*` variables, which override defaults (pydantic-settings). Every
sub-command exits non-zero with a one-line reason on a configuration error, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from heldar import __version__
from heldar.errors import HeldarError
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
    import uvicorn

    from heldar.api.app import create_app

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
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


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
