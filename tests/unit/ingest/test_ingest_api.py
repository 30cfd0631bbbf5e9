"""Ingest's HTTP contract, on the in-memory broker."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.contracts import RawArticle, decode
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher
from services.extract.config import ExtractSettings
from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from services.ingest.service import IngestService

TOKEN = "crawler-token-for-unit-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
def client(broker: InMemoryBroker, tmp_path: Path) -> Iterator[TestClient]:
    settings = IngestSettings(
        INGEST_API_TOKENS=f"{TOKEN},second-token",
        INGEST_DATABASE_URL=f"sqlite:///{tmp_path}/ingest.db",
        INGEST_MAX_ARTICLE_BYTES=10_000,
        INGEST_MAX_BATCH_ITEMS=5,
        TOPIC_PREFIX="t.",
    )
    with TestClient(build_app(settings, publisher=InMemoryPublisher(broker))) as c:
        yield c


def article(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "url": "https://news.example.cn/a/1.html",
        "title": "骨科专科联盟签约",
        "body": "<p>某市人民医院与某县人民医院签约。</p>",
        "content_type": "text/html",
        "published_at": "2023-10-14",
    }
    body.update(changes)
    return body


def test_an_article_is_accepted_and_lands_on_the_raw_topic(
    client: TestClient, broker: InMemoryBroker
) -> None:
    answer = client.post("/v1/articles", json=article(), headers=AUTH)
    assert answer.status_code == 202
    assert answer.json()["duplicate"] is False
    [record] = broker.records("t.articles.raw")
    message = decode(RawArticle, record.value or b"")
    assert message.article_id == answer.json()["article_id"]
    assert record.key == message.article_id.encode()
    assert message.published_at is not None and message.published_at.isoformat() == "2023-10-14"


def test_a_repush_is_a_duplicate_and_not_sent_again(
    client: TestClient, broker: InMemoryBroker
) -> None:
    first = client.post("/v1/articles", json=article(), headers=AUTH).json()
    again = client.post("/v1/articles", json=article(), headers=AUTH).json()
    assert again == {"article_id": first["article_id"], "duplicate": True}
    assert len(broker.records("t.articles.raw")) == 1


def test_a_changed_article_at_the_same_url_is_sent_again(
    client: TestClient, broker: InMemoryBroker
) -> None:
    first = client.post("/v1/articles", json=article(), headers=AUTH).json()
    updated = client.post("/v1/articles", json=article(body="更正后的正文"), headers=AUTH).json()
    assert updated == {"article_id": first["article_id"], "duplicate": False}
    assert len(broker.records("t.articles.raw")) == 2


def test_a_crawler_without_a_valid_token_is_refused(client: TestClient) -> None:
    assert client.post("/v1/articles", json=article()).status_code == 401
    wrong = client.post("/v1/articles", json=article(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "token" in wrong.json()["detail"]
    other = client.post(
        "/v1/articles", json=article(), headers={"Authorization": "Bearer second-token"}
    )
    assert other.status_code == 202


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body": ""}, "body"),
        ({"url": "ftp://x.cn/a"}, "url"),
        ({"content_type": "application/pdf"}, "content_type"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_articles_get_422_naming_the_field(
    client: TestClient, change: dict[str, object], field: str
) -> None:
    answer = client.post("/v1/articles", json=article(**change), headers=AUTH)
    assert answer.status_code == 422
    assert field in json.dumps(answer.json()["detail"])


def test_an_oversized_article_gets_413(client: TestClient, broker: InMemoryBroker) -> None:
    answer = client.post("/v1/articles", json=article(body="医" * 20_000), headers=AUTH)
    assert answer.status_code == 413
    assert "larger than" in answer.json()["detail"]
    assert broker.records("t.articles.raw") == []


def test_while_the_broker_is_down_the_crawler_gets_503_with_retry_after(
    client: TestClient, broker: InMemoryBroker
) -> None:
    broker.available = False
    answer = client.post("/v1/articles", json=article(), headers=AUTH)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    broker.available = True
    again = client.post("/v1/articles", json=article(), headers=AUTH)
    # Not remembered as seen while it was refused, so the retry really sends it.
    assert again.status_code == 202 and again.json()["duplicate"] is False
    assert len(broker.records("t.articles.raw")) == 1


def test_a_json_batch_is_answered_item_by_item(client: TestClient, broker: InMemoryBroker) -> None:
    items = [
        article(url="https://x.cn/1"),
        article(url="https://x.cn/1"),
        article(url="https://x.cn/2", body=""),
        article(url=None, body="无链接的文章"),
    ]
    answer = client.post("/v1/articles/batch", json=items, headers=AUTH)
    assert answer.status_code == 202
    result = answer.json()
    assert [r["status"] for r in result["results"]] == [
        "accepted",
        "duplicate",
        "rejected",
        "accepted",
    ]
    assert "body" in result["results"][2]["error"]
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 1, 1)
    assert len(broker.records("t.articles.raw")) == 2


def test_an_ndjson_batch_is_accepted(client: TestClient, broker: InMemoryBroker) -> None:
    lines = "\n".join(json.dumps(article(url=f"https://x.cn/{n}")) for n in range(3))
    answer = client.post(
        "/v1/articles/batch",
        content=lines.encode(),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 3


def test_a_batch_that_is_not_json_or_too_long_is_refused(client: TestClient) -> None:
    bad = client.post(
        "/v1/articles/batch",
        content=b"{oops",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]
    not_array = client.post("/v1/articles/batch", json=article(), headers=AUTH)
    assert not_array.status_code == 422
    too_many = client.post(
        "/v1/articles/batch",
        json=[article(url=f"https://x.cn/{n}") for n in range(6)],
        headers=AUTH,
    )
    assert too_many.status_code == 413


def test_health_readiness_and_metrics(client: TestClient, broker: InMemoryBroker) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": True, "database": True}
    broker.available = False
    assert client.get("/readyz").status_code == 503
    client.post("/v1/articles", json=article(), headers=AUTH)
    metrics = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/v1/articles",status="503"}' in metrics


def test_settings_refuse_to_start_without_crawler_tokens() -> None:
    with pytest.raises(ValueError, match="INGEST_API_TOKENS"):
        IngestSettings(INGEST_API_TOKENS="")


def test_text_that_is_not_valid_unicode_is_refused_not_a_crash(client: TestClient) -> None:
    # JSON can escape a lone surrogate; it cannot be stored or sent on as UTF-8.
    broken = b'{"body": "a\\udc00b", "url": "https://x.cn/1"}'
    headers = {**AUTH, "Content-Type": "application/json"}
    answer = client.post("/v1/articles", content=broken, headers=headers)
    assert answer.status_code == 422
    batch = client.post("/v1/articles/batch", content=b"[" + broken + b"]", headers=headers)
    assert batch.status_code == 202
    assert batch.json()["results"][0]["status"] == "rejected"


def test_a_url_with_a_port_that_is_not_a_number_is_refused(client: TestClient) -> None:
    answer = client.post("/v1/articles", json=article(url="http://x.cn:8a/1"), headers=AUTH)
    assert answer.status_code == 422
    assert "port" in json.dumps(answer.json())


NDJSON = {**AUTH, "Content-Type": "application/x-ndjson"}


def ndjson(*lines: bytes) -> bytes:
    return b"\n".join(lines)


def line(**changes: object) -> bytes:
    return json.dumps(article(**changes), ensure_ascii=False).encode()


def test_a_broken_ndjson_line_is_answered_alone_and_the_others_accepted(
    client: TestClient, broker: InMemoryBroker
) -> None:
    gbk = json.dumps(article(url="https://x.cn/gbk"), ensure_ascii=False).encode("gbk")
    body = ndjson(line(url="https://x.cn/1"), b"{oops", gbk, line(url="https://x.cn/2"))
    answer = client.post("/v1/articles/batch", content=body, headers=NDJSON)
    assert answer.status_code == 202
    results = answer.json()["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("accepted", 202),
        ("rejected", 422),
        ("rejected", 400),
        ("accepted", 202),
    ]
    assert "line 2 is not JSON" in results[1]["error"]
    assert "line 3 is not UTF-8" in results[2]["error"] and "GBK" in results[2]["error"]
    assert len(broker.records("t.articles.raw")) == 2


def test_ndjson_lines_are_cut_at_newlines_only(client: TestClient) -> None:
    # U+2028 may stand raw in a JSON string; it does not end an NDJSON line.
    body = ndjson(line(url="https://x.cn/1", body="第一段\u2028第二段"), line(url="https://x.cn/2"))
    answer = client.post("/v1/articles/batch", content=body, headers=NDJSON)
    assert answer.json()["accepted"] == 2


def test_a_batch_item_over_the_size_limit_is_413_for_that_item_not_503(
    client: TestClient, broker: InMemoryBroker
) -> None:
    items = [article(url="https://x.cn/big", body="医" * 20_000), article(url="https://x.cn/2")]
    answer = client.post("/v1/articles/batch", json=items, headers=AUTH)
    assert answer.status_code == 202 and "Retry-After" not in answer.headers
    big, small = answer.json()["results"]
    assert (big["status"], big["code"]) == ("too_large", 413)
    assert "10000" in big["error"]
    assert small["status"] == "accepted"
    assert answer.json()["too_large"] == 1
    assert len(broker.records("t.articles.raw")) == 1


@pytest.fixture
def short_client(broker: InMemoryBroker, tmp_path: Path) -> Iterator[TestClient]:
    """Ingest whose extraction reads at most 100 characters (EXTRACT_MAX_ARTICLE_CHARS)."""
    settings = IngestSettings(
        INGEST_API_TOKENS=TOKEN,
        INGEST_DATABASE_URL=f"sqlite:///{tmp_path}/ingest.db",
        EXTRACT_MAX_ARTICLE_CHARS=100,
        TOPIC_PREFIX="t.",
    )
    with TestClient(build_app(settings, publisher=InMemoryPublisher(broker))) as c:
        yield c


def test_a_body_longer_than_extraction_reads_is_refused_with_413(
    short_client: TestClient, broker: InMemoryBroker
) -> None:
    answer = short_client.post("/v1/articles", json=article(body="a" * 101), headers=AUTH)
    assert answer.status_code == 413
    assert "101 characters" in answer.json()["detail"]
    batch = short_client.post(
        "/v1/articles/batch",
        json=[article(url="https://x.cn/1", body="a" * 101), article(url="https://x.cn/2")],
        headers=AUTH,
    )
    assert [(r["status"], r["code"]) for r in batch.json()["results"]] == [
        ("too_large", 413),
        ("accepted", 202),
    ]
    assert short_client.post("/v1/articles", json=article(body="a" * 100), headers=AUTH).is_success
    assert len(broker.records("t.articles.raw")) == 2


def test_ingest_and_extract_read_one_article_length_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXTRACT_MAX_ARTICLE_CHARS", "1234")
    assert IngestSettings(INGEST_API_TOKENS=TOKEN).max_article_chars == 1234
    assert ExtractSettings().max_article_chars == 1234


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_batch_names_the_content_types_it_takes(
    client: TestClient, content_type: str | None
) -> None:
    headers = dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post("/v1/articles/batch", content=b"[]", headers=headers)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["detail"]
    assert "application/x-ndjson" in answer.json()["detail"]


def test_a_gbk_or_deeply_nested_batch_is_a_400_saying_why(client: TestClient) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    gbk = json.dumps([article()], ensure_ascii=False).encode("gbk")
    answer = client.post("/v1/articles/batch", content=gbk, headers=headers)
    assert answer.status_code == 400 and "GBK" in answer.json()["detail"]
    nested = client.post("/v1/articles/batch", content=b"[" * 5000 + b"]" * 5000, headers=headers)
    assert nested.status_code == 400 and "nest" in nested.json()["detail"]


def test_nul_characters_are_dropped_from_the_text_and_refused_in_a_url(
    client: TestClient, broker: InMemoryBroker
) -> None:
    answer = client.post(
        "/v1/articles", json=article(body="医\x00联体", title="标\x00题"), headers=AUTH
    )
    assert answer.status_code == 202
    [record] = broker.records("t.articles.raw")
    message = decode(RawArticle, record.value or b"")
    assert (message.body, message.title) == ("医联体", "标题")
    only_nul = client.post("/v1/articles", json=article(body="\x00\x00"), headers=AUTH)
    assert only_nul.status_code == 422
    url = client.post("/v1/articles", json=article(url="https://x.cn/a\x00b"), headers=AUTH)
    assert url.status_code == 422 and "control characters" in url.text


def test_settings_refuse_a_claim_expiry_a_live_push_could_outlast() -> None:
    with pytest.raises(ValueError, match="INGEST_CLAIM_EXPIRY_SECONDS"):
        IngestSettings(
            INGEST_API_TOKENS=TOKEN, INGEST_SEND_TIMEOUT_SECONDS=30, INGEST_CLAIM_EXPIRY_SECONDS=60
        )


def test_each_pushed_article_is_counted_by_outcome(client: TestClient) -> None:
    def counted(outcome: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(f'ingest_articles_total{{outcome="{outcome}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = {o: counted(o) for o in ("accepted", "duplicate", "rejected", "too_large")}
    one = article(url="https://news.example.cn/counted.html")
    client.post("/v1/articles", json=one, headers=AUTH)
    batch = [one, {"body": ""}, article(url="https://x.cn/big", body="字" * 9_000)]
    assert client.post("/v1/articles/batch", json=batch, headers=AUTH).status_code == 202
    after = {o: counted(o) - before[o] for o in before}
    assert after == {"accepted": 1, "duplicate": 1, "rejected": 1, "too_large": 1}


def test_a_batch_is_claimed_in_one_transaction_sent_together_and_remembered_in_one_more(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service: IngestService = client.app.state.ingest  # type: ignore[attr-defined]
    calls: Counter[str] = Counter()

    def counted(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await method(*args, **kwargs)

        return call

    for name in ("claim_unseen", "settle"):
        monkeypatch.setattr(service.seen, name, counted(name, getattr(service.seen, name)))
    publish_many = counted("publish_many", service.publisher.publish_many)
    monkeypatch.setattr(service.publisher, "publish_many", publish_many)

    items = [article(url=f"https://x.cn/{n}") for n in range(4)] + [article(url="https://x.cn/0")]
    answer = client.post("/v1/articles/batch", json=items, headers=AUTH)
    assert (answer.json()["accepted"], answer.json()["duplicates"]) == (4, 1)
    assert calls == {"claim_unseen": 1, "publish_many": 1, "settle": 1}

    calls.clear()
    assert client.post("/v1/articles", json=article(), headers=AUTH).status_code == 202
    assert calls == {"claim_unseen": 1, "publish_many": 1, "settle": 1}, "a batch of one"
    calls.clear()
    assert client.post("/v1/articles/batch", json=items, headers=AUTH).json()["duplicates"] == 5
    assert calls == {"claim_unseen": 1}, "duplicates cost one look-up, nothing is sent"
