"""The tenant matrix against the running notify: three bureaus, each with two API keys,
a webhook and a robot subscription, and the alerts an article sent them through the whole
pipeline. Every route of notify's OpenAPI is tried with each bureau's key on each other
bureau's resources: a route naming a subscription, delivery or key answers 404 (403 would
do), an operator route 401, never with a word of the other bureau's data; a list shows a
bureau its own only. Afterwards every bureau's resources are as they were, its keys still
work. A route with a path parameter this matrix does not know fails it, so a new route is
tried the day it appears."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.security.bureaus import bearer, demo_article, new_bureau
from tests.security.openapi import Operation, example, operations, read_spec
from tests.security.tally import Tally
from tools.harness import Stack, WebhookReceiver

#: What a path or query parameter names: whose value of it a request carries.
RESOURCES = {
    "subscription_id": "subscriptions",
    "delivery_id": "deliveries",
    "key_id": "keys",
    "bureau_id": "bureau",
}
#: Routes only the operator may call (a bureau's key is no operator token: 401).
OPERATOR_PREFIX = "/v1/bureaus"
#: Routes that create under the caller's own bureau; the lists show no one else sees it.
CREATES = {("POST", "/v1/subscriptions"), ("POST", "/v1/keys")}
#: Routes that act on the caller's own in bulk, narrowed by ids in their body (a replay of
#: a subscription's deliveries): another bureau's id there is a 404 like in a path.
BULK = {("POST", "/v1/deliveries/replay")}
#: Routes whose credential is a signed token in the query, not a bureau's key (one-click
#: unsubscribe): a bureau's key opens nothing there, and a token forged for another
#: bureau's subscription is a 400 (the matrix's end checks the subscription unchanged).
TOKEN_ROUTES = {("GET", "/v1/unsubscribe"), ("POST", "/v1/unsubscribe")}
#: Reads first, destruction last: a leak is seen before a deletion could hide it.
ORDER = {"GET": 0, "PATCH": 1, "PUT": 1, "POST": 2, "DELETE": 3}
LEAD = "山西医科大学第二医院"
#: A bound on the pipeline taking an article to its deliveries, not a measure of it.
DELIVERY_TIMEOUT_SECONDS = 90


@dataclass
class Tenant:
    name: str
    id: str
    keys: list[str]  # the API keys themselves
    resources: dict[str, list[str]] = field(default_factory=dict)
    #: What no other bureau may ever read: names, URLs, secrets, keys, ids.
    private: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.keys[0])


def set_up(client: httpx.Client, notify: str, receiver: WebhookReceiver, name: str) -> Tenant:
    created = new_bureau(client, notify, name)
    tenant = Tenant(name, created["id"], [created["api_key"]])
    spare = client.post(notify + "/v1/keys", json={"label": "spare"}, headers=tenant.auth)
    spare.raise_for_status()
    tenant.keys.append(spare.json()["api_key"])
    tenant.resources = {
        "bureau": [tenant.id],
        "keys": [created["key_id"], spare.json()["id"]],
        "subscriptions": [],
        "deliveries": [],
    }
    tenant.private += [name, *tenant.keys, *(k.split("_")[1] for k in tenant.keys)]  # key prefixes
    for channel in ("webhook", "wecom"):
        path = f"{uuid.uuid4().hex}/{channel}"
        body = {
            "name": f"{name} {channel}",
            "channel": channel,
            "url": receiver.url(path),
            "filters": {"institutions": [LEAD]},
        }
        answer = client.post(notify + "/v1/subscriptions", json=body, headers=tenant.auth)
        answer.raise_for_status()
        sub = answer.json()
        tenant.resources["subscriptions"].append(sub["id"])
        tenant.private += [body["name"], path, *([sub["secret"]] if sub.get("secret") else [])]
    return tenant


def wait_for_deliveries(client: httpx.Client, notify: str, tenants: list[Tenant]) -> None:
    """Until every subscription's alert is delivered; then the deliveries are resources."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    for tenant in tenants:
        while True:
            items = client.get(notify + "/v1/deliveries", headers=tenant.auth).json()["items"]
            delivered = [d for d in items if d["status"] == "delivered"]
            subscribed = {d["subscription_id"] for d in delivered}
            if subscribed == set(tenant.resources["subscriptions"]):
                tenant.resources["deliveries"] = [d["id"] for d in delivered]
                break
            assert time.monotonic() < deadline, f"{tenant.name}: deliveries {items}"
            time.sleep(0.3)
    for tenant in tenants:
        tenant.private += [i for ids in tenant.resources.values() for i in ids]


