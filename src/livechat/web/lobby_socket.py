"""The room list's live socket: rooms appear, change and disappear without a reload."""

from __future__ import annotations

from fastapi import WebSocket
from starlette.status import WS_1008_POLICY_VIOLATION

from livechat.realtime.hub import LOBBY_TOPIC, Broadcast, sessions_topic, user_topic
from livechat.realtime.tree import Realtime
from livechat.web.sockets import Frames, SignedIn, serve_connection


async def serve(websocket: WebSocket, visitor: SignedIn) -> None:
    """The room list's socket, at ``/lobby/ws``."""
    realtime: Realtime = websocket.app.state.realtime
    user_id = visitor.user_id
    # Public rooms for everyone; private rooms only on their members' own topics.
    topics = (LOBBY_TOPIC, user_topic(user_id), sessions_topic(user_id))
    frames = Frames(websocket)
    async with realtime.hub.subscribe(*topics) as subscription:

        async def read() -> None:
            # The room list sends nothing worth reading; this only notices it leaving.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        async def send(batch: list[object]) -> bool:
            out: list[str | Broadcast] = []
            for item in batch:
                assert isinstance(item, Broadcast)  # the lobby's topics carry nothing else
                if item.revokes is None:
                    out.append(item)
                elif item.revokes.covers(visitor.session):
                    out.append(item)
                    await frames.send(out)
                    await websocket.close(WS_1008_POLICY_VIOLATION)
                    return True
            if out:
                await frames.send(out)
            return False

        await serve_connection(websocket, subscription, read(), send)
