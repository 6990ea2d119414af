"""The ``livechat`` command: serve, migrate, seed, and the site's admins and bots.

An operator's mistake (a bad setting, a database or folder that cannot be used, a flag
that would split the chat, an email no one signed up with) ends the command with one line
on stderr naming it, and exit status 2; a server whose supervision tree gives up ends with
status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import logging.config
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from typing import Any, TypeVar

import uvicorn
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from livechat import preflight, schema
from livechat.accounts import admins, tokens
from livechat.app import create_app
from livechat.db import Database
from livechat.errors import LivechatError
from livechat.logs import log_config
from livechat.seed import seed_demo_data
from livechat.settings import ConfigurationError, Environment, Settings

log = logging.getLogger("livechat")

# Frames up to this size reach the room socket, which answers oversized ones with an error
# and keeps the connection; only larger ones make the server drop the connection (1009).
WS_MAX_FRAME_BYTES = 1024 * 1024
# A browser whose network vanished without a goodbye is noticed, and leaves the presence
# lists, within the sum of these two. The wait for a pong is long because a server busy
# with a reconnect storm reads pongs late: at 5 s, 2,000 pages reconnecting at once lost
# about a hundred of them to the keepalive, at 20 s none.
WS_PING_INTERVAL_SECONDS = 10.0
WS_PONG_TIMEOUT_SECONDS = 20.0
# argparse's own status for a usage error: the command was wrong, not the server.
USAGE_ERROR = 2

T = TypeVar("T")


def _migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; say what was applied, and where the database now is."""
    preflight.check_database(settings.database_url)
    try:
        applied = schema.upgrade(settings.database_url)
    except (CommandError, RevisionError) as error:
        raise ConfigurationError(
            f"cannot migrate the database (LIVECHAT_DATABASE_URL): {error};"
            " was it migrated by a newer livechat?"
        ) from None
    where = schema.current_revision(settings.database_url)
    if not applied:
        return [f"The database is up to date (revision {where})."]
    return [f"Applied {migration}" for migration in applied] + [
        f"The database is now at revision {where}."
    ]


