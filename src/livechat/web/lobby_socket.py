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
    async with realtime.hub.subscribe(*topics) as subscription:

        async def read() -> None:
            # The room list sends nothing worth reading; this only notices it leaving.
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        await serve_connection(websocket, subscription, read(), _Lobby(websocket, visitor))


class _Lobby:
    """A room list's outbox. Room lists are few and their broadcasts rare: everything
    goes through the writer."""

    __slots__ = ("_frames", "_session", "_websocket")

    def __init__(self, websocket: WebSocket, visitor: SignedIn) -> None:
        self._websocket = websocket
        self._frames = Frames(websocket)
        self._session = visitor.session

    async def send(self, batch: list[object]) -> bool:
        out: list[str | Broadcast] = []
        for item in batch:
            assert isinstance(item, Broadcast)  # the lobby's topics carry nothing else
            if item.revokes is None:
                out.append(item)
            elif item.revokes.covers(self._session):
                out.append(item)
                await self._frames.send(out)
                await self._websocket.close(WS_1008_POLICY_VIOLATION)
                return True
        if out:
            await self._frames.send(out)
        return False

    def send_now(self, batch: list[object]) -> bool:
        return False
