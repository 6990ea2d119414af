"""Full-text search: turning what people type into safe queries, order, scoping, snippets."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from livechat.accounts.models import User
from livechat.chat import messages, rooms, search
from livechat.chat.models import Message
from livechat.db import Database


async def room_with(
    db: Database, admin: User, *bodies: str, name: str = "General", is_private: bool = False
) -> str:
    """A room created by ``admin`` holding ``bodies`` (oldest first); returns its slug."""
    room = await rooms.create_room(db, admin, name=name, is_private=is_private)
    for body in bodies:
        await messages.create_message(db, admin, room.slug, body)
    return room.slug


async def post(db: Database, user: User, slug: str, body: str) -> Message:
    return (await messages.create_message(db, user, slug, body)).message


async def found_bodies(db: Database, user: User, query: str, room: str | None = None) -> set[str]:
    results = await search.search_messages(db, user, query, room)
    return {plain(result.snippet) for result in results}


def plain(snippet: Markup) -> str:
    """The text of a snippet, as a reader sees it."""
    return snippet.striptags()


# Turning input into an FTS5 query


@pytest.mark.parametrize(
    ("user_input", "fts_query"),
    [
        ("hello", '"hello"*'),
        ("hello world", '"hello" "world"*'),
        ("  hello \t  world  ", '"hello" "world"*'),
        ('"hello world"', '"hello world"'),
        ('"hello   world"', '"hello world"'),
        ('"hello world" again', '"hello world" "again"*'),
        ('again "hello world"', '"again" "hello world"'),
        ('"hello wor', '"hello wor"'),
        ("café", '"café"*'),
        ("foo NOT bar", '"foo" "NOT" "bar"*'),
        ("AND (", '"AND"*'),
        ("NEAR(", '"NEAR("*'),
        ("body:", '"body:"*'),
        ("col:foo", '"col:foo"*'),
        ("^foo", '"^foo"*'),
        ('a" OR "b', '"a""" "OR" "b"'),
        ("1 2 3 4 5 6 7 8 9 10", '"1" "2" "3" "4" "5" "6" "7" "8"*'),
        ('"', None),
        ('""', None),
        ('"""', None),
        ("*", None),
        ("-", None),
        (")", None),
        ("( ) * - :", None),
        ("🎉", None),
        ("🎉 🚀", None),
        ("", None),
        ("   ", None),
        ("\t\n", None),
    ],
)
def test_user_input_becomes_a_safe_fts_query(user_input: str, fts_query: str | None) -> None:
    assert search.to_fts_query(user_input) == fts_query


@pytest.mark.parametrize(
    ("user_input", "tsquery"),
    [
        ("hello", "('hello':*)"),
        ("hello world", "('hello') & ('world':*)"),
        ('"hello world"', "('hello' <-> 'world')"),
        ('"hello world" again', "('hello' <-> 'world') & ('again':*)"),
        ('"hello wor', "('hello' <-> 'wor')"),
        ("café", "('café':*)"),
        ("deploy-pipe", "('deploy' <-> 'pipe':*)"),
        ("it's", "('it' <-> 's':*)"),
        ("a & b | !c <-> d:*", "('a') & ('b') & ('c') & ('d':*)"),
        ("'x' \\ (", "('x':*)"),
        ("foo NOT bar", "('foo') & ('NOT') & ('bar':*)"),
        ("snake_case", "('snake' <-> 'case':*)"),
        ("___", None),
        ("( ) * - :", None),
        ("🎉", None),
        ("", None),
    ],
)
def test_user_input_becomes_a_tsquery_of_quoted_words_alone(
    user_input: str, tsquery: str | None
) -> None:
    assert search.to_tsquery(user_input) == tsquery


def test_a_very_long_query_is_truncated() -> None:
    fts_query = search.to_fts_query("x" * 10_000)

    assert fts_query is not None
    assert fts_query == '"' + "x" * search.MAX_QUERY_CHARACTERS + '"*'


def test_a_very_long_query_of_many_words_keeps_a_few_terms() -> None:
    fts_query = search.to_fts_query("word " * 2_000)

    assert fts_query is not None
    assert fts_query == " ".join(['"word"'] * search.MAX_TERMS) + "*"


