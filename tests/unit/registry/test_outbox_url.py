"""The relay sets an alliance's page in a change without parsing it: exactly what parsing,
setting ``alliance.url`` and writing the JSON again makes of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.common.contracts import (
    Alliance,
    AllianceChange,
    AllianceSource,
    ChangeKind,
    EventType,
    Institution,
)
from services.registry.adapters.outbox import _parsed_with_alliance_url, with_alliance_url

BASE = "https://watch.example.cn/jk"
NOW = datetime(2024, 6, 2, 8, 30, tzinfo=UTC)
#: Text that looks like the JSON around the alliance's url, and what JSON escapes.
TRICKY = (
    '","url":null},"occurred_at":"x',
    ',"url":null},"occurred_at":',
    ',"alliance":{"id":"b"',
    'quote " backslash \\ slash / tab \t newline \n \x00 \x1f \x7f \u2028 😀 骨科联盟',
)


def change(
    text: str, *, alliance_id: str = "a0123456789abcdef", merged_into: str | None = None
) -> AllianceChange:
    hospital = Institution(id="i1", name=f"医院{text}", aliases=(text,), province=text)
    return AllianceChange(
        change_id=f"{alliance_id}-r1",
        alliance_id=alliance_id,
        kind=ChangeKind.updated,
        changed_fields=("sources", text),
        alliance=Alliance(
            id=alliance_id,
            type=EventType.specialty_alliance,
            specialty=text,
            lead=(hospital,),
            members=(hospital,),
            date="2024-05",
            provinces=(text,),
            confidence=0.0001,
            first_seen=NOW,
            last_seen=NOW,
            sources=(
                AllianceSource(article_id=text, url=None, title=text, evidence=text),
                AllianceSource(article_id="x", url=f"https://a.cn/{text}", evidence=""),
            ),
        ),
        occurred_at=NOW,
        merged_into=merged_into,
    )


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("merged_into", [None, "a9", '","url":null},"occurred_at":"'])
def test_the_page_is_set_as_parsing_would_set_it(text: str, merged_into: str | None) -> None:
    payload = change(text, merged_into=merged_into).model_dump_json()
    fast = with_alliance_url(payload, BASE)
    assert fast == _parsed_with_alliance_url(payload, BASE)
    parsed = AllianceChange.model_validate_json(fast)
    assert parsed.alliance.url == f"{BASE}/alliances/a0123456789abcdef"
    assert parsed.model_copy(update={"alliance": change(text).alliance}) == change(
        text, merged_into=merged_into
    )


@pytest.mark.parametrize("alliance_id", ["al/1 x", 'a"b', "a\\b", "医院"])
def test_an_id_to_quote_or_escape_gets_its_page_too(alliance_id: str) -> None:
    payload = change("x", alliance_id=alliance_id).model_dump_json()
    fast = with_alliance_url(payload, BASE)
    assert fast == _parsed_with_alliance_url(payload, BASE)
    assert json.loads(fast)["alliance"]["url"].startswith(f"{BASE}/alliances/")


def test_other_payloads_are_parsed() -> None:
    older = json.loads(change("x").model_dump_json())
    del older["alliance"]["url"]  # written before alliances had a page
    payload = json.dumps(older, ensure_ascii=False)
    assert with_alliance_url(payload, BASE) == _parsed_with_alliance_url(payload, BASE)
    assert json.loads(with_alliance_url(payload, BASE))["alliance"]["url"].startswith(BASE)
    set_before = with_alliance_url(change("x").model_dump_json(), "https://old.example.cn")
    assert with_alliance_url(set_before, BASE) == _parsed_with_alliance_url(set_before, BASE)
    without_id = json.loads(change("x").model_dump_json())
    without_id["alliance"]["id"] = ""
    payload = json.dumps(without_id, ensure_ascii=False, separators=(",", ":"))
    assert with_alliance_url(payload, BASE) == payload


def test_without_a_public_address_the_payload_is_left_as_it_is() -> None:
    payload = change("x").model_dump_json()
    assert with_alliance_url(payload, None) == payload
    assert with_alliance_url(payload, "") == payload
