"""The JSON API against a real server: tokens and what they open, rooms, messages (live on
the pages too), search, files, and errors that are JSON with a stable code."""

from __future__ import annotations

import httpx
import pytest

from livechat.accounts import tokens
from livechat.accounts.models import User
from livechat.accounts.tokens import Scope
from livechat.chat import messages, rooms
from livechat.chat.models import Room
from livechat.db import Database
from tests.api.conftest import Call
from tests.live import LiveServer, room_page, session_cookie

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def refused(response: httpx.Response, status: int, code: str) -> str:
    """The message of a refusal, once it is the JSON error it must be."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return str(error["message"])


# Who is calling


async def test_the_api_says_whom_a_token_speaks_for_and_what_it_may_do(
    api: Call, alice: User, general: Room
) -> None:
    reader = await api(alice, Scope.READ, room_ids=[general.id])

    me = (await reader.get("/me")).json()

    assert (me["id"], me["handle"], me["is_bot"]) == (alice.id, alice.handle, False)
    assert me["token"] == {"scope": "read", "room_ids": [general.id]}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer lc_" + "x" * 43, "Bearer not-a-token", "Basic YWxpY2U6cGFzcw==", "Bearer"],
)
async def test_a_missing_or_unknown_token_is_refused_with_how_to_authenticate(
    server: LiveServer, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1") as http:
        response = await http.get("/me", headers=headers)

    refused(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_signed_in_browsers_cookie_opens_nothing_in_the_api(
    server: LiveServer, alice: User, general: Room
) -> None:
    cookie = await session_cookie(server, alice.email)
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1") as http:
        http.cookies.set("livechat_session", cookie)
        posted = await http.post(f"/rooms/{general.id}/messages", json={"body": "forged"})

    refused(posted, 401, "unauthorized")


async def test_a_revoked_token_stops_working_at_once(
    db: Database, server: LiveServer, alice: User
) -> None:
    token, secret = await tokens.issue_token(db, alice, name="ci", scope=Scope.READ)
    async with httpx.AsyncClient(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}
    ) as http:
        assert (await http.get("/me")).status_code == 200

        assert await tokens.revoke_token(db, alice.id, token.id)

        refused(await http.get("/me"), 401, "unauthorized")


async def test_a_read_only_token_reads_and_is_refused_every_write(
    api: Call, alice: User, general: Room
) -> None:
    reader = await api(alice, Scope.READ)

    assert (await reader.get(f"/rooms/{general.id}/messages")).status_code == 200
    refused(
        await reader.post(f"/rooms/{general.id}/messages", json={"body": "hi"}), 403, "forbidden"
    )
    refused(await reader.post("/rooms", json={"name": "New"}), 403, "forbidden")
    refused(await reader.post(f"/rooms/{general.id}/leave"), 403, "forbidden")


async def test_a_token_kept_to_some_rooms_sees_no_other(
    db: Database, api: Call, alice: User, general: Room
) -> None:
    other = await rooms.create_room(db, alice, name="Other")
    await messages.create_message(db, alice, other.id, "needle in the other room")
    await messages.create_message(db, alice, general.id, "needle in general")
    kept = await api(alice, Scope.WRITE, room_ids=[general.id])

    listed = [room["id"] for room in (await kept.get("/rooms")).json()]
    found = (await kept.get("/search", params={"q": "needle"})).json()["results"]

    assert listed == [general.id]
    assert [hit["room"] for hit in found] == [general.slug]
    refused(await kept.get(f"/rooms/{other.id}"), 404, "not_found")
    refused(await kept.get(f"/rooms/{other.id}/messages"), 404, "not_found")
    refused(await kept.post(f"/rooms/{other.id}/messages", json={"body": "x"}), 404, "not_found")
    refused(
        await kept.get("/search", params={"q": "needle", "room_id": other.id}), 404, "not_found"
    )
    refused(await kept.post("/rooms", json={"name": "Elsewhere"}), 403, "forbidden")


# Rooms


async def test_a_private_room_is_as_unknown_to_outsiders_as_a_room_that_never_was(
    db: Database, api: Call, alice: User, bob: User
) -> None:
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    await messages.create_message(db, alice, secret.id, "the plan")
    outsider = await api(bob)

    never = refused(await outsider.get("/rooms/999999"), 404, "not_found")
    for response in (
        await outsider.get(f"/rooms/{secret.id}"),
        await outsider.get(f"/rooms/{secret.id}/messages"),
        await outsider.get(f"/rooms/{secret.id}/members"),
        await outsider.post(f"/rooms/{secret.id}/join"),
        await outsider.post(f"/rooms/{secret.id}/messages", json={"body": "let me in"}),
    ):
        assert refused(response, 404, "not_found") == never
    assert secret.id not in [room["id"] for room in (await outsider.get("/rooms")).json()]
    assert (await outsider.get("/search", params={"q": "plan"})).json()["results"] == []


async def test_rooms_are_created_joined_and_left_and_open_room_lists_hear_of_it(
    server: LiveServer, api: Call, alice: User, bob: User
) -> None:
    alices, bobs = await api(alice), await api(bob)

    created = await alices.post("/rooms", json={"name": "Launch", "description": "Go <live>"})
    assert created.status_code == 201, created.text
    room = created.json()
    assert (room["name"], room["role"], room["member_count"]) == ("Launch", "admin", 1)

    joined = await bobs.post(f"/rooms/{room['id']}/join")
    assert (joined.json()["role"], joined.json()["member_count"]) == ("member", 2)
    members = (await bobs.get(f"/rooms/{room['id']}/members")).json()
    assert [(m["person"]["id"], m["role"]) for m in members] == [
        (alice.id, "admin"),
        (bob.id, "member"),
    ]

    assert (await bobs.post(f"/rooms/{room['id']}/leave")).status_code == 204
    assert (await bobs.get(f"/rooms/{room['id']}")).json()["role"] is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 61}, "name"),
        ({"name": "Fine", "is_private": "maybe"}, "is_private"),
        ({"name": "Fine", "description": "x" * 281}, "description"),
    ],
)
async def test_a_room_that_is_not_valid_is_refused_naming_the_field(
    api: Call, alice: User, body: dict[str, object], problem: str
) -> None:
    message = refused(await (await api(alice)).post("/rooms", json=body), 422, "invalid_request")

    assert problem in message


# Messages


async def test_a_message_posted_through_the_api_reaches_open_pages_and_is_stored_once(
    server: LiveServer, api: Call, alice: User, bob: User, general: Room
) -> None:
    bot = await api(bob)
    async with room_page(server, alice, general) as alice_page:
        first = await bot.post(
            f"/rooms/{general.id}/messages",
            json={"body": f"Build is green, @{alice.handle} <b>!</b>"},
            headers={"Idempotency-Key": "build-1234"},
        )
        await alice_page.expect("Build is green")
        again = await bot.post(
            f"/rooms/{general.id}/messages",
            json={"body": f"Build is green, @{alice.handle} <b>!</b>"},
            headers={"Idempotency-Key": "build-1234"},
        )

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    message = first.json()
    assert message["author"]["id"] == bob.id
    assert message["mentions"] == {alice.handle: alice.id}
    history = (await bot.get(f"/rooms/{general.id}/messages")).json()["messages"]
    assert [m["id"] for m in history] == [message["id"]]


async def test_history_pages_back_and_forth_by_message_id(
    db: Database, api: Call, alice: User, general: Room
) -> None:
    ids = [
        (await messages.create_message(db, alice, general.id, f"number {n}")).message.id
        for n in range(7)
    ]
    reader = await api(alice, Scope.READ)

    newest = (await reader.get(f"/rooms/{general.id}/messages", params={"limit": 3})).json()
    older = (
        await reader.get(f"/rooms/{general.id}/messages", params={"limit": 3, "before": ids[4]})
    ).json()
    newer = (
        await reader.get(f"/rooms/{general.id}/messages", params={"limit": 2, "after": ids[1]})
    ).json()

    assert [m["id"] for m in newest["messages"]] == ids[4:]
    assert newest["has_older"]
    assert [m["id"] for m in older["messages"]] == ids[1:4]
    assert [m["id"] for m in newer["messages"]] == ids[2:4]
    assert newer["newer"] == 3
    both = {"before": ids[3], "after": ids[1]}
    refused(await reader.get(f"/rooms/{general.id}/messages", params=both), 400, "bad_request")


async def test_authors_edit_and_delete_their_messages_and_no_one_else_can(
    api: Call, alice: User, bob: User, general: Room
) -> None:
    alices, bobs = await api(alice), await api(bob)
    posted = (await alices.post(f"/rooms/{general.id}/messages", json={"body": "tpyo"})).json()
    path = f"/rooms/{general.id}/messages/{posted['id']}"

    refused(await bobs.patch(path, json={"body": "hijacked"}), 403, "forbidden")
    edited = (await alices.patch(path, json={"body": "typo"})).json()
    assert (edited["body"], edited["edited_at"] is not None) == ("typo", True)
    assert edited["seq"] > posted["seq"]

    refused(await bobs.delete(path), 403, "forbidden")
    assert (await alices.delete(path)).status_code == 204
    assert (await alices.get(f"/rooms/{general.id}/messages")).json()["messages"] == []
    refused(await alices.patch(path, json={"body": "back"}), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body": ""}, "bad_request"),
        ({"body": "   "}, "bad_request"),
        ({"body": "x" * 4001}, "invalid_request"),
        ({"body": 42}, "invalid_request"),
        ({"body": "hi", "reply_to": 0}, "invalid_request"),
        ({"body": "hi", "reply_to": 2**63}, "invalid_request"),
        ({"body": "hi", "reply_to": 999_999}, "not_found"),
        ({"body": "", "attachment_ids": [999_999]}, "bad_request"),
        ({"body": "hi", "attachment_ids": ["one"]}, "invalid_request"),
    ],
)
async def test_a_message_that_cannot_be_posted_is_refused_and_nothing_is_stored(
    api: Call, alice: User, general: Room, body: dict[str, object], code: str
) -> None:
    client = await api(alice)

    response = await client.post(f"/rooms/{general.id}/messages", json=body)

    assert response.status_code in {400, 404, 422}
    refused(response, response.status_code, code)
    assert (await client.get(f"/rooms/{general.id}/messages")).json()["messages"] == []


@pytest.mark.parametrize("key", [b"has space", b"x" * 65, "é".encode(), b""])
async def test_an_idempotency_key_of_the_wrong_shape_is_refused(
    api: Call, alice: User, general: Room, key: bytes
) -> None:
    response = await (await api(alice)).post(
        f"/rooms/{general.id}/messages", json={"body": "hi"}, headers={b"Idempotency-Key": key}
    )

    refused(response, 422, "invalid_request")


async def test_posting_faster_than_the_pages_may_is_refused_with_when_to_try_again(
    api: Call, alice: User, general: Room
) -> None:
    client = await api(alice)
    path = f"/rooms/{general.id}/messages"

    for n in range(30):
        response = await client.post(path, json={"body": f"burst {n}"})
        if response.status_code == 429:
            break
    else:
        pytest.fail("thirty messages in a row were all taken")

    refused(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1


# Search and files


async def test_search_finds_what_the_caller_may_read_with_matches_marked_and_text_escaped(
    db: Database, api: Call, alice: User, bob: User, general: Room
) -> None:
    await messages.create_message(db, bob, general.id, "deploy <script> tonight")
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    await messages.create_message(db, alice, secret.id, "deploy the secret")

    found = (await (await api(bob)).get("/search", params={"q": "deploy"})).json()

    assert [hit["room"] for hit in found["results"]] == [general.slug]
    assert "<mark>deploy</mark> &lt;script&gt;" in found["results"][0]["snippet"]
    assert found["next_offset"] is None


async def test_a_file_is_uploaded_sent_with_a_message_and_fetched_by_whoever_may_read_it(
    db: Database, api: Call, alice: User, bob: User, carol: User, general: Room
) -> None:
    alices = await api(alice)
    uploaded = await alices.post(
        f"/rooms/{general.id}/attachments", files={"file": ("plan.pdf", PDF, "application/pdf")}
    )
    assert uploaded.status_code == 201, uploaded.text
    file = uploaded.json()

    posted = await alices.post(
        f"/rooms/{general.id}/messages", json={"body": "", "attachment_ids": [file["id"]]}
    )

    assert [f["name"] for f in posted.json()["attachments"]] == ["plan.pdf"]
    assert (await (await api(bob)).get(file["url"].removeprefix("/api/v1"))).content == PDF
    secret = await rooms.create_room(db, alice, name="Secret", is_private=True)
    hidden = await alices.post(
        f"/rooms/{secret.id}/attachments", files={"file": ("plan.pdf", PDF, "application/pdf")}
    )
    path = hidden.json()["url"].removeprefix("/api/v1")
    refused(await (await api(carol)).get(path), 404, "not_found")


async def test_a_file_that_may_not_be_shared_is_refused_with_why(
    api: Call, alice: User, general: Room
) -> None:
    response = await (await api(alice)).post(
        f"/rooms/{general.id}/attachments", files={"file": ("setup.exe", b"MZ" + bytes(100))}
    )

    assert "setup.exe" in refused(response, 400, "bad_request")


# Errors


async def test_errors_are_json_with_a_stable_code_wherever_they_come_from(
    server: LiveServer, api: Call, alice: User, general: Room
) -> None:
    client = await api(alice)

    refused(await client.get("/nowhere"), 404, "not_found")
    refused(await client.get("/files/%0A%28"), 404, "not_found")  # a newline, decoded
    refused(await client.delete("/me"), 405, "method_not_allowed")
    refused(await client.get("/rooms/0"), 422, "invalid_request")
    refused(await client.get(f"/rooms/{2**63}"), 422, "invalid_request")
    not_json = await client.post(
        f"/rooms/{general.id}/messages",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    refused(not_json, 422, "invalid_request")
    huge = await client.post(f"/rooms/{general.id}/messages", json={"body": "x" * 100_000})
    refused(huge, 413, "too_large")


async def test_the_schema_and_its_documentation_page_are_served(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1") as http:
        schema = (await http.get("/openapi.json")).json()
        docs = await http.get("/docs")

    assert schema["info"]["title"] == "livechat API"
    assert "/rooms/{room_id}/messages" in schema["paths"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert docs.status_code == 200
    assert "/api/v1/openapi.json" in docs.text


async def test_reactions_read_as_the_page_shows_them_in_the_sets_order_with_who_gave_them(
    db: Database, api: Call, alice: User, bob: User, general: Room
) -> None:
    posted = (await messages.create_message(db, alice, general.id, "Shipped!")).message
    for person, emoji in ((bob, "🎉"), (alice, "👍"), (alice, "🎉")):
        await messages.toggle_reaction(db, person, posted.id, emoji, room_id=general.id)

    [shown] = (await (await api(alice)).get(f"/rooms/{general.id}/messages")).json()["messages"]

    assert [(r["emoji"], [p["id"] for p in r["people"]]) for r in shown["reactions"]] == [
        ("👍", [alice.id]),
        ("🎉", [bob.id, alice.id]),
    ]