def server_config(app: ASGIApp | str, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """How uvicorn serves livechat, ``livechat serve`` and the tests' live server alike;
    ``options`` override it."""
    ours: dict[str, Any] = {
        "proxy_headers": True,
        "ws_max_size": WS_MAX_FRAME_BYTES,
        "ws_ping_interval": WS_PING_INTERVAL_SECONDS,
        "ws_ping_timeout": WS_PONG_TIMEOUT_SECONDS,
        # Compression is per socket: a broadcast to a room of 500 would be deflated 500
        # times, to save a few hundred bytes of a fragment each, and it could no longer be
        # encoded once for them all. Phoenix leaves it off too.
        "ws_per_message_deflate": False,
    }
    return uvicorn.Config(app, host=host, port=port, **(ours | options))


def serve(args: argparse.Namespace, settings: Settings) -> None:
    if args.workers > 1 and not settings.redis_url:
        raise ConfigurationError(
            "--workers above 1 needs LIVECHAT_REDIS_URL: without Redis, each worker would"
            " have a hub, presence and rate limiter of its own, and split the chat; set it,"
            " or run one worker"
        )
    preflight.check_uploads_dir(settings.uploads_dir)
    preflight.check_redis(settings.redis_url)
    for line in _migrate(settings):
        log.info("%s", line)
    if args.workers > 1:
        _serve_workers(args, settings)
        return
    failures: list[BaseException] = []

    def stop(error: BaseException) -> None:
        failures.append(error)
        server.should_exit = True

    config = server_config(
        create_app(settings, on_fatal=stop),
        host=args.host,
        port=args.port,
        log_config=None,  # main() has set up logging for uvicorn's loggers too
    )
    server = uvicorn.Server(config)
    _freeze_what_lives_forever()
    server.run()
    if failures:
        sys.exit(
            "livechat: the supervision tree gave up (the log above says why);"
            " exiting so that the process manager starts livechat again."
        )


def _serve_workers(args: argparse.Namespace, settings: Settings) -> None:
    """Serve from ``args.workers`` processes on one listening socket, which uvicorn starts
    again when one ends (its supervision tree gave up, or it was killed)."""
    config = server_config(
        f"{__name__}:worker_app",
        host=args.host,
        port=args.port,
        factory=True,
        workers=args.workers,
        # Each worker is a new interpreter: it sets up logging from this.
        log_config=log_config(settings.log_format),
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def worker_app() -> ASGIApp:
    """The application of one worker of ``serve --workers N``: it reads the settings from
    the environment it inherits, checked already, and the database is migrated."""
    app = create_app(preflight.settings_from_environment())
    _freeze_what_lives_forever()
    return app


def _freeze_what_lives_forever() -> None:
    # All that is built by now (modules, the app, what migrating left) lives as long as the
    # process. Frozen out of the collector's sight, it is not scanned again by every full
    # collection, each of which stops the loop: for 60 to 140 ms with 500 pages open.
    gc.collect()
    gc.freeze()


def migrate(_args: argparse.Namespace, settings: Settings) -> None:
    print("\n".join(_migrate(settings)))


def seed(args: argparse.Namespace, settings: Settings) -> None:
    if settings.env is Environment.PRODUCTION and not args.force:
        raise ConfigurationError(
            "seed adds demo accounts whose password is published in the README;"
            " it does not run with LIVECHAT_ENV=production unless given --force"
        )
    _migrate(settings)
    print(asyncio.run(seed_demo_data(settings)))


def admin(args: argparse.Namespace, settings: Settings) -> None:
    _migrate(settings)
    person, made = _run_on(settings, lambda db: admins.make_admin(db, args.email))
    already = "now" if made else "already"
    print(f"{person.display_name} ({person.email}) is {already} a site admin.")


def bot(args: argparse.Namespace, settings: Settings) -> None:
    _migrate(settings)
    made, secret = _run_on(
        settings,
        lambda db: tokens.create_bot(
            db, name=args.name, handle=args.handle, webhook_url=args.webhook
        ),
    )
    print(f"Made the bot {made.display_name} (@{made.handle}).")
    print(f"Its token, shown this once: {secret}")
    if made.webhook_secret:
        print(f"The key its webhook calls are signed with: {made.webhook_secret}")


def _run_on(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on the database, for a command that does one thing there."""

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default, and keeps the settings table in the epilog as written."""


def _settings_table() -> str:
    """Every LIVECHAT_* setting with its default, read from the Settings model itself."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default()
        shown = "(unset)" if default == "" else str(getattr(default, "value", default))
        rows.append(f"  LIVECHAT_{name.upper():<24} {shown}")
    return "settings (environment variables) and their defaults:\n" + "\n".join(rows)


def _parser() -> argparse.ArgumentParser:
    defaults = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="livechat",
        description="A real-time chat server.",
        epilog="Settings come from LIVECHAT_* environment variables; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"livechat {version('livechat')}")
    commands = parser.add_subparsers(required=True, metavar="command")

    serve_parser = commands.add_parser(
        "serve",
        help="apply pending migrations, then serve",
        description="Apply pending migrations, then serve livechat over HTTP and WebSockets.",
        epilog=_settings_table(),
        formatter_class=defaults,
    )
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve_parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes; above 1 needs LIVECHAT_REDIS_URL",
    )
    serve_parser.set_defaults(run=serve)

    commands.add_parser(
        "migrate",
        help="apply pending migrations",
        description="Apply pending migrations, creating the SQLite file when missing.",
    ).set_defaults(run=migrate)

    seed_parser = commands.add_parser(
        "seed",
        help="add demo people, rooms and messages",
        description="Add demo people, rooms and messages to a database without users.",
        formatter_class=defaults,
    )
    seed_parser.add_argument(
        "--force",
        action="store_true",
        help="seed even with LIVECHAT_ENV=production (the demo password is public)",
    )
    seed_parser.set_defaults(run=seed)

    admin_parser = commands.add_parser(
        "admin",
        help="make someone a site admin",
        description="Make the person who signed up with EMAIL a site admin, who keeps the bots.",
    )
    admin_parser.add_argument("email", metavar="EMAIL", help="the email they signed up with")
    admin_parser.set_defaults(run=admin)

    bot_parser = commands.add_parser(
        "bot",
        help="make a bot and print its token",
        description="Make a bot, which acts through the API, and print its first token once.",
    )
    bot_parser.add_argument("name", metavar="NAME", help="shown on its messages")
    bot_parser.add_argument("--handle", required=True, help="how people @mention it")
    bot_parser.add_argument("--webhook", metavar="URL", help="an http(s) address told of events")
    bot_parser.set_defaults(run=bot)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace, Settings], Any] = args.run
    try:
        settings = preflight.settings_from_environment()
        # Alembic's chatter (its dialect, each step) stays below the WARNING this sets for
        # everything but livechat and uvicorn: the commands say what they applied.
        logging.config.dictConfig(log_config(settings.log_format))
        run(args, settings)
    except (ConfigurationError, LivechatError) as error:
        print(f"livechat: {error}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
