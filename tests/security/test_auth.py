"""Auth on every route of every running service, read from each service's OpenAPI: a
route is public by a decision written down here, or it refuses a request without
credentials, with a wrong or forged token, with a token under another scheme and with
every other role's token (crawler, operator, a bureau's key, a revoked key), each with 401
or 403, never 2xx, 404, 422 or 5xx. A route of an OpenAPI that is neither public here nor
refusing is a failure, so a new route is covered the day it appears."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.security.openapi import Operation, example, operations, plausible, read_spec
from tests.security.tally import Tally
from tools.harness import CRAWLER_TOKEN, OPERATOR_TOKEN, SERVICE_NAMES, Stack

#: Public by design: health and readiness everywhere; the registry's read-only query API,
#: exports and dashboard aggregates (what the dashboard at / reads, no secret in them);
#: notify's one-click unsubscribe link, whose credential is its signed token (a bad one is
#: a 400, tested in tests/unit/notify/test_email_digest.py).
PUBLIC: frozenset[tuple[str, str, str]] = frozenset(
    {
        *((service, "GET", path) for service in SERVICE_NAMES for path in ("/healthz", "/readyz")),
        *(
            ("registry", "GET", path)
            for path in (
                "/v1/alliances",
                "/v1/alliances.csv",
                "/v1/alliances/{alliance_id}",
                "/v1/institutions",
                "/v1/institutions/{institution_id}",
                "/v1/articles",
                "/v1/articles/{article_id}",
                "/v1/stats",
                "/v1/network",
                "/v1/network.graphml",
                "/v1/views/map",
                "/v1/views/timeline",
                "/v1/views/table",
                "/v1/views/facets",
            )
        ),
        ("notify", "GET", "/v1/unsubscribe"),
        ("notify", "POST", "/v1/unsubscribe"),
    }
)

#: Public pages outside the OpenAPI documents (include_in_schema=False), and the documents.
PUBLIC_PAGES = [
    *(
        (service, path)
        for service in SERVICE_NAMES
        for path in ("/openapi.json", "/docs", "/metrics")
    ),
    ("registry", "/"),
    ("notify", "/portal/login"),
    ("registry", "/review/login"),
]

#: Who a protected route is for, by its service and path; a protected route none of these
#: names is unclassified, and fails.
ROLES = [
    ("ingest", "/v1/articles", "crawler"),
    ("registry", "/v1/renames", "operator"),
    ("registry", "/v1/analysts", "operator"),
    ("registry", "/v1/review", "analyst"),
    ("registry", "/v1/reviews", "analyst"),
    *(
        ("registry", f"/v1/alliances/{{alliance_id}}/{action}", "analyst")
        for action in ("review", "merge", "split", "history")
    ),
    ("notify", "/v1/bureaus", "operator"),
    ("notify", "/v1/keys", "bureau"),
    ("notify", "/v1/subscriptions", "bureau"),
    ("notify", "/v1/deliveries", "bureau"),
]

#: A role's right token, for the one call per role that shows the tokens work at all
#: (else every refusal below would prove nothing).
ACCEPTED = {
    "crawler": ("ingest", "POST", "/v1/articles/batch", b"[]", 202),
    "operator": ("notify", "GET", "/v1/bureaus", None, 200),
    "bureau": ("notify", "GET", "/v1/subscriptions", None, 200),
    "analyst": ("registry", "GET", "/v1/review/queue", None, 200),
}


def role_of(op: Operation) -> str | None:
    for service, prefix, role in ROLES:
        if op.service == service and (op.path == prefix or op.path.startswith(prefix + "/")):
            return role
    return None


def forged(key: str) -> str:
    """A key shaped like ``key`` (its lookup prefix kept) whose secret part is wrong."""
    head, _, secret = key.rpartition("_")
    return f"{head}_{'A' * len(secret)}"


def credentials(role: str, tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every way of calling a route of ``role`` that must be refused."""
    right = tokens[role]
    attempts = {
        "no credentials": {},
        "bearer without a token": {"Authorization": "Bearer"},
        "wrong token": {"Authorization": "Bearer not-a-token-0123456789abcdefghij"},
        "its token plus a character": {"Authorization": f"Bearer {right}x"},
        "its token under Basic": {
            "Authorization": "Basic " + base64.b64encode(f"{role}:{right}".encode()).decode()
        },
        "its token in X-Api-Key": {"X-Api-Key": right},
        "revoked bureau key": {"Authorization": f"Bearer {tokens['revoked']}"},
        "forged bureau key": {"Authorization": f"Bearer {forged(tokens['bureau'])}"},
    }
    for other in ("crawler", "operator", "bureau", "analyst"):
        if other != role:
            attempts[f"{other} token"] = {"Authorization": f"Bearer {tokens[other]}"}
    return attempts


