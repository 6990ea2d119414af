"""Time zones by their IANA names (``Europe/Paris``), from the tz database that ships as
the ``tzdata`` package wherever the system has none."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import tzinfo

NAME_MAX_LENGTH = 64  # the longest in the database is 32


@functools.cache
def available_zones() -> tuple[str, ...]:
    """Every zone's name, sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_named(name: str) -> tzinfo | None:
    """The zone called ``name``, or None when there is none: ``name`` may come from
    anyone, so it is looked up in the list, never read as a path, and only real zones are
    kept."""
    if name not in _names():
        return None
    return _zone(name)


@functools.cache
def _zone(name: str) -> tzinfo:
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _names() -> frozenset[str]:
    return frozenset(available_zones())
