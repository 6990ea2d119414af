"""Log lines that say which request or socket they belong to.

Every HTTP request gets a request id: the one the proxy in front sent as ``X-Request-ID``
if it looks like an id, else a fresh one; either way it is echoed in the response. Every
WebSocket gets a socket id. Both live in context variables, which asyncio copies into each
task a request or a socket starts, so that every line logged on their behalf, by any of
their tasks, carries them; a filter on the handler copies them onto the record.

``log_config`` is the process's one logging set-up, for ``logging.config.dictConfig`` and
for uvicorn's ``log_config``: one event per line on stderr, as text for people or as one
JSON object per line for machines. In text, a traceback follows its line on lines of its
own; in JSON it is a field of its line.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livechat.settings import LogFormat

REQUEST_ID_HEADER = "x-request-id"
# What proxies send (nginx's $request_id is 32 hex digits, others use UUIDs): anything
# else, which would only be written into every line of the log, is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
socket_id: ContextVar[str | None] = ContextVar("socket_id", default=None)

_IDS = ("request_id", "socket_id")


class LogContextMiddleware:
    """Gives each request its id before anything else sees it; a live socket gets its own
    from ``SocketRoutes``, ahead of this.

    An id is set and never reset: uvicorn runs each request and each socket in a task of
    its own, so it goes no further, and it is still there when uvicorn logs an exception
    that escaped the application, after the application has returned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        current = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request_id.set(current)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = current
            await send(message)

        await self.app(scope, receive, send_with_id)


class ContextFilter(logging.Filter):
    """Copies the request and socket ids onto each record, as it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.socket_id = socket_id.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ids(record: logging.LogRecord) -> dict[str, str]:
    return {name: value for name in _IDS if (value := getattr(record, name, None))}


class TextFormatter(logging.Formatter):
    """``2025-05-01T09:30:00.123Z INFO livechat.x socket_id=… what happened``. Line breaks
    inside the message are escaped, so that text a visitor chose can never pass for lines
    of its own."""

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"{name}={value}" for name, value in _ids(record).items()]
        message = record.getMessage().strip().replace("\r", "\\r").replace("\n", "\\n")
        line = " ".join([_timestamp(record), record.levelname, record.name, *ids, message])
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, the ids
    there are, ``exception`` and ``stack`` when there is one; uvicorn's access lines also
    have their ``client``, ``method``, ``path`` and ``status``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage().strip(),
            **_ids(record),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            entry |= _access_fields(record.args)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def _access_fields(args: tuple[object, ...]) -> dict[str, object]:
    """What uvicorn logs each response with: its client, method, path, HTTP version and
    status; nothing from a record that carries anything else."""
    if len(args) != 5:
        return {}
    client, method, path, _http_version, status = args
    return {"client": client, "method": method, "path": path, "status": status}


def log_config(fmt: LogFormat) -> dict[str, Any]:
    """The ``dictConfig`` of the process: every record of livechat and uvicorn from INFO up,
    and of anything else from WARNING up, goes to one handler on stderr, in ``fmt``."""
    formatter = TextFormatter if fmt is LogFormat.TEXT else JsonFormatter
    ours = {"level": "INFO", "handlers": [], "propagate": True}
    return {
        "version": 1,
        # Loggers made at import time, before this runs, must keep logging.
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["context"],
            }
        },
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            name: dict(ours) for name in ("livechat", "uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