def call(
    client: httpx.Client,
    stack: Stack,
    op: Operation,
    spec: dict[str, Any],
    headers: dict[str, str],
    query: dict[str, str] | None = None,
) -> httpx.Response:
    values = {name: plausible(schema, spec, name) for name, schema in op.path_params.items()}
    content = None
    if op.body is not None:
        headers = {**headers, "Content-Type": "application/json"}
        content = json.dumps(example(op.body, spec), ensure_ascii=False).encode()
    return client.request(
        op.method,
        stack[op.service].url + op.url(values),
        headers=headers,
        content=content,
        params=query,
    )


def refused(answer: httpx.Response) -> str | None:
    if answer.status_code in (401, 403):
        return None
    return f"answered {answer.status_code}: {answer.text[:200]}"


def public_answer(answer: httpx.Response) -> str | None:
    if answer.status_code in (401, 403) or answer.status_code >= 500:
        return f"a public route answered {answer.status_code}: {answer.text[:200]}"
    return None


def bureau_keys(client: httpx.Client, stack: Stack) -> tuple[str, str]:
    """A live key of a new bureau, and a revoked one of the same bureau."""
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    created = client.post(
        stack["notify"].url + "/v1/bureaus", json={"name": "鉴权测试卫健委"}, headers=operator
    )
    created.raise_for_status()
    bureau = created.json()
    mine = {"Authorization": f"Bearer {bureau['api_key']}"}
    spare = client.post(stack["notify"].url + "/v1/keys", json={"label": "spare"}, headers=mine)
    spare.raise_for_status()
    revoked = client.delete(stack["notify"].url + f"/v1/keys/{spare.json()['id']}", headers=mine)
    revoked.raise_for_status()
    return bureau["api_key"], spare.json()["api_key"]


def analyst_key(client: httpx.Client, stack: Stack) -> str:
    """A live review key the registry's operator issued."""
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    created = client.post(
        stack["registry"].url + "/v1/analysts", json={"name": "鉴权测试分析员"}, headers=operator
    )
    created.raise_for_status()
    key: str = created.json()["api_key"]
    return key


def test_every_route_refuses_without_the_right_credentials(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/auth")
    with httpx.Client(timeout=30) as client:
        bureau, revoked = bureau_keys(client, stack)
        tokens = {
            "crawler": CRAWLER_TOKEN,
            "operator": OPERATOR_TOKEN,
            "bureau": bureau,
            "revoked": revoked,
            "analyst": analyst_key(client, stack),
        }
        for role, (service, method, path, body, status) in ACCEPTED.items():
            headers = {
                "Authorization": f"Bearer {tokens[role]}",
                "Content-Type": "application/json",
            }
            answer = client.request(
                method, stack[service].url + path, headers=headers, content=body
            )
            problem = None if answer.status_code == status else f"answered {answer.status_code}"
            tally.check(f"{role} token accepted on {method} {path}", problem)
        for service in SERVICE_NAMES:
            spec = read_spec(stack[service].url)
            for op in operations(service, spec):
                if (service, op.method, op.path) in PUBLIC:
                    answer = call(client, stack, op, spec, {})
                    tally.check(f"{op.name} (public) without credentials", public_answer(answer))
                    continue
                role = role_of(op)
                if role is None:
                    tally.check(op.name, "neither public nor classified by role")
                    continue
                tally.check(f"{op.name} documents its bearer token", None if op.secured else "no")
                for what, headers in credentials(role, tokens).items():
                    tally.check(
                        f"{op.name} with {what}", refused(call(client, stack, op, spec, headers))
                    )
        for service, path in PUBLIC_PAGES:
            answer = client.get(stack[service].url + path)
            problem = None if answer.status_code == 200 else f"answered {answer.status_code}"
            tally.check(f"{service} GET {path} (public page)", problem)
    tally.report(capsys)