def state(client: httpx.Client, notify: str, tenant: Tenant) -> dict[str, Any]:
    """What a bureau's own key reads of its resources."""
    found: dict[str, Any] = {}
    for sub_id in tenant.resources["subscriptions"]:
        answer = client.get(notify + f"/v1/subscriptions/{sub_id}", headers=tenant.auth)
        found[sub_id] = answer.json() if answer.status_code == 200 else answer.status_code
    keys = client.get(notify + "/v1/keys", headers=tenant.auth).json()
    for key in keys:
        found[key["id"]] = key
    for delivery_id in tenant.resources["deliveries"]:
        answer = client.get(notify + f"/v1/deliveries/{delivery_id}", headers=tenant.auth)
        detail = answer.json() if answer.status_code == 200 else {}
        found[delivery_id] = {k: detail.get(k) for k in ("status", "attempts", "next_attempt_at")}
    return found


def leaked(answer: httpx.Response, owner: Tenant, asked: list[str]) -> list[str]:
    """What of ``owner``'s private data an answer shows (the ids asked about aside: a 404
    may name the id it did not find)."""
    text = answer.text
    return [p for p in owner.private if p not in asked and p in text]


def hostile_body(op: Operation, spec: dict[str, Any], attacker: Tenant) -> bytes | None:
    if op.body is None:
        return None
    body = example(op.body, spec)
    if op.method in ("PATCH", "PUT"):
        body = {"name": f"{attacker.name} 改的", "enabled": False}
    return json.dumps(body, ensure_ascii=False).encode()


def by_id(op: Operation, owner: Tenant) -> list[dict[str, str]]:
    """Every way of filling the operation's path with ``owner``'s resources: the last
    parameter over each of them, the others with the first."""
    names = list(op.path_params)
    *leading, last = names
    fixed = {name: owner.resources[RESOURCES[name]][0] for name in leading}
    return [{**fixed, last: value} for value in owner.resources[RESOURCES[last]]]


def refused(answer: httpx.Response, statuses: tuple[int, ...]) -> str | None:
    if answer.status_code in statuses:
        return None
    return f"answered {answer.status_code}: {answer.text[:200]}"


def bulk_on_others(
    client: httpx.Client,
    notify: str,
    spec: dict[str, Any],
    op: Operation,
    tenants: list[Tenant],
    tally: Tally,
) -> None:
    """A bulk route with its own bureau's key: with no id it answers and shows nothing of
    another's; with another bureau's id in a body field that names a resource, 404."""
    assert op.body is not None, f"{op.name}: a bulk route takes a body"
    base = example(op.body, spec)
    schema = op.body
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    properties = schema.get("properties", {})
    named = [name for name in properties if name in RESOURCES]
    tally.check(f"{op.name} names a resource in its body", None if named else "none found")
    for attacker, owner in itertools.permutations(tenants, 2):
        headers = {**attacker.auth, "Content-Type": "application/json"}
        answer = client.request(op.method, notify + op.path, headers=headers, json=base)
        problem = None if answer.status_code < 300 else f"answered {answer.status_code}"
        if problem is None and leaked(answer, owner, []):
            problem = f"shows {leaked(answer, owner, [])}"
        tally.check(f"{attacker.name} {op.name} shows nothing of {owner.name}'s", problem)
        for name in named:
            for value in owner.resources[RESOURCES[name]]:
                body = {**base, name: value}
                answer = client.request(op.method, notify + op.path, headers=headers, json=body)
                problem = refused(answer, (403, 404))
                if problem is None and leaked(answer, owner, [value]):
                    problem = f"shows {leaked(answer, owner, [value])}"
                tally.check(
                    f"{attacker.name} {op.name} with {name}={value} ({owner.name}'s)", problem
                )


