"""Pages name our stylesheet and script by a digest of their content, so that a browser
never keeps an earlier version past a change."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from livechat.resources import STATIC
from livechat.web.templating import static_version


async def test_pages_name_the_stylesheet_and_script_by_their_content(
    client: httpx.AsyncClient,
) -> None:
    version = static_version(STATIC)

    page = (await client.get("/users/log_in")).text

    assert f'href="/static/css/app.css?v={version}"' in page
    assert f'src="/static/app.js?v={version}"' in page
    assert (await client.get(f"/static/css/app.css?v={version}")).status_code == 200


def test_a_change_to_either_file_changes_the_version(tmp_path: Path) -> None:
    folder = tmp_path / "static"
    shutil.copytree(STATIC, folder)
    before = static_version(folder)

    with (folder / "css" / "app.css").open("a") as stylesheet:
        stylesheet.write("\n.new-rule { color: red; }\n")
    after_css = static_version(folder)
    with (folder / "app.js").open("a") as script:
        script.write("\n// changed\n")

    assert len({before, after_css, static_version(folder)}) == 3
