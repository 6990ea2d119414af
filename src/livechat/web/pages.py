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
    """The database answers, and how much is live: rooms with a running server, and people
    who posted recently enough to still be tracked by the rate limiter."""
    async with db.read() as session:
        await session.execute(text("SELECT 1"))
    return JSONResponse(
        {
            "status": "ok",
            "rooms_running": len(realtime.rooms.running()),
            "recent_posters": realtime.rate_limiter.tracked_users,
        }
    )