ABUSIVE_INPUTS = [
    '"',
    'a" OR "b',
    "AND (",
    ")",
    "*",
    "NEAR(",
    "NEAR(hello world)",
    "body:",
    "col:foo",
    "body:hello",
    "-",
    "-hello",
    "^foo",
    "foo NOT bar",
    "hello OR",
    '"""',
    '""hello""',
    "'; DROP TABLE messages; --",
    "hello*world",
    "_",
    "🎉",
    "🎉 hello 🚀",
    "",
    "   ",
    "x" * 10_000,
    "hello " * 2_000,
    "\x02hello\x03",
]


@pytest.mark.parametrize("query", ABUSIVE_INPUTS)
async def test_search_never_fails_whatever_is_typed(db: Database, alice: User, query: str) -> None:
    await room_with(db, alice, "hello world", "foo bar", "NEAR the body: of AND")

    results = await search.search_messages(db, alice, query)

    assert isinstance(results, list)
    assert all(isinstance(result, search.SearchResult) for result in results)


@pytest.mark.parametrize("query", ["hello\x00world", "hello\x00", "a\x00b"])
async def test_search_does_not_fail_on_a_nul_character(
    db: Database, alice: User, query: str
) -> None:
    await room_with(db, alice, "hello world")

    results = await search.search_messages(db, alice, query)

    assert isinstance(results, list)


async def test_operators_are_searched_as_plain_words(db: Database, alice: User) -> None:
    await room_with(db, alice, "foo bar", "foo NOT bar", "cats AND dogs", "cats dogs")

    assert await found_bodies(db, alice, "foo NOT bar") == {"foo NOT bar"}
    assert await found_bodies(db, alice, "cats AND dogs") == {"cats AND dogs"}


# Matching


async def test_an_empty_query_finds_nothing(db: Database, alice: User) -> None:
    await room_with(db, alice, "hello", "world")

    assert await search.search_messages(db, alice, "") == []
    assert await search.search_messages(db, alice, "   ") == []
    assert await search.search_messages(db, alice, '"') == []


async def test_the_last_word_matches_as_a_prefix(db: Database, alice: User) -> None:
    await room_with(db, alice, "café au lait", "the cafeteria is closed", "a calf in a field")

    assert await found_bodies(db, alice, "caf") == {"café au lait", "the cafeteria is closed"}


async def test_only_the_last_word_matches_as_a_prefix(db: Database, alice: User) -> None:
    await room_with(db, alice, "cafeteria food", "café food")

    assert await found_bodies(db, alice, "caf foo") == set()
    assert await found_bodies(db, alice, "food caf") == {"cafeteria food", "café food"}


async def test_diacritics_are_ignored_in_messages(db: Database, alice: User) -> None:
    await room_with(db, alice, "un café crème", "naïve résumé")

    assert await found_bodies(db, alice, "cafe") == {"un café crème"}
    assert await found_bodies(db, alice, "naive resume") == {"naïve résumé"}


async def test_diacritics_are_ignored_in_queries(db: Database, alice: User) -> None:
    await room_with(db, alice, "meet at the cafe", "my resume is ready")

    assert await found_bodies(db, alice, "café") == {"meet at the cafe"}
    assert await found_bodies(db, alice, '"résumé is"') == {"my resume is ready"}


async def test_search_ignores_case(db: Database, alice: User) -> None:
    await room_with(db, alice, "HELLO There")

    assert await found_bodies(db, alice, "hello there") == {"HELLO There"}


async def test_a_quoted_phrase_needs_its_words_next_to_each_other(
    db: Database, alice: User
) -> None:
    await room_with(db, alice, "I drink green tea daily", "green apples and black tea")

    assert await found_bodies(db, alice, '"green tea"') == {"I drink green tea daily"}
    assert await found_bodies(db, alice, "green tea") == {
        "I drink green tea daily",
        "green apples and black tea",
    }


async def test_a_quoted_phrase_is_not_matched_as_a_prefix(db: Database, alice: User) -> None:
    await room_with(db, alice, "green tea", "green te")

    assert await found_bodies(db, alice, '"green te"') == {"green te"}
    assert await found_bodies(db, alice, "green te") == {"green tea", "green te"}


