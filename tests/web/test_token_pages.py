"""The Tokens section of the profile page, and the bots page of the site admins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser

import httpx
import pytest

from livechat.accounts import admins, tokens
from livechat.accounts.models import User
from livechat.accounts.tokens import Scope
from livechat.chat import rooms
from livechat.chat.models import Room
from livechat.db import Database
from tests.helpers import csrf_token, log_in, submit
from tests.web.test_notices import notice_on

NOT_SHOWN_AGAIN = "it will not be shown again"


@dataclass
class Page:
    """What a person reads on a page of tokens or bots."""

    # Each token's row, by its id: the text of each cell.
    tokens: dict[int, list[str]] = field(default_factory=dict)
    # Each bot's entry, by its id: its text, and the addresses its buttons post to.
    bots: dict[int, str] = field(default_factory=dict)
    bot_actions: dict[int, list[str]] = field(default_factory=dict)
    # The secrets shown, by the id of the field they are in ("" for none).
    secrets: dict[str, str] = field(default_factory=dict)
    # The rooms a new token may be limited to, by id, and those ticked.
    room_choices: dict[int, str] = field(default_factory=dict)
    ticked: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)


class _PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self._row: int | None = None
        self._bot: int | None = None
        # The element whose text is being read: its closing tag, where its text goes, and
        # the text so far.
        self._reading: tuple[str, Callable[[str], object], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        classes = found.get("class", "").split()
        if tag == "tr" and found.get("id", "").startswith("token-"):
            row = self._row = int(found["id"].removeprefix("token-"))
            self.page.tokens[row] = []
        elif tag == "td" and self._row is not None:
            self._read("td", self.page.tokens[self._row].append)
        elif tag == "li" and "bot-item" in classes:
            self._bot = int(found["id"].removeprefix("bot-"))
            self.page.bots[self._bot] = ""
            self.page.bot_actions[self._bot] = []
        elif tag == "form" and self._bot is not None:
            self.page.bot_actions[self._bot].append(found["action"])
        elif tag == "p" and "form-error" in classes:
            self._read("p", self.page.errors.append)
        elif tag == "a":
            self.page.links.append(found.get("href", ""))
        elif tag == "input" and "token-secret" in classes:
            self.page.secrets[found.get("id", "")] = found["value"]
        elif tag == "input" and found.get("name") == "room_ids":
            room_id = int(found["value"])
            if "checked" in found:
                self.page.ticked.add(room_id)
            self._read("label", partial(self.page.room_choices.__setitem__, room_id))
        elif tag == "input" and found.get("type") in {"text", "url"} and "name" in found:
            self.page.values[found["name"]] = found.get("value", "")

    def _read(self, closing_tag: str, store: Callable[[str], object]) -> None:
        self._reading = (closing_tag, store, [])

    def handle_data(self, data: str) -> None:
        if self._reading is not None:
            self._reading[2].append(data)
        if self._bot is not None:
            self.page.bots[self._bot] += data

    def handle_endtag(self, tag: str) -> None:
        if self._reading is not None and self._reading[0] == tag:
            _, store, parts = self._reading
            store(" ".join("".join(parts).split()))
            self._reading = None
        if tag == "tr":
            self._row = None
        elif tag == "li" and self._bot is not None:
            self.page.bots[self._bot] = " ".join(self.page.bots[self._bot].split())
            self._bot = None


def read(response: httpx.Response) -> Page:
    reader = _PageReader()
    reader.feed(response.text)
    return reader.page


async def _create_token(client: httpx.AsyncClient, **fields: str | list[str]) -> httpx.Response:
    token = await csrf_token(client, "/profile")
    return await client.post("/profile/tokens", data={**fields, "csrf_token": token})


# The profile page's Tokens section


async def test_the_profile_lists_live_tokens_with_what_they_may_do_and_where(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    limited, _ = await tokens.issue_token(
        db, alice, name="Standup bot", scope=Scope.READ, room_ids=[general.id]
    )
    everywhere, secret = await tokens.issue_token(db, alice, name="Deploys", scope=Scope.WRITE)
    revoked, _ = await tokens.issue_token(db, alice, name="Old", scope=Scope.READ)
    await tokens.revoke_token(db, alice.id, revoked.id)
    await tokens.authenticate(db, secret)
    await log_in(client, alice)

    page = read(await client.get("/profile"))

    assert list(page.tokens) == [everywhere.id, limited.id]
    name, prefix, scope, where, _created, last_used, revoke = page.tokens[everywhere.id]
    assert (name, prefix, scope, where) == (
        "Deploys",
        f"{secret[:10]}…",
        "Read and write",
        "All rooms",
    )
    assert last_used not in {"", "Never"}
    assert revoke == "Revoke"
    assert page.tokens[limited.id][2:4] == ["Read", "General"]
    assert page.tokens[limited.id][5] == "Never"


async def test_a_new_token_is_shown_once_and_then_only_by_its_first_characters(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    await log_in(client, alice)

    response = await _create_token(
        client, name="Standup bot", scope="write", room_ids=[str(general.id)]
    )

    assert response.status_code == 200
    assert NOT_SHOWN_AGAIN in response.text
    assert response.headers["cache-control"] == "no-store"
    page = read(response)
    secret = page.secrets[""]
    grant = await tokens.authenticate(db, secret)
    assert grant is not None
    assert grant.user.id == alice.id
    assert grant.can_write
    assert grant.room_ids == frozenset({general.id})
    assert [row[:4] for row in page.tokens.values()] == [
        ["Standup bot", f"{secret[:10]}…", "Read and write", "General"]
    ]
    again = await client.get("/profile")
    assert secret not in again.text
    assert NOT_SHOWN_AGAIN not in again.text
    assert list(read(again).tokens) == [grant.token_id]


async def test_a_token_with_no_room_ticked_reads_every_room(
    client: httpx.AsyncClient, db: Database, alice: User, general: Room
) -> None:
    await log_in(client, alice)

    response = await _create_token(client, name="Reader", scope="read")

    grant = await tokens.authenticate(db, read(response).secrets[""])
    assert grant is not None
    assert not grant.can_write
    assert grant.room_ids is None


async def test_a_token_may_be_limited_to_the_rooms_one_is_a_member_of(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User, carol: User, general: Room
) -> None:
    notes = await rooms.create_room(db, alice, name="Alice's notes", is_private=True)
    await rooms.create_room(db, carol, name="Carol's corner")  # public, not joined
    await rooms.create_room(db, bob, name="Bob's secrets", is_private=True)
    direct = (await rooms.direct_room(db, alice, bob.id)).room
    await log_in(client, alice)

    page = read(await client.get("/profile"))

    assert page.room_choices == {
        notes.id: "Alice's notes",
        direct.id: "Direct: Bob Okafor",
        general.id: "General",
    }
    assert page.ticked == set()


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"name": "  ", "scope": "read"}, "Name the token"),
        ({"name": "x" * 81, "scope": "read"}, "at most 80"),
        ({"name": "Bot", "scope": "admin"}, "only read, or read and write"),
        ({"name": "Bot"}, "only read, or read and write"),
        ({"name": "Bot", "scope": "read", "room_ids": "bobs"}, "rooms you can read"),
        ({"name": "Bot", "scope": "read", "room_ids": "987654"}, "rooms you can read"),
        ({"name": "Bot", "scope": "read", "room_ids": "abc"}, "rooms you can read"),
        (
            {"name": "Bot", "scope": "read", "room_ids": "99999999999999999999"},
            "rooms you can read",
        ),
        ({"name": "Bot\x00", "scope": "read"}, "valid text"),
    ],
)
async def test_a_token_asked_for_wrongly_is_refused_on_the_page_with_what_was_typed(
    client: httpx.AsyncClient,
    db: Database,
    alice: User,
    bob: User,
    general: Room,
    fields: dict[str, str],
    refusal: str,
) -> None:
    bobs = await rooms.create_room(db, bob, name="Bob's secrets", is_private=True)
    if fields.get("room_ids") == "bobs":
        fields = {**fields, "room_ids": str(bobs.id)}
    await log_in(client, alice)

    response = await _create_token(client, **fields)

    assert response.status_code == 400
    page = read(response)
    assert len(page.errors) == 1
    assert refusal in page.errors[0]
    assert "Bob's secrets" not in response.text
    assert page.secrets == {}
    assert await tokens.tokens_of(db, alice.id) == []
    if "\x00" not in fields["name"]:
        assert page.values["name"] == fields["name"]


async def test_a_token_name_that_is_not_utf_8_is_kept_with_its_bad_bytes_replaced(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    await log_in(client, alice)
    token = await csrf_token(client, "/profile")

    response = await client.post(
        "/profile/tokens",
        content=f"name=Bot%ED%A0%80%FF&scope=read&csrf_token={token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    assert [token.name for token in await tokens.tokens_of(db, alice.id)] == ["Bot" + "\ufffd" * 4]


async def test_rooms_ticked_stay_ticked_when_the_token_is_refused(
    client: httpx.AsyncClient, alice: User, general: Room
) -> None:
    await log_in(client, alice)

    response = await _create_token(client, name="", scope="write", room_ids=[str(general.id)])

    assert response.status_code == 400
    assert read(response).ticked == {general.id}


async def test_revoking_a_token_says_so_and_it_stops_working(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    token, secret = await tokens.issue_token(db, alice, name="Leaked", scope=Scope.WRITE)
    await log_in(client, alice)

    response = await submit(client, f"/profile/tokens/{token.id}/revoke", {}, page="/profile")

    assert response.status_code == 303
    assert response.headers["location"] == "/profile?saved=revoked#tokens"
    shown = await client.get(response.headers["location"])
    assert "The token is revoked" in shown.text
    assert read(shown).tokens == {}
    assert await tokens.authenticate(db, secret) is None


async def test_no_one_revokes_someone_elses_token_from_their_page(
    client: httpx.AsyncClient, db: Database, alice: User, bob: User
) -> None:
    token, secret = await tokens.issue_token(db, bob, name="Bob's", scope=Scope.READ)
    await log_in(client, alice)

    response = await submit(client, f"/profile/tokens/{token.id}/revoke", {}, page="/profile")

    assert response.status_code == 404
    assert read(response).errors == ["That token does not exist, or was revoked already."]
    assert "Bob's" not in response.text
    assert await tokens.authenticate(db, secret) is not None


@pytest.mark.parametrize("token_id", ["abc", "0", "99999999999999999999"])
async def test_revoking_a_token_by_something_that_is_no_id_is_a_bad_request(
    client: httpx.AsyncClient, alice: User, token_id: str
) -> None:
    await log_in(client, alice)

    response = await submit(client, f"/profile/tokens/{token_id}/revoke", {}, page="/profile")

    assert response.status_code == 400


async def test_a_token_form_without_the_pages_csrf_token_is_refused(
    client: httpx.AsyncClient, db: Database, alice: User
) -> None:
    await log_in(client, alice)

    response = await client.post("/profile/tokens", data={"name": "Forged", "scope": "write"})

    assert response.status_code == 403
    assert await tokens.tokens_of(db, alice.id) == []


# The bots page


@pytest.fixture
async def admin(db: Database, alice: User) -> User:
    """Alice, a site admin."""
    person, _ = await admins.make_admin(db, alice.email)
    return person


async def _bots_form(
    client: httpx.AsyncClient, path: str, data: dict[str, str] | None = None
) -> httpx.Response:
    return await submit(client, path, data or {}, page="/profile")


async def test_the_bots_page_does_not_exist_for_anyone_but_a_site_admin(
    client: httpx.AsyncClient, db: Database, bob: User
) -> None:
    bot, _ = await tokens.create_bot(db, name="Helper", handle="helper", webhook_url=None)
    assert (await client.get("/bots")).status_code == 404
    await log_in(client, bob)

    assert "/bots" not in read(await client.get("/profile")).links
    assert (await client.get("/bots")).status_code == 404
    made = await _bots_form(client, "/bots", {"name": "Sneaky", "handle": "sneaky"})
    assert made.status_code == 404
    assert (await _bots_form(client, f"/bots/{bot.id}/tokens")).status_code == 404
    assert (await _bots_form(client, f"/bots/{bot.id}/deactivate")).status_code == 404
    assert [listing.bot.handle for listing in await admins.list_bots(db)] == ["helper"]
    assert len(await tokens.tokens_of(db, bot.id)) == 1


async def test_a_site_admin_finds_the_bots_page_in_the_top_bar(
    client: httpx.AsyncClient, admin: User
) -> None:
    await log_in(client, admin)

    assert "/bots" in read(await client.get("/profile")).links
    page = await client.get("/bots")
    assert page.status_code == 200
    assert "No bots yet." in page.text


async def test_an_admin_makes_a_bot_and_sees_its_token_and_webhook_key_once(
    client: httpx.AsyncClient, db: Database, admin: User
) -> None:
    await log_in(client, admin)

    response = await _bots_form(
        client,
        "/bots",
        {"name": "Deploy Bot", "handle": "@deployer", "webhook_url": "https://ci.example.com/hook"},
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert NOT_SHOWN_AGAIN in response.text
    page = read(response)
    grant = await tokens.authenticate(db, page.secrets["new-secret"])
    assert grant is not None
    bot = grant.user
    assert (bot.is_bot, bot.handle, bot.webhook_url) == (
        True,
        "deployer",
        "https://ci.example.com/hook",
    )
    assert page.secrets["webhook-secret"] == bot.webhook_secret
    assert "Deploy Bot @deployer" in page.bots[bot.id]
    assert "1 live token" in page.bots[bot.id]
    assert page.values == {"name": "", "handle": "", "webhook_url": ""}
    again = await client.get("/bots")
    assert read(again).secrets == {}
    assert str(bot.webhook_secret) not in again.text


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"name": "Copy", "handle": "taken"}, "@taken is taken"),
        ({"name": "Copy", "handle": "alice_martin"}, "@alice_martin is taken"),
        ({"name": "", "handle": "nameless"}, "needs a name"),
        ({"name": "Bad handle", "handle": "no spaces"}, "Handles are"),
        (
            {"name": "Hook", "handle": "hook", "webhook_url": "ftp://example.com"},
            "http:// or https://",
        ),
        (
            {"name": "Hook", "handle": "hook", "webhook_url": "https://x/" + "a" * 2000},
            "at most 2000",
        ),
    ],
)
async def test_a_bot_asked_for_wrongly_is_refused_on_the_page_with_what_was_typed(
    client: httpx.AsyncClient,
    db: Database,
    admin: User,
    fields: dict[str, str],
    refusal: str,
) -> None:
    await tokens.create_bot(db, name="Taken", handle="taken", webhook_url=None)
    await log_in(client, admin)

    response = await _bots_form(client, "/bots", fields)

    assert response.status_code == 400
    page = read(response)
    assert len(page.errors) == 1
    assert refusal in page.errors[0]
    assert page.secrets == {}
    assert page.values["name"] == fields["name"]
    assert page.values["handle"] == fields["handle"]
    assert [listing.bot.handle for listing in await admins.list_bots(db)] == ["taken"]


async def test_an_admin_gives_a_bot_another_token_shown_once(
    client: httpx.AsyncClient, db: Database, admin: User
) -> None:
    bot, first = await tokens.create_bot(db, name="Helper", handle="helper", webhook_url=None)
    await log_in(client, admin)

    response = await _bots_form(client, f"/bots/{bot.id}/tokens")

    assert response.status_code == 200
    assert NOT_SHOWN_AGAIN in response.text
    page = read(response)
    second = page.secrets["new-secret"]
    assert second != first
    for secret in (first, second):
        grant = await tokens.authenticate(db, secret)
        assert grant is not None
        assert grant.user.id == bot.id
        assert grant.can_write
    assert "2 live tokens" in page.bots[bot.id]
    newest = (await tokens.tokens_of(db, bot.id))[0]
    assert newest.name == "Issued by @alice_martin"


async def test_an_admin_deactivates_a_bot_and_its_tokens_stop_working(
    client: httpx.AsyncClient, db: Database, admin: User
) -> None:
    bot, secret = await tokens.create_bot(db, name="Helper", handle="helper", webhook_url=None)
    await log_in(client, admin)

    response = await _bots_form(client, f"/bots/{bot.id}/deactivate")

    assert response.status_code == 303
    assert response.headers["location"] == "/bots"
    shown = await client.get("/bots")
    assert notice_on(shown) == "Helper is deactivated; its tokens no longer work."
    assert await tokens.authenticate(db, secret) is None
    page = read(shown)
    assert "Deactivated" in page.bots[bot.id]
    assert page.bot_actions[bot.id] == []
    assert (await _bots_form(client, f"/bots/{bot.id}/deactivate")).status_code == 404
    assert (await _bots_form(client, f"/bots/{bot.id}/tokens")).status_code == 404


async def test_an_admin_points_a_bots_webhook_elsewhere_with_a_new_key_shown_once(
    client: httpx.AsyncClient, db: Database, admin: User
) -> None:
    bot, _ = await tokens.create_bot(
        db, name="Helper", handle="helper", webhook_url="https://old.example.com/hook"
    )
    await log_in(client, admin)

    moved = await _bots_form(
        client, f"/bots/{bot.id}/webhook", {"webhook_url": "https://new.example.com/hook"}
    )

    assert moved.status_code == 200
    assert NOT_SHOWN_AGAIN in moved.text
    key = read(moved).secrets["webhook-secret"]
    stored = await admins.find_bot(db, bot.id)
    assert stored.webhook_url == "https://new.example.com/hook"
    assert stored.webhook_secret == key != bot.webhook_secret
    assert "https://new.example.com/hook" in read(moved).bots[bot.id]

    cleared = await _bots_form(client, f"/bots/{bot.id}/webhook", {"webhook_url": ""})

    assert "has no webhook now" in cleared.text
    assert "webhook-secret" not in read(cleared).secrets
    stored = await admins.find_bot(db, bot.id)
    assert (stored.webhook_url, stored.webhook_secret) == (None, None)


@pytest.mark.parametrize("address", ["ftp://example.com/hook", "not a url", "https://"])
async def test_a_webhook_that_is_no_web_address_is_refused_and_the_old_one_kept(
    client: httpx.AsyncClient, db: Database, admin: User, address: str
) -> None:
    bot, _ = await tokens.create_bot(
        db, name="Helper", handle="helper", webhook_url="https://old.example.com/hook"
    )
    await log_in(client, admin)

    response = await _bots_form(client, f"/bots/{bot.id}/webhook", {"webhook_url": address})

    assert response.status_code == 400
    assert read(response).errors == [
        "A webhook is an http:// or https:// address, like https://example.com/hook."
    ]
    stored = await admins.find_bot(db, bot.id)
    assert (stored.webhook_url, stored.webhook_secret) == (bot.webhook_url, bot.webhook_secret)


@pytest.mark.parametrize("action", ["tokens", "deactivate", "webhook"])
async def test_a_person_is_not_a_bot_to_give_tokens_or_deactivate(
    client: httpx.AsyncClient, db: Database, admin: User, bob: User, action: str
) -> None:
    await log_in(client, admin)

    response = await _bots_form(client, f"/bots/{bob.id}/{action}")

    assert response.status_code == 404
    assert await tokens.tokens_of(db, bob.id) == []
    async with db.read() as session:
        assert (await session.get_one(User, bob.id)).is_active
