"""Where the files livechat serves and migrates from live, installed or checked out.

The repository keeps ``templates/``, ``static/``, ``migrations/`` and ``alembic.ini`` at its
top level, beside ``src/``, where designers and reviewers look for them. The wheel maps
them into the package (``livechat/templates`` and so on, see ``pyproject.toml``), so an
installed livechat carries its own copy; a checkout, editable installs included, reads
them from the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parents[1]


def _shipped(name: str) -> Path:
    installed = _PACKAGE / name
    return installed if installed.exists() else _CHECKOUT / name


TEMPLATES = _shipped("templates")
STATIC = _shipped("static")
MIGRATIONS = _shipped("migrations")
ALEMBIC_INI = _shipped("alembic.ini")
