"""Writing and deleting stored files without blocking the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating its folder, in a worker thread."""
    await asyncio.to_thread(_write, path, data)


async def remove_files(paths: Iterable[Path]) -> None:
    """Delete each of ``paths`` that exists, in a worker thread."""
    await asyncio.to_thread(_remove, list(paths))
