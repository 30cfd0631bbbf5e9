"""Bad bodies against the running services: nested, not UTF-8, NUL, broken NDJSON, not
JSON, too long. Each gets a 4xx that says why (per item in a batch, the other items
processed), never a 5xx; and no service counted a single 500 meanwhile."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.common.settings import DEFAULT_MAX_ARTICLE_CHARS
from services.ingest.config import IngestSettings
from tests.security.tally import Tally
from tools.harness import CRAWLER_TOKEN, OPERATOR_TOKEN, Stack

CRAWLER = {"Authorization": f"Bearer {CRAWLER_TOKEN}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
DEPTHS = (1000, 10_000, 100_000)
MAX_ARTICLE_BYTES: int = IngestSettings.model_fields["max_article_bytes"].default

#: What is wrong with an answer, or None when it is the one wanted.
Expectation = Callable[[httpx.Response], str | None]


@dataclass(frozen=True)
class Case:
    name: str
    service: str
    path: str
    headers: dict[str, str]
    body: bytes
    expect: Expectation


def article(**changes: Any) -> dict[str, Any]:
    body = {
        "url": f"https://news.example.cn/{uuid.uuid4().hex}.html",
        "title": "骨科专科联盟成立",
        "body": "某市人民医院牵头成立骨科专科联盟，某县人民医院加入。",
    }
    body.update(changes)
    return body


def utf8(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def refused(status: int, *words: str) -> Expectation:
    """A ``status`` answer whose detail says each of ``words``."""

    def check(answer: httpx.Response) -> str | None:
        if answer.status_code != status:
            return f"answered {answer.status_code}, not {status}: {answer.text[:200]}"
        detail = json.dumps(answer.json().get("detail"), ensure_ascii=False)
        missing = [w for w in words if w not in detail]
        return f"the detail does not say {missing}: {detail[:200]}" if missing else None

    return check


def accepted(answer: httpx.Response) -> str | None:
    ok = answer.status_code == 202 and answer.json().get("duplicate") is False
    return None if ok else f"answered {answer.status_code}: {answer.text[:200]}"


def items(*wanted: tuple[str, int, str]) -> Expectation:
    """A 202 batch answer whose items have these (status, code, word in the error)."""

    def check(answer: httpx.Response) -> str | None:
        if answer.status_code != 202:
            return f"answered {answer.status_code}, not 202: {answer.text[:300]}"
        got = answer.json()["results"]
        if len(got) != len(wanted):
            return f"{len(got)} items answered, not {len(wanted)}"
        for result, (status, code, word) in zip(got, wanted, strict=True):
            if (result["status"], result["code"]) != (status, code):
                return f"item {result['index']} is {result['status']} {result['code']}"
            if word and word not in (result["error"] or ""):
                return f"item {result['index']}'s error does not say {word!r}: {result['error']}"
        return None

    return check


def ingest_cases() -> list[Case]:
    one, batch = "/v1/articles", "/v1/articles/batch"
    good = (utf8(article()), utf8(article()))
    gbk = json.dumps(article(), ensure_ascii=False).encode("gbk")
    ok = ("accepted", 202, "")
    cases = [
        Case("GBK article", "ingest", one, {**CRAWLER, **JSON}, gbk, refused(400, "UTF-8", "GBK")),
        Case(
            "invalid UTF-8 byte",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            b'{"body": "\xff\xfe\xfd"}',
            refused(400, "not UTF-8"),
        ),
        Case(
            "GBK batch",
            "ingest",
            batch,
            {**CRAWLER, **JSON},
            b"[" + gbk + b"]",
            refused(400, "GBK"),
        ),
        Case(
            "raw NUL byte in a string",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            utf8(article(body="医联体")).replace("医联体".encode(), b"\x00"),
            refused(422, "JSON"),
        ),
        Case(
            "escaped NUL in the body",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            utf8(article(body="医\u0000联体")),
            accepted,
        ),
        Case(
            "body of NUL only",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            utf8(article(body="\u0000\u0000")),
            refused(422, "body"),
        ),
        Case(
            "NUL in the url",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            utf8(article(url="https://x.cn/a\u0000b")),
            refused(422, "control characters"),
        ),
        Case(
            "no Content-Type",
            "ingest",
            one,
            CRAWLER,
            utf8(article()),
            refused(415, "application/json"),
        ),
        Case(
            "form Content-Type on a batch",
            "ingest",
            batch,
            {**CRAWLER, "Content-Type": "application/x-www-form-urlencoded"},
            utf8([article()]),
            refused(415, "application/x-ndjson"),
        ),
        Case(
            "Chinese kept readable in a 422",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            utf8(article(content_type="网页")),
            refused(422, "网页"),
        ),
        Case(
            "body past EXTRACT_MAX_ARTICLE_CHARS",
            "ingest",
            one,
            {**CRAWLER, **JSON},
            utf8(article(body="a" * (DEFAULT_MAX_ARTICLE_CHARS + 1))),
            refused(413, "characters"),
        ),
        Case(
            "batch item past the character and byte limits",
            "ingest",
            batch,
            {**CRAWLER, **JSON},
            utf8(
                [
                    article(body="a" * (DEFAULT_MAX_ARTICLE_CHARS + 1)),
                    article(body="医" * (MAX_ARTICLE_BYTES // 3 + 1)),
                    article(),
                ]
            ),
            items(("too_large", 413, "characters"), ("too_large", 413, "bytes"), ok),
        ),
        Case(
            "broken NDJSON lines among good ones",
            "ingest",
            batch,
            {**CRAWLER, **NDJSON},
            b"\n".join(
                [
                    good[0],
                    b"{oops",
                    '{"body": "半截'.encode(),
                    gbk,
                    nested(DEPTHS[0]).encode(),
                    b'{"body": "a\x00b"}',
                    b"[1, 2]",
                    b"{}",
                    good[1],
                ]
            ),
            items(
                ok,
                ("rejected", 422, "line 2 is not JSON"),
                ("rejected", 422, "line 3 is not JSON"),
                ("rejected", 400, "GBK"),
                ("rejected", 400, "nest"),
                ("rejected", 422, "line 6 is not JSON"),
                ("rejected", 422, "item"),
                ("rejected", 422, "body"),
                ok,
            ),
        ),
    ]
    for depth in DEPTHS:
        deep = nested(depth)
        cases += [
            Case(
                f"article nested {depth} deep",
                "ingest",
                one,
                {**CRAWLER, **JSON},
                f'{{"body": {deep}}}'.encode(),
                refused(400, "nest"),
            ),
            Case(
                f"batch nested {depth} deep",
                "ingest",
                batch,
                {**CRAWLER, **JSON},
                f"[{deep}]".encode(),
                refused(400, "nest"),
            ),
            Case(
                f"NDJSON line nested {depth} deep",
                "ingest",
                batch,
                {**CRAWLER, **NDJSON},
                b"\n".join([utf8(article()), deep.encode()]),
                items(ok, ("rejected", 400, "nest")),
            ),
        ]
    return cases


def operator_cases() -> list[Case]:
    """The registry's and notify's body routes read bodies the same way."""
    routes = [("registry", "/v1/renames"), ("notify", "/v1/bureaus")]
    gbk = json.dumps({"name": "四川省卫生健康委员会"}, ensure_ascii=False).encode("gbk")
    cases: list[Case] = []
    for service, path in routes:
        cases += [
            Case(f"{service} GBK", service, path, {**OPERATOR, **JSON}, gbk, refused(400, "GBK")),
            Case(
                f"{service} nested",
                service,
                path,
                {**OPERATOR, **JSON},
                f'{{"name": {nested(20_000)}}}'.encode(),
                refused(400, "nest"),
            ),
            Case(
                f"{service} no Content-Type",
                service,
                path,
                OPERATOR,
                b'{"name": "x"}',
                refused(415, "application/json"),
            ),
        ]
    return cases


def unhandled_errors_counted(metrics: str) -> list[str]:
    """The 500 lines of ``http_requests_total`` (a 503 is an answer, not a crash)."""
    return [
        line
        for line in metrics.splitlines()
        if line.startswith("http_requests_total{")
        and 'status="500"' in line
        and float(line.rsplit(" ", 1)[1]) > 0
    ]


def test_bad_bodies_get_a_4xx_saying_why_never_a_5xx(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/bad bodies")
    with httpx.Client(timeout=60) as client:
        for case in ingest_cases() + operator_cases():
            answer = client.post(
                stack[case.service].url + case.path, content=case.body, headers=case.headers
            )
            tally.check(case.name, case.expect(answer))
        for service in ("ingest", "registry", "notify", "extract"):
            metrics = client.get(stack[service].url + "/metrics").text
            errors = unhandled_errors_counted(metrics)
            tally.check(f"{service} counted no 500", "; ".join(errors) or None)
    tally.report(capsys)
