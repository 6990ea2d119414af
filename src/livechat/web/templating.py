"""Jinja2 rendering: one environment, autoescaped, shared by pages and live fragments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from livechat.settings import PROJECT_ROOT


def _page_context(request: Request) -> dict[str, Any]:
    return {
        "csrf_token": request.scope.get("state", {}).get("csrf_token", ""),
        "current_user": getattr(request.state, "user", None),
    }


def _clock_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M")


def _calendar_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %-d %b %Y")


templates = Jinja2Templates(PROJECT_ROOT / "templates", context_processors=[_page_context])
templates.env.filters["clock_time"] = _clock_time
templates.env.filters["calendar_day"] = _calendar_day
templates.env.globals["static_version"] = "1"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
