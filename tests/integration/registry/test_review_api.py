"""The analysts' API over HTTP, on SQLite and on PostgreSQL: keys issued and revoked by
the operator, the queue, the actions with their 4xx reasons, redirects of merged
alliances, rejected ones out of every list, the audit trail and the export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.registry.bootstrap import build_api
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService
from tests.integration.registry.test_repository import apply, seed_messages

TOKEN = "review-test-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(repository: RegistryService) -> Iterator[TestClient]:
    for message in seed_messages():
        apply(repository, message)
    settings = RegistrySettings(REGISTRY_OPERATOR_TOKEN=TOKEN)  # type: ignore[call-arg]
    with TestClient(build_api(settings, repository)) as test_client:
        yield test_client


def key_for(client: TestClient, name: str = "李审核") -> dict[str, str]:
    made = client.post("/v1/analysts", json={"name": name}, headers=OPERATOR)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['api_key']}"}


def ids(client: TestClient, **params: Any) -> list[str]:
    return [a["id"] for a in client.get("/v1/alliances", params=params).json()["items"]]


def test_the_operator_issues_lists_and_revokes_analyst_keys(client: TestClient) -> None:
    assert client.post("/v1/analysts", json={"name": "x"}).status_code == 401
    assert client.post("/v1/analysts", json={"name": ""}, headers=OPERATOR).status_code == 422
    assert client.post("/v1/analysts", json={"name": "x" * 81}, headers=OPERATOR).status_code == 422
    made = client.post("/v1/analysts", json={"name": "李审核"}, headers=OPERATOR).json()
    assert made["id"].startswith("an_") and made["api_key"].startswith("ak_")
    [listed] = client.get("/v1/analysts", headers=OPERATOR).json()
    assert listed == {
        "id": made["id"],
        "name": "李审核",
        "created_at": made["created_at"],
        "revoked_at": None,
    }
    mine = {"Authorization": f"Bearer {made['api_key']}"}
    assert client.get("/v1/review/queue", headers=mine).status_code == 200
    assert client.delete(f"/v1/analysts/{made['id']}", headers=OPERATOR).status_code == 204
    refused = client.get("/v1/review/queue", headers=mine)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.get("/v1/analysts", headers=OPERATOR).json()[0]["revoked_at"]
    assert client.delete("/v1/analysts/an_nobody", headers=OPERATOR).status_code == 404


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "an analyst key is required"),
        ({"Authorization": "Bearer ak_not-a-key"}, "unknown or revoked"),
        ({"Authorization": f"Bearer {TOKEN}"}, "unknown or revoked"),  # the operator's token
        ({"Authorization": "Basic YWs6YWs="}, "an analyst key is required"),
    ],
)
def test_analyst_routes_answer_401_saying_why(
    client: TestClient, headers: dict[str, str], reason: str
) -> None:
    for method, path in (
        ("GET", "/v1/review/queue"),
        ("POST", "/v1/alliances/x/review"),
        ("GET", "/v1/alliances/x/history"),
        ("GET", "/v1/reviews/export.jsonl"),
    ):
        answer = client.request(method, path, headers=headers, json={"action": "confirm"})
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert reason in answer.json()["detail"]


def test_walk_the_queue_and_correct(client: TestClient) -> None:
    me = key_for(client)
    page = client.get("/v1/review/queue", params={"limit": 2}, headers=me).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    first = page["items"][0]
    assert first["review"] == {
        "status": "unreviewed",
        "reviewed_at": None,
        "reviewed_by_name": None,
        "locked_fields": [],
    }
    corrected = client.post(
        f"/v1/alliances/{first['id']}/review",
        json={"action": "correct", "changes": {"date": "2019-05", "specialty": "骨科"}},
        headers=me,
    )
    assert corrected.status_code == 200, corrected.text
    review = corrected.json()["review"]
    assert review["status"] == "corrected" and review["reviewed_by_name"] == "李审核"
    assert review["locked_fields"] == ["specialty", "date"]
    assert corrected.json()["date"] == "2019-05"
    assert client.get(f"/v1/alliances/{first['id']}").json()["review"] == review
    rest = client.get("/v1/review/queue", headers=me).json()["items"]
    assert first["id"] not in [a["id"] for a in rest] and len(rest) == 3
    assert client.get("/v1/review/queue", params={"cursor": "bad"}, headers=me).status_code == 400
    assert (
        client.get("/v1/review/queue", params={"province": "四州"}, headers=me).status_code == 422
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"action": "correct"}, "needs `changes`"),
        ({"action": "correct", "changes": {}}, "empty"),
        ({"action": "correct", "changes": {"lead": ["甲医院"], "members": ["甲医院"]}}, "both"),
        ({"action": "correct", "changes": {"type": "hospital"}}, "type"),
        ({"action": "correct", "changes": {"date": "2023-13-01"}}, "bad date"),
        ({"action": "correct", "changes": {"date": "yesterday"}}, "pattern"),
        ({"action": "correct", "changes": {"provinces": ["四州"]}}, "unknown province"),
        ({"action": "reject"}, "needs a note"),
        ({"action": "confirm", "changes": {"date": "2020"}}, ""),
        ({"action": "approve"}, "pattern"),
    ],
)
def test_an_action_that_cannot_be_done_is_a_422_with_its_reason(
    client: TestClient, body: dict[str, Any], reason: str
) -> None:
    me = key_for(client)
    alliance_id = ids(client)[0]
    answer = client.post(f"/v1/alliances/{alliance_id}/review", json=body, headers=me)
    assert answer.status_code == 422, answer.text
    assert reason in json.dumps(answer.json()["detail"], ensure_ascii=False)
    assert client.get(f"/v1/alliances/{alliance_id}/history", headers=me).json() == []


def test_a_rejected_alliance_leaves_every_list_but_still_answers(client: TestClient) -> None:
    me = key_for(client)
    alliance_id = ids(client, province="陕西")[0]
    rejected = client.post(
        f"/v1/alliances/{alliance_id}/review",
        json={"action": "reject", "note": "a training course, not an alliance"},
        headers=me,
    )
    assert rejected.json()["review"]["status"] == "rejected"
    assert alliance_id not in ids(client)
    assert alliance_id in ids(client, include_rejected="true")
    assert client.get("/v1/stats").json()["total"] == 3
    assert client.get("/v1/stats", params={"include_rejected": "true"}).json()["total"] == 4
    assert client.get("/v1/views/map").json()["total"] == 3
    assert client.get("/v1/views/table").json()["total"] == 3
    assert alliance_id not in client.get("/v1/alliances.csv").text
    assert alliance_id in client.get("/v1/alliances.csv?include_rejected=true").text
    assert client.get(f"/v1/alliances/{alliance_id}").json()["review"]["status"] == "rejected"
    lead = client.get(f"/v1/alliances/{alliance_id}").json()["lead"][0]["id"]
    detail = client.get(f"/v1/institutions/{lead}").json()
    assert detail["alliances"] == [] and detail["alliance_count"] == 0
    with_rejected = client.get(f"/v1/institutions/{lead}", params={"include_rejected": "true"})
    assert with_rejected.json()["alliance_count"] == 1
    [action] = client.get(f"/v1/alliances/{alliance_id}/history", headers=me).json()
    assert action["action"] == "reject" and action["analyst_name"] == "李审核"
    assert action["before"]["review"]["status"] == "unreviewed"
    assert action["after"]["review"]["status"] == "rejected"
    assert action["note"] == "a training course, not an alliance"


def test_merge_redirects_the_absorbed_and_split_makes_a_new_one(client: TestClient) -> None:
    me = key_for(client)
    survivor, other, *_ = ids(client)
    merged = client.post(
        f"/v1/alliances/{survivor}/merge", json={"other_id": other, "note": "dup"}, headers=me
    )
    assert merged.status_code == 200, merged.text
    assert len(merged.json()["sources"]) == 2
    moved = client.get(f"/v1/alliances/{other}", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == f"/v1/alliances/{survivor}"
    page = client.get(f"/alliances/{other}", follow_redirects=False)
    assert page.status_code == 308 and page.headers["location"] == f"/alliances/{survivor}"
    assert other not in ids(client, include_rejected="true")
    again = client.post(f"/v1/alliances/{survivor}/merge", json={"other_id": other}, headers=me)
    assert again.status_code == 409 and survivor in again.json()["detail"]
    itself = client.post(f"/v1/alliances/{survivor}/merge", json={"other_id": survivor}, headers=me)
    assert itself.status_code == 409
    on_absorbed = client.post(
        f"/v1/alliances/{other}/review", json={"action": "confirm"}, headers=me
    )
    assert on_absorbed.status_code == 409 and survivor in on_absorbed.json()["detail"]
    unknown = client.post(f"/v1/alliances/{survivor}/merge", json={"other_id": "nope"}, headers=me)
    assert unknown.status_code == 404

    sources = [s["article_id"] for s in merged.json()["sources"]]
    split = client.post(
        f"/v1/alliances/{survivor}/split", json={"source_ids": sources[1:]}, headers=me
    )
    assert split.status_code == 201, split.text
    assert [s["article_id"] for s in split.json()["sources"]] == sources[1:]
    whole = client.post(
        f"/v1/alliances/{survivor}/split", json={"source_ids": sources[:1]}, headers=me
    )
    assert whole.status_code == 422 and "every source" in whole.json()["detail"]
    actions = client.get(f"/v1/alliances/{survivor}/history", headers=me).json()
    assert [a["action"] for a in actions] == ["merge", "split"]
    assert client.get("/v1/alliances/nope/history", headers=me).status_code == 404
    assert (
        client.post("/v1/alliances/nope/review", json={"action": "confirm"}, headers=me).status_code
        == 404
    )


def test_the_export_is_labelled_articles_streamed(client: TestClient) -> None:
    me = key_for(client)
    for alliance_id in ids(client):
        client.post(f"/v1/alliances/{alliance_id}/review", json={"action": "confirm"}, headers=me)
    answer = client.get("/v1/reviews/export.jsonl", headers=me)
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in answer.text.splitlines()]
    assert len(rows) == 4 and all(r["is_alliance_event"] for r in rows)
    event = rows[0]["events"][0]
    assert set(event) == {
        "type",
        "specialty",
        "lead",
        "members",
        "date",
        "provinces",
        "cross_province",
        "evidence",
    }
    predicted = client.get("/v1/reviews/export.jsonl?format=prediction", headers=me).text
    first = json.loads(predicted.splitlines()[0])
    assert first["relevant"] is True and "is_alliance_event" not in first
