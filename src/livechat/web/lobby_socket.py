"""The room list's live socket: rooms appear, change and disappear without a reload."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from livechat.realtime.hub import LOBBY_TOPIC, Broadcast, user_topic
from livechat.realtime.tree import Realtime
from livechat.web.sockets import accept, serve_connection

router = APIRouter()


@router.websocket("/lobby/ws")
async def lobby_socket(websocket: WebSocket) -> None:
    user = await accept(websocket)
    if user is None:
        return
    realtime: Realtime = websocket.app.state.realtime
    # Public rooms for everyone; private rooms only on their members' own topics.
    async with realtime.hub.subscribe(LOBBY_TOPIC, user_topic(user.id)) as subscription:

        async def read() -> None:
            # The room list sends nothing worth reading; this only notices it leaving.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        async def write() -> None:
            while isinstance(item := await subscription.next(), Broadcast):
                await websocket.send_text(item.html)

        await serve_connection(websocket, subscription, read(), write())
