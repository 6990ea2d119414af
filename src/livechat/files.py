"""Writing and deleting stored files without blocking the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path

from livechat.errors import Unavailable

log = logging.getLogger(__name__)

# A full disk or a folder that lost its permissions is an operator's to fix; people are
# asked to come back rather than told their file was wrong.
STORAGE_RETRY_SECONDS = 60


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder, in a worker thread. A failure of
    the storage itself is logged here, once, in one line, and refused as Unavailable."""
    try:
        await asyncio.to_thread(_write, path, data)
    except OSError as error:
        log.error("could not store a file in %s: %s", path.parent, error.strerror or error)
        raise Unavailable(
            "The server could not store your file just now. Please try again in a minute.",
            retry_after_seconds=STORAGE_RETRY_SECONDS,
        ) from None


async def remove_files(paths: Iterable[Path]) -> None:
    """Delete each of ``paths`` that exists, in a worker thread."""
    await asyncio.to_thread(_remove, list(paths))