def forged_tokens(
    client: httpx.Client, notify: str, op: Operation, tenants: list[Tenant], tally: Tally
) -> None:
    for attacker, owner in itertools.permutations(tenants, 2):
        for subscription in owner.resources["subscriptions"]:
            token = f"u1.{subscription}.{'A' * 43}"
            answer = client.request(
                op.method, notify + op.path, params={"token": token}, headers=attacker.auth
            )
            problem = refused(answer, (400,))
            if problem is None and leaked(answer, owner, [subscription]):
                problem = f"shows {leaked(answer, owner, [subscription])}"
            tally.check(f"{attacker.name} {op.name} forged for {owner.name}'s", problem)


def test_no_bureau_reaches_another_bureaus_resources(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/tenants")
    notify = stack["notify"].url
    spec = read_spec(notify)
    with WebhookReceiver() as receiver, httpx.Client(timeout=30) as client:
        tenants = [set_up(client, notify, receiver, f"租户{n}卫健委") for n in "甲乙丙"]
        assert stack.push(demo_article(LEAD)).status_code == 202
        wait_for_deliveries(client, notify, tenants)
        before = {t.id: state(client, notify, t) for t in tenants}

        ops = sorted(operations("notify", spec), key=lambda op: ORDER.get(op.method, 9))
        for op in ops:
            unknown = [p for p in op.path_params if p not in RESOURCES]
            if unknown:
                tally.check(op.name, f"path parameter(s) {unknown} not classified")
                continue
            operator = op.path.startswith(OPERATOR_PREFIX)
            if (op.method, op.path) in TOKEN_ROUTES:
                forged_tokens(client, notify, op, tenants, tally)
                continue
            if not op.path_params and not operator and op.method != "GET":
                if (op.method, op.path) in BULK:
                    bulk_on_others(client, notify, spec, op, tenants, tally)
                elif (op.method, op.path) not in CREATES:
                    tally.check(op.name, "neither a read, a creation nor a route by id")
                continue
            statuses = (401, 403) if operator else (403, 404)
            for attacker, owner in itertools.permutations(tenants, 2):
                content = hostile_body(op, spec, attacker)
                headers = {**attacker.auth, "Content-Type": "application/json"}
                if op.path_params:
                    for values in by_id(op, owner):
                        answer = client.request(
                            op.method, notify + op.url(values), headers=headers, content=content
                        )
                        asked = list(values.values())
                        problem = refused(answer, statuses)
                        if problem is None and leaked(answer, owner, asked):
                            problem = f"shows {leaked(answer, owner, asked)}"
                        tally.check(f"{attacker.name} on {owner.name}'s {op.name} {asked}", problem)
                    continue
                # A read of the caller's own: nothing of another's, and by another's id
                # in its query a 404.
                answer = client.request(
                    op.method, notify + op.path, headers=headers, content=content
                )
                problem = None
                if operator:
                    problem = refused(answer, statuses)
                elif answer.status_code != 200:
                    problem = f"answered {answer.status_code}"
                if problem is None and leaked(answer, owner, []):
                    problem = f"shows {leaked(answer, owner, [])}"
                tally.check(f"{attacker.name} {op.name} shows nothing of {owner.name}'s", problem)
                for name in op.query_params:
                    if name not in RESOURCES:
                        continue
                    for value in owner.resources[RESOURCES[name]]:
                        answer = client.get(notify + op.path, params={name: value}, headers=headers)
                        problem = refused(answer, statuses)
                        if problem is None and leaked(answer, owner, [value]):
                            problem = f"shows {leaked(answer, owner, [value])}"
                        tally.check(
                            f"{attacker.name} {op.name}?{name}={value} ({owner.name}'s)", problem
                        )

        # Every bureau's resources as they were, and each of its keys still works.
        for tenant in tenants:
            after = state(client, notify, tenant)
            for resource, was in before[tenant.id].items():
                now = after.get(resource)
                tally.check(
                    f"{tenant.name}'s {resource} untouched",
                    None if now == was else f"{was} -> {now}",
                )
            for key in tenant.keys:
                answer = client.get(notify + "/v1/subscriptions", headers=bearer(key))
                own = (
                    {s["id"] for s in answer.json().get("items", [])}
                    if answer.status_code == 200
                    else set()
                )
                mine = set(tenant.resources["subscriptions"])
                tally.check(
                    f"{tenant.name}'s key {key[:7]}… still works",
                    None if own == mine else f"{answer.status_code} {own}",
                )
    tally.report(capsys)
