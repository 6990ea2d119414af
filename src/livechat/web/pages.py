"""The front door and the health check."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from livechat.web.deps import DB, MaybeUser, RealtimeDep

router = APIRouter()


@router.get("/")
async def home(user: MaybeUser) -> Response:
    return RedirectResponse("/rooms" if user else "/users/log_in", status_code=303)


@router.get("/healthz")
async def health(db: DB, realtime: RealtimeDep) -> Response:
    """503 while any permanent process of the tree is down, so that a load balancer or a
    process manager stops sending people here; otherwise the database answers, and how
    much is live: rooms with a running server (and resting after crashes), and people who
    posted recently enough to still be tracked by the rate limiter."""
    down = realtime.down()
    async with db.read() as session:
        await session.execute(text("SELECT 1"))
    return JSONResponse(
        {
            "status": "down" if down else "ok",
            "down": down,
            "rooms_running": len(realtime.rooms.running()),
            "rooms_resting": len(realtime.rooms.resting()),
            "recent_posters": realtime.rate_limiter.tracked_users,
        },
        status_code=503 if down else 200,
    )
