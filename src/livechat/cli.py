"""The ``livechat`` command: serve, migrate, seed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from livechat import schema
from livechat.app import create_app
from livechat.seed import seed_demo_data
from livechat.settings import ConfigurationError, Settings

# Frames up to this size reach the room socket, which answers oversized ones with an error
# and keeps the connection; only larger ones make the server drop the connection (1009).
WS_MAX_FRAME_BYTES = 1024 * 1024
# A browser whose network vanished without a goodbye is noticed, and leaves the presence
# lists, within two of these.
WS_PING_SECONDS = 5.0


def _settings() -> Settings:
    try:
        return Settings()
    except ConfigurationError as error:
        sys.exit(f"livechat: {error}")


def serve(args: argparse.Namespace) -> None:
    settings = _settings()
    schema.upgrade(settings.database_url)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "proxy_headers": True,
        "ws_max_size": WS_MAX_FRAME_BYTES,
        "ws_ping_interval": WS_PING_SECONDS,
        "ws_ping_timeout": WS_PING_SECONDS,
    }
    if args.workers > 1:
        # Each worker builds its own app; one whose tree gives up ends by SIGTERM, and
        # uvicorn starts another in its place.
        uvicorn.run("livechat.app:create_app", factory=True, workers=args.workers, **options)
        return
    failures: list[BaseException] = []

    def stop(error: BaseException) -> None:
        failures.append(error)
        server.should_exit = True

    server = uvicorn.Server(uvicorn.Config(create_app(settings, on_fatal=stop), **options))
    server.run()
    if failures:
        sys.exit(
            "livechat: the supervision tree gave up (the log above says why);"
            " exiting so that the process manager starts livechat again."
        )


def migrate(_args: argparse.Namespace) -> None:
    schema.upgrade(_settings().database_url)


def seed(_args: argparse.Namespace) -> None:
    settings = _settings()
    schema.upgrade(settings.database_url)
    print(asyncio.run(seed_demo_data(settings)))


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="livechat", description="A real-time chat server.")
    commands = parser.add_subparsers(required=True, metavar="command")

    serve_parser = commands.add_parser("serve", help="apply migrations, then serve")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes; keep 1 until the hub has a shared backend",
    )
    serve_parser.set_defaults(run=serve)

    commands.add_parser("migrate", help="apply pending migrations").set_defaults(run=migrate)
    commands.add_parser("seed", help="add demo users, rooms and messages").set_defaults(run=seed)

    args = parser.parse_args(argv)
    args.run(args)
