"""The front door and the health check."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from livechat.web.deps import DB, MaybeUser

router = APIRouter()


@router.get("/")
async def home(user: MaybeUser) -> Response:
    return RedirectResponse("/rooms" if user else "/users/log_in", status_code=303)


@router.get("/healthz")
async def health(db: DB) -> Response:
    async with db.read() as session:
        await session.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok"})
