"""Whether an extraction is news to the registry: decided without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.common.contracts import ExtractedArticle
from services.registry.domain.extractions import fingerprint, is_older, version_key

T0 = datetime(2024, 5, 1, 8, tzinfo=UTC)


def extraction(
    version: str = "0.5.0", at: datetime = T0, relevant: bool = False
) -> ExtractedArticle:
    return ExtractedArticle(
        article_id="u1", extractor_version=version, relevant=relevant, extracted_at=at
    )


def test_a_replayed_extraction_has_the_same_fingerprint() -> None:
    assert fingerprint(extraction()) == fingerprint(extraction(at=T0 + timedelta(hours=1)))
    assert fingerprint(extraction()) != fingerprint(extraction(relevant=True))


def test_versions_compare_as_numbers() -> None:
    assert version_key("0.10.0") > version_key("0.9.3")
    assert version_key("1.0") < version_key("1.0.1")


def test_an_older_extractor_or_an_earlier_run_is_older() -> None:
    assert is_older(extraction("0.4.9"), "0.5.0", T0)
    assert not is_older(extraction("0.5.1"), "0.5.0", T0 + timedelta(days=1))
    assert is_older(extraction(at=T0), "0.5.0", T0 + timedelta(minutes=1))
    # SQLite hands the kept time back naive; it is UTC.
    assert not is_older(extraction(at=T0), "0.5.0", T0.replace(tzinfo=None))
