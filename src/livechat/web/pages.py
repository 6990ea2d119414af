"""The front door, the health check and the metrics."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import text
from starlette.datastructures import Address
from starlette.exceptions import HTTPException

from livechat.metrics import CONTENT_TYPE, Metrics
from livechat.web.deps import DB, MaybeUser, RealtimeDep, SettingsDep

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


@router.get("/metrics")
async def scrape(request: Request, settings: SettingsDep) -> Response:
    """Prometheus' scrape, for this machine, and for others with the bearer token.

    Without a token set, other machines get the same 404 as any unknown address: there is
    nothing they could do here, and a scanner learns nothing. With one set, a missing or
    wrong token gets 401, which tells the operator of a scraper what to fix.

    uvicorn takes the client from the X-Forwarded-For of a trusted proxy, so a request
    relayed by a proxy on this machine counts as local only if the real client is."""
    if not _is_loopback(request.client):
        if not settings.metrics_token:
            raise HTTPException(404)
        if not _bears(request, settings.metrics_token):
            return PlainTextResponse(
                "A valid bearer token is required.\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)


def _is_loopback(client: Address | None) -> bool:
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _bears(request: Request, token: str) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), token.encode()
    )
