"""Demo data, so that a newcomer has people, rooms and history to look at and search."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from fastapi_users.password import PasswordHelper
from sqlalchemy import func, select, update

from livechat.accounts.handles import handle_from_name
from livechat.accounts.models import User
from livechat.chat.models import Membership, Message, Role, Room
from livechat.chat.rooms import slugify
from livechat.db import Database, utcnow
from livechat.settings import Settings

DEMO_PASSWORD = "correct horse battery"  # noqa: S105  (printed for the reader to log in)
DEMO_PEOPLE = (
    ("alice@example.com", "Alice Martin"),
    ("bob@example.com", "Bob Okafor"),
    ("chloe@example.com", "Chloé Dubois"),
    ("dev@example.com", "Dev Patel"),
)
DEMO_ROOMS = (
    ("General", "Announcements and everything else.", False),
    ("Engineering", "Builds, deploys and the odd outage.", False),
    ("Design", "Critiques, mock-ups and colour debates.", False),
    ("Leadership", "Planning for next quarter. Invite only.", True),
)
MESSAGES_PER_ROOM = 90
UNREAD_AT_START = 5  # of each room's messages, the newest few are new to everyone

_OPENERS = (
    "Morning everyone!",
    "Quick question:",
    "Heads up:",
    "FYI",
    "Has anyone looked at",
    "I just pushed",
    "Can someone review",
    "Reminder:",
    "Good news:",
    "Small thing, but",
)
_SUBJECTS = (
    "the deploy pipeline",
    "the onboarding flow",
    "the café order for Friday",
    "the search index",
    "the release notes",
    "the WebSocket reconnect logic",
    "the new colour palette",
    "the database migration",
    "the quarterly roadmap",
    "the customer feedback survey",
    "the résumé screening rota",
    "the flaky login test",
)
_ENDINGS = (
    "looks good to me.",
    "is ready for review.",
    "needs another pass before Thursday.",
    "broke on staging last night, investigating.",
    "is finally fast: p99 went from 800 ms to 40 ms.",
    "should ship this week.",
    "— thoughts?",
    "has a typo in the second paragraph.",
    "is blocked on the design sign-off.",
    "made my day, thank you!",
)


def _demo_body(rng: random.Random) -> str:
    return f"{rng.choice(_OPENERS)} {rng.choice(_SUBJECTS)} {rng.choice(_ENDINGS)}"


async def seed_demo_data(settings: Settings) -> str:
    """Add the demo people, rooms and messages unless they are already there."""
    db = Database(settings.database_url)
    try:
        async with db.read() as session:
            if await session.scalar(select(func.count(User.id))):
                return "The database already has users; nothing was seeded."
        hashed = await asyncio.to_thread(PasswordHelper().hash, DEMO_PASSWORD)
        rng = random.Random(2026)  # noqa: S311  (repeatable demo text, not a secret)
        async with db.write() as session:
            people = [
                # The demo names make distinct handles, with no number needed.
                User(
                    email=email,
                    display_name=name,
                    handle=handle_from_name(name),
                    hashed_password=hashed,
                )
                for email, name in DEMO_PEOPLE
            ]
            session.add_all(people)
            await session.flush()
            start = utcnow() - timedelta(days=7)
            messages: list[Message] = []
            for name, description, is_private in DEMO_ROOMS:
                room = Room(
                    name=name,
                    slug=slugify(name),
                    description=description,
                    creator_id=people[0].id,
                    is_private=is_private,
                    last_seq=MESSAGES_PER_ROOM,
                )
                session.add(room)
                await session.flush()
                members = people[:2] if is_private else people
                session.add_all(
                    Membership(
                        user_id=person.id,
                        room_id=room.id,
                        role=Role.ADMIN if person is people[0] else Role.MEMBER,
                    )
                    for person in members
                )
                messages.extend(
                    Message(
                        room_id=room.id,
                        user_id=rng.choice(members).id,
                        body=_demo_body(rng),
                        seq=seq,
                        inserted_at=start + timedelta(minutes=seq * 100 + rng.randrange(60)),
                    )
                    for seq in range(1, MESSAGES_PER_ROOM + 1)
                )
            # Stored in the order they were sent, as a running server stores them: search
            # shows the newest first by id.
            messages.sort(key=lambda message: message.inserted_at)
            session.add_all(messages)
            await session.flush()
            # Everyone has read all but the last few of each room, as after a day away:
            # the room list has something new to count, not a whole week.
            read_to = (
                select(Message.id)
                .where(Message.room_id == Membership.room_id)
                .order_by(Message.id.desc())
                .offset(UNREAD_AT_START)
                .limit(1)
                .scalar_subquery()
            )
            await session.execute(update(Membership).values(last_read_id=read_to))
    finally:
        await db.dispose()
    emails = ", ".join(email for email, _ in DEMO_PEOPLE)
    return (
        f"Seeded {len(DEMO_PEOPLE)} people, {len(DEMO_ROOMS)} rooms and"
        f" {len(DEMO_ROOMS) * MESSAGES_PER_ROOM} messages.\n"
        f"Log in as any of {emails} with the password: {DEMO_PASSWORD}"
    )
