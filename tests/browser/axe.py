"""axe-core, the accessibility engine, run on a page as the person sees it.

axe-core comes from the npm registry as its published tarball, pinned to one version and
checked against the integrity the registry publishes for it, so a tarball that changed is
never run. It is downloaded once into ``.cache/`` (ignored by git) and checked again on
every use; nothing else needs node or npm.

The page serves a Content-Security-Policy that allows only its own scripts: the engine is
evaluated through the browser's debugging protocol, which that policy does not govern, so
the page itself is checked exactly as it is served.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Page

VERSION = "4.14.1"
# The registry's ``dist.integrity`` for that version, as published at
# https://registry.npmjs.org/axe-core/4.14.1; a new version changes both together.
INTEGRITY = (
    "sha512-"
    "FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)
TARBALL_URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "axe-core"
DOWNLOAD_TIMEOUT_S = 60
# What a person relying on assistive technology cannot get past; "moderate" and "minor"
# findings are worth reading but do not fail the run.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

RUN = """async () => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
        nodes: v.nodes.map(n => ({
            target: n.target.map(String), html: n.html, summary: n.failureSummary,
        })),
    }));
}"""


class AxeUnavailable(Exception):
    """axe-core could not be had: the registry did not answer, or sent something else."""


def _matches_integrity(tarball: bytes) -> bool:
    algorithm, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algorithm, tarball).digest()
    return base64.b64encode(digest).decode() == expected


def _download() -> bytes:
    try:
        with urllib.request.urlopen(TARBALL_URL, timeout=DOWNLOAD_TIMEOUT_S) as response:
            tarball: bytes = response.read()
    except OSError as error:
        raise AxeUnavailable(
            f"axe-core {VERSION} could not be downloaded from {TARBALL_URL} ({error}). "
            f"The accessibility tests need the npm registry once; the tarball is then kept "
            f"in {CACHE}."
        ) from error
    if not _matches_integrity(tarball):
        raise AxeUnavailable(
            f"{TARBALL_URL} does not match the integrity pinned in {__name__} "
            f"({INTEGRITY}); it is not run."
        )
    return tarball


def _store(path: Path, content: bytes) -> None:
    """Write whole or not at all: another run may read the cache at the same moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as partial:
        partial.write(content)
    os.replace(partial.name, path)


def axe_source() -> str:
    """The source of axe.min.js, from a tarball that matches the pinned integrity."""
    cached = CACHE / f"axe-core-{VERSION}.tgz"
    tarball = cached.read_bytes() if cached.exists() else b""
    if not _matches_integrity(tarball):
        tarball = _download()
        _store(cached, tarball)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        script = archive.extractfile("package/axe.min.js")
        assert script is not None, "axe-core's tarball has no package/axe.min.js"
        return script.read().decode()


@dataclass(frozen=True)
class Violation:
    """One rule a page breaks, with every element that breaks it."""

    where: str
    rule: str
    impact: str
    help: str
    help_url: str
    nodes: list[dict[str, Any]]

    def __str__(self) -> str:
        lines = [f"{self.where}: {self.rule} ({self.impact}) {self.help} <{self.help_url}>"]
        for node in self.nodes:
            lines.append(f"    {' '.join(node['target'])}")
            lines += [f"      {line}" for line in node["html"].splitlines()]
            lines += [f"      {line}" for line in node["summary"].splitlines()]
        return "\n".join(lines)


async def blocking_violations(page: Page, source: str, where: str) -> list[Violation]:
    """What axe finds serious or critical on the page as it is now."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(source)
    found = await page.evaluate(RUN)
    return [
        Violation(where, v["id"], v["impact"], v["help"], v["helpUrl"], v["nodes"])
        for v in found
        if v["impact"] in BLOCKING_IMPACTS
    ]
