"""The reference the fan-out benchmark measures livechat against: the naive Starlette
broadcast loop anyone would write first, relaying htmx-shaped frames and storing nothing.

Each frame from a page carries a ``body``; every open socket, the sender's included, gets
it back escaped inside a message fragment that htmx would append, one ``send_text`` after
another. No sessions, no database, no rate limit: what it costs is the floor of relaying
HTML over WebSockets in Python on uvicorn.

    .venv/bin/python benchmarks/reference.py --port 8001
"""

from __future__ import annotations

import argparse
import html
import json

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

sockets: set[WebSocket] = set()


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    sockets.add(websocket)
    try:
        while True:
            frame = json.loads(await websocket.receive_text())
            if "body" not in frame:
                # A page that connects asks for what it missed, and is answered at once:
                # this room keeps no history, so with nothing.
                await websocket.send_text('<div id="messages" hx-swap-oob="beforeend"></div>')
                continue
            fragment = (
                '<div id="messages" hx-swap-oob="beforeend"><article class="message">'
                f'<div class="message-body">{html.escape(frame["body"])}</div></article></div>'
            )
            for other in list(sockets):
                try:
                    await other.send_text(fragment)
                except (WebSocketDisconnect, RuntimeError):
                    sockets.discard(other)
    except WebSocketDisconnect:
        pass
    finally:
        sockets.discard(websocket)


async def healthz(_request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/healthz", healthz), WebSocketRoute("/rooms/{slug}/ws", relay)])

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8001)
    uvicorn.run(app, host="127.0.0.1", port=parser.parse_args().port, log_level="warning")
