"""Schemathesis against the API's own OpenAPI schema, on a ``livechat serve`` of its own:
whatever the schema allows a caller to send, and much it does not, is answered without a
server error, with a status, a content type and a body the schema documents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from livechat.accounts import tokens
from livechat.accounts.models import User
from livechat.accounts.tokens import Scope
from livechat.chat import messages
from livechat.chat.models import Room
from livechat.db import Database
from livechat.settings import Settings
from tests.live import livechat_processes

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class ServedApi:
    url: str
    token: str


@pytest.fixture
async def token(db: Database, alice: User, general: Room) -> str:
    """Alice's, who is in a room with a message in it, for the calls to find things."""
    await messages.create_message(db, alice, general.id, "something to find")
    _, secret = await tokens.issue_token(db, alice, name="schema", scope=Scope.WRITE)
    return secret


@pytest.fixture
def served_api(
    settings: Settings, redis_url: str, tmp_path: Path, token: str
) -> Iterator[ServedApi]:
    with livechat_processes(settings, redis_url, tmp_path) as start:
        yield ServedApi(f"{start().address.url}/api/v1", token)


def test_every_operation_answers_as_its_schema_says(served_api: ServedApi) -> None:
    schema = schemathesis.openapi.from_url(f"{served_api.url}/openapi.json")
    # An event stream answers for as long as it is open: its own tests read it.
    operations = []
    for found in schema.exclude(path="/events").get_all_operations():
        assert isinstance(found, Ok), f"the schema is not valid: {found.err()}"
        operations.append(found.ok())
    assert len(operations) >= 12, "the schema lost operations"

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=100,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case: Case[Any]) -> None:
            case.call_and_validate(
                base_url=served_api.url,
                headers={"Authorization": f"Bearer {served_api.token}"},
                checks=CHECKS,
            )

        answers_as_documented()
