"""What every service's HTTP side does at its edge: bodies capped before they are read
whole (and before authentication), errors counted and worded, Chinese kept readable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import BaseModel
from starlette.types import Message

from services.common.http import create_app

LIMIT = 64 * 1024
CHUNK = 16 * 1024


class Note(BaseModel):
    title: str
    count: int = 0


def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
    if authorization != "Bearer right":
        raise HTTPException(401, detail="a valid token is required")


def edge_app() -> FastAPI:
    app = create_app(title="edge", readiness={}, body_limit=lambda path: LIMIT)

    @app.post("/notes", dependencies=[Depends(require_token)], status_code=201)
    async def add_note(note: Note) -> Note:
        return note

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug that nobody caught")

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(edge_app(), raise_server_exceptions=False) as c:
        yield c


def requests_counted(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_requests_total", {"method": "GET", "route": route, "status": status}
    )
    return value or 0.0


def test_an_unhandled_exception_is_a_500_counted_in_the_request_metrics(
    client: TestClient,
) -> None:
    before = requests_counted("/broken", "500")
    answer = client.get("/broken")
    assert answer.status_code == 500
    assert requests_counted("/broken", "500") == before + 1


def test_a_declared_length_over_the_limit_is_refused_before_authentication(
    client: TestClient,
) -> None:
    answer = client.post(
        "/notes",
        content=b"x" * (LIMIT + 1),
        headers={"Content-Type": "application/json"},  # and no token
    )
    assert answer.status_code == 413
    assert str(LIMIT) in answer.json()["detail"]


class ChunkedUpload:
    """A client streaming ``total`` bytes without a Content-Length, counting what the app
    pulled; it never ends its body unless every byte was read."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.pulled >= self.total:
            return {"type": "http.disconnect"}
        self.pulled += CHUNK
        return {"type": "http.request", "body": b"[" * CHUNK, "more_body": True}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        [start] = [m for m in self.sent if m["type"] == "http.response.start"]
        return int(start["status"])

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent if "body" in m))


def http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def test_a_chunked_body_is_read_only_up_to_the_limit() -> None:
    upload = ChunkedUpload(total=100 * 1024 * 1024)
    scope = http_scope("/notes", [(b"content-type", b"application/json")])
    await edge_app()(scope, upload.receive, upload.send)
    assert upload.status == 413, upload.sent
    assert "larger than" in upload.body["detail"]
    assert upload.pulled <= LIMIT + CHUNK, f"read {upload.pulled} bytes of a {LIMIT} limit"


def test_a_body_that_is_not_utf8_says_so_and_names_gbk(client: TestClient) -> None:
    gbk = json.dumps({"title": "骨科专科联盟"}, ensure_ascii=False).encode("gbk")
    answer = client.post(
        "/notes",
        content=gbk,
        headers={"Content-Type": "application/json", "Authorization": "Bearer right"},
    )
    assert answer.status_code == 400
    assert "not UTF-8" in answer.json()["detail"] and "GBK" in answer.json()["detail"]


@pytest.mark.parametrize("depth", [1000, 20_000])
def test_deeply_nested_json_is_a_400_with_the_reason(client: TestClient, depth: int) -> None:
    nested = '{"title": ' + "[" * depth + "]" * depth + "}"
    answer = client.post(
        "/notes",
        content=nested,
        headers={"Content-Type": "application/json", "Authorization": "Bearer right"},
    )
    assert answer.status_code == 400
    assert "nest" in answer.json()["detail"]


def test_nesting_the_parser_takes_is_a_422_without_the_input_echoed(client: TestClient) -> None:
    nested = '{"title": ' + "[" * 400 + "]" * 400 + "}"
    answer = client.post(
        "/notes",
        content=nested,
        headers={"Content-Type": "application/json", "Authorization": "Bearer right"},
    )
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "title"] and "input" not in error


@pytest.mark.parametrize(("content_type", "named"), [(None, "none"), ("text/plain", "text/plain")])
def test_a_body_not_sent_as_json_names_the_content_type_it_needs(
    client: TestClient, content_type: str | None, named: str
) -> None:
    headers = {"Authorization": "Bearer right"}
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post("/notes", content=b'{"title": "x"}', headers=headers)
    assert answer.status_code == 415
    detail = answer.json()["detail"]
    assert "application/json" in detail and named in detail


def test_a_422_keeps_chinese_readable(client: TestClient) -> None:
    answer = client.post(
        "/notes",
        json={"title": "骨科", "count": "三个"},
        headers={"Authorization": "Bearer right"},
    )
    assert answer.status_code == 422
    assert "三个" in answer.text and "\\u" not in answer.text
    assert answer.json()["detail"][0]["input"] == "三个"


def test_a_lone_surrogate_in_the_input_still_gets_a_valid_json_422(client: TestClient) -> None:
    answer = client.post(
        "/notes",
        content=b'{"title": "x", "count": "a\\udc00b"}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer right"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["input"] == "a\udc00b"


def test_a_long_invalid_text_is_quoted_only_in_part(client: TestClient) -> None:
    answer = client.post(
        "/notes",
        json={"title": "x", "count": "医" * 5000},
        headers={"Authorization": "Bearer right"},
    )
    assert answer.status_code == 422
    assert len(answer.json()["detail"][0]["input"]) < 300


def test_the_openapi_documents_the_answers_a_body_can_get(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/notes"]["post"]["responses"]
    assert {"400", "413", "415", "422"} <= set(responses)