async def test_every_term_is_required(db: Database, alice: User) -> None:
    await room_with(db, alice, "red apples", "green apples", "red cars")

    assert await found_bodies(db, alice, "red apples") == {"red apples"}
    assert await found_bodies(db, alice, "red apples cars") == set()


# Order and paging


async def test_matches_come_newest_first_however_often_they_name_the_term(
    db: Database, alice: User
) -> None:
    slug = await room_with(db, alice, name="General")
    emphatic = await post(db, alice, slug, "pizza pizza pizza")
    posted = [await post(db, alice, slug, "lunch at noon, pizza maybe") for _ in range(3)]

    results = await search.search_messages(db, alice, "pizza")

    newest_first = [m.id for m in reversed(posted)] + [emphatic.id]
    assert [result.message_id for result in results] == newest_first


async def test_results_can_be_paged_with_limit_and_offset(db: Database, alice: User) -> None:
    slug = await room_with(db, alice, name="General")
    posted = [await post(db, alice, slug, f"standup notes {n}") for n in range(5)]

    pages = [
        await search.search_messages(db, alice, "standup", limit=2, offset=offset)
        for offset in (0, 2, 4, 6)
    ]

    assert [len(page) for page in pages] == [2, 2, 1, 0]
    ids = [result.message_id for page in pages for result in page]
    assert ids == [m.id for m in reversed(posted)]


