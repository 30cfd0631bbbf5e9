"""schemathesis against every service's OpenAPI, on the running services: whatever it
sends, no answer is a 5xx and every answer matches the documented schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tools.harness import CRAWLER_TOKEN, OPERATOR_TOKEN, Stack

#: What the issue asks: no 5xx, and every answer as documented (code, type, body). Not
#: "every schema-valid request succeeds": a well-formed but unknown cursor or id is a 4xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

FUZZ = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same inputs every run: a failure here is reproducible
    database=None,
)


def fuzz(base_url: str, token_for: Callable[[str], str]) -> list[str]:
    """Every operation of the service's schema, each with generated requests."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operations"
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            headers = {"Authorization": f"Bearer {token_for(case.path)}"}
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # collected: report every operation
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    return failures


def test_ingest_api(system: Stack) -> None:
    assert fuzz(system["ingest"].url, lambda path: CRAWLER_TOKEN) == []


def test_registry_api(system: Stack) -> None:
    assert fuzz(system["registry"].url, lambda path: OPERATOR_TOKEN) == []


@pytest.fixture(scope="module")
def bureau_key(system: Stack) -> str:
    return system.create_bureau("模糊测试卫健委")


def test_notify_api(system: Stack, bureau_key: str) -> None:
    def token(path: str) -> str:
        return OPERATOR_TOKEN if path.startswith("/v1/bureaus") else bureau_key

    assert fuzz(system["notify"].url, token) == []
