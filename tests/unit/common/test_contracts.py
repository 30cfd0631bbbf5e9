from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from services.common.contracts import (
    MAIN_TOPICS,
    AllianceEvent,
    EventType,
    Evidence,
    ExtractedArticle,
    InstitutionMention,
    RawArticle,
    decode,
    dlq_topic,
    encode,
)


def raw_article(**changes: object) -> RawArticle:
    fields: dict[str, object] = {
        "article_id": "u123",
        "url": "https://news.example.cn/a/1.html",
        "title": "骨科专科联盟成立",
        "body": "某市人民医院与某县人民医院签约建立骨科专科联盟。",
        "published_at": date(2023, 10, 14),
        "received_at": datetime(2023, 10, 14, 8, 0, tzinfo=UTC),
    }
    fields.update(changes)
    return RawArticle.model_validate(fields)


def test_a_message_round_trips_through_its_wire_form() -> None:
    article = raw_article()
    assert decode(RawArticle, encode(article)) == article
    assert b'"schema_version":1' in encode(article)


def test_messages_are_frozen() -> None:
    article = raw_article()
    with pytest.raises(ValidationError):
        article.title = "changed"  # type: ignore[misc]


def test_an_unknown_schema_version_is_refused() -> None:
    payload = encode(raw_article()).replace(b'"schema_version":1', b'"schema_version":99')
    with pytest.raises(ValidationError):
        decode(RawArticle, payload)


def test_unknown_fields_are_refused_rather_than_dropped() -> None:
    with pytest.raises(ValidationError):
        raw_article(colour="blue")


def test_an_event_date_may_be_a_day_or_a_month_but_nothing_else() -> None:
    def event(day: str | None) -> AllianceEvent:
        return AllianceEvent(
            type=EventType.specialty_alliance,
            lead=(InstitutionMention(name="西安市红会医院", province="陕西"),),
            date=day,
            confidence=0.9,
            evidence=Evidence(text="……", start=0, end=2),
        )

    assert event("2018-07-29").date == "2018-07-29"
    assert event("2018-07").date == "2018-07"
    with pytest.raises(ValidationError):
        event("29/07/2018")


def test_confidence_stays_within_zero_and_one() -> None:
    with pytest.raises(ValidationError):
        ExtractedArticle(
            article_id="u1",
            extractor_version="t",
            relevant=True,
            events=(
                AllianceEvent(
                    type=EventType.other,
                    confidence=1.5,
                    evidence=Evidence(text="x", start=0, end=1),
                ),
            ),
            extracted_at=datetime.now(UTC),
        )


def test_every_main_topic_has_a_dead_letter_twin() -> None:
    assert [dlq_topic(t) for t in MAIN_TOPICS] == [
        "articles.raw.dlq",
        "alliances.extracted.dlq",
        "alliances.changes.dlq",
    ]