async def test_results_end_at_the_deepest_page(
    db: Database, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_RESULTS", 3)
    slug = await room_with(db, alice, name="General")
    posted = [await post(db, alice, slug, f"standup notes {n}") for n in range(5)]

    first = await search.search_messages(db, alice, "standup", limit=2)
    last = await search.search_messages(db, alice, "standup", limit=2, offset=2)
    beyond = await search.search_messages(db, alice, "standup", limit=2, offset=3)

    newest = [m.id for m in reversed(posted)]
    assert [r.message_id for r in first + last] == newest[:3]
    assert beyond == []


# What a result shows


async def test_a_result_names_its_room_and_author(db: Database, alice: User, bob: User) -> None:
    slug = await room_with(db, alice, name="Café Talk")
    await rooms.join_room(db, bob, slug)
    message = await post(db, bob, slug, "anyone for espresso?")

    [result] = await search.search_messages(db, alice, "espresso")

    assert result.message_id == message.id
    assert result.room_slug == "cafe-talk"
    assert result.room_name == "Café Talk"
    assert result.author_name == "Bob Okafor"
    assert result.author_id == bob.id
    assert result.inserted_at == message.inserted_at


async def test_matches_are_highlighted_and_message_html_is_escaped(
    db: Database, alice: User
) -> None:
    await room_with(db, alice, "<script>alert(1)</script> hello & <b>goodbye</b>")

    [result] = await search.search_messages(db, alice, "hello")
    snippet = str(result.snippet)

    assert isinstance(result.snippet, Markup)
    assert "<mark>hello</mark>" in snippet
    assert "&lt;script&gt;" in snippet
    assert "&amp;" in snippet
    assert "&lt;b&gt;" in snippet
    assert "<script" not in snippet
    assert "<b>" not in snippet


async def test_every_matching_word_is_highlighted(db: Database, alice: User) -> None:
    await room_with(db, alice, "Café and more cafe, then a cafeteria")

    [result] = await search.search_messages(db, alice, "cafe")

    assert str(result.snippet).count("<mark>") == 3
    assert "<mark>Café</mark>" in str(result.snippet)


async def test_a_long_message_is_shortened_around_the_match(db: Database, alice: User) -> None:
    words = [f"filler{n}" for n in range(200)]
    words[120] = "needle"
    await room_with(db, alice, " ".join(words))

    [result] = await search.search_messages(db, alice, "needle")

    assert "<mark>needle</mark>" in str(result.snippet)
    assert "…" in str(result.snippet)
    assert len(plain(result.snippet)) < len(" ".join(words)) // 2


# Who finds what


async def test_a_private_rooms_messages_are_never_found_by_non_members(
    db: Database, alice: User, bob: User
) -> None:
    secret = await room_with(db, alice, "the secret password", name="Secret", is_private=True)
    await room_with(db, alice, "no secret here", name="General")

    everywhere = await search.search_messages(db, bob, "secret", public_rooms=True)

    assert [plain(result.snippet) for result in everywhere] == ["no secret here"]
    assert await search.search_messages(db, bob, "password", public_rooms=True) == []
    assert await search.search_messages(db, bob, "secret", room=secret) == []


async def test_a_private_rooms_messages_are_found_by_its_members(
    db: Database, alice: User, bob: User
) -> None:
    secret = await room_with(db, alice, "the secret password", name="Secret", is_private=True)
    await rooms.add_member(db, alice, secret, bob.email)

    [result] = await search.search_messages(db, bob, "password")

    assert result.room_slug == secret
    assert await found_bodies(db, alice, "password") == {"the secret password"}


async def test_leaving_a_private_room_hides_its_messages_from_search(
    db: Database, alice: User, bob: User
) -> None:
    secret = await room_with(db, alice, "the secret password", name="Secret", is_private=True)
    await rooms.add_member(db, alice, secret, bob.email)
    await rooms.leave_room(db, bob, secret)

    assert await search.search_messages(db, bob, "password") == []


async def test_public_rooms_someone_never_joined_are_searched_only_when_asked(
    db: Database, alice: User, bob: User
) -> None:
    general = await room_with(db, alice, "open announcement", name="General")

    assert await found_bodies(db, bob, "announcement") == set()
    [found] = await search.search_messages(db, bob, "announcement", public_rooms=True)
    assert plain(found.snippet) == "open announcement"
    assert await found_bodies(db, bob, "announcement", room=general) == {"open announcement"}


async def test_my_rooms_include_the_private_ones_and_the_public_ones_i_joined(
    db: Database, alice: User, bob: User
) -> None:
    secret = await room_with(db, alice, "standup moved", name="Secret", is_private=True)
    general = await room_with(db, alice, "standup today", name="General")
    await room_with(db, alice, "standup elsewhere", name="Random")
    await rooms.add_member(db, alice, secret, bob.email)
    await rooms.join_room(db, bob, general)

    assert await found_bodies(db, bob, "standup") == {"standup moved", "standup today"}


async def test_a_room_scope_limits_results_to_that_room(db: Database, alice: User) -> None:
    general = await room_with(db, alice, "hello from general", name="General")
    await room_with(db, alice, "hello from random", name="Random")

    results = await search.search_messages(db, alice, "hello", room=general)

    assert [result.room_slug for result in results] == [general]
    assert await found_bodies(db, alice, "hello") == {"hello from general", "hello from random"}
    assert await search.search_messages(db, alice, "hello", room="no-such-room") == []


# Keeping up with changes


async def test_a_deleted_message_disappears_from_results_at_once(db: Database, alice: User) -> None:
    slug = await room_with(db, alice, "keep this note")
    doomed = await post(db, alice, slug, "delete this note")

    await messages.delete_message(db, alice, doomed.id)

    assert await found_bodies(db, alice, "note") == {"keep this note"}
    assert await search.search_messages(db, alice, "delete") == []


async def test_an_edited_message_is_found_by_its_new_text_only(db: Database, alice: User) -> None:
    slug = await room_with(db, alice, name="General")
    message = await post(db, alice, slug, "meeting on tuesday")

    await messages.edit_message(db, alice, message.id, "meeting on thursday")

    assert await search.search_messages(db, alice, "tuesday") == []
    [result] = await search.search_messages(db, alice, "thursday")
    assert result.message_id == message.id
    assert plain(result.snippet) == "meeting on thursday"


async def test_messages_of_a_deleted_room_are_no_longer_found(db: Database, alice: User) -> None:
    slug = await room_with(db, alice, "soon to vanish", name="Doomed")
    await room_with(db, alice, "here to stay", name="General")

    await rooms.delete_room(db, alice, slug)

    assert await search.search_messages(db, alice, "vanish") == []
    assert await found_bodies(db, alice, "stay") == {"here to stay"}
