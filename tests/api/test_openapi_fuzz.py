"""Schemathesis over the OpenAPI document, in-process and deterministic (SPEC §9).

Every operation gets generated requests, valid and invalid, as a signed-in armorer and as the
server's admin. Each answer must be no 5xx, a status the document declares for that route, a body
that matches the declared schema, and invalid input must be rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.api.conftest import ApiNode, open_api_node

PEOPLE = {"ana": "armorer", "dan": "first_ad", "lee": "performer", "sue": "safety"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiNode]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    for node in open_api_node(data_dir, f"sqlite:///{data_dir / 'armory.db'}"):
        for user in PEOPLE:
            node.add_user(user)
        node.post("root", "/books", json={"book": "film", "kind": "production", "name": "Film"})
        for user, role in PEOPLE.items():
            node.ok(
                "film",
                "root",
                {"type": "enroll_person", "person": user, "name": user, "roles": [role]},
            )
        yield node


FUZZ = settings(
    max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.mark.parametrize("user", ["ana", "root"], ids=["as the armorer", "as the admin"])
def test_every_operation_keeps_its_contract(fuzzed: ApiNode, user: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed.client.app)
    headers = fuzzed.headers(user)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation the fuzzer cannot read: {result.err()}"
        operations.append(result.ok())
    assert len(operations) >= 25, "the document lost routes"
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers)

        fuzz()
