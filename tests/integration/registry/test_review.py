"""Analysts' review through the service, on SQLite and on PostgreSQL: corrections win over
later extractions (and replays), a rejection sticks, merges and splits move reports and
tell bureaus, every action is in the audit trail, and the export scores 1.0 against itself.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest

from services.common.contracts import AllianceChange, ExtractedArticle
from services.common.kafka.records import Record
from services.registry.adapters import outbox as outbox_rows
from services.registry.adapters.queries import AllianceFilters, AllianceView, RegistryQueries
from services.registry.adapters.review_queries import as_prediction, review_export
from services.registry.domain.review import Analyst, ReviewConflict, ReviewError
from services.registry.entrypoints.consumer import make_registry_handler
from services.registry.service import RegistryService
from tests.integration.registry.seeds import SHARED
from tests.integration.registry.test_repository import NOW, apply, article, seed_messages

SCORER = SHARED / "eval" / "score.py"


def analyst(repository: RegistryService, name: str = "王分析") -> Analyst:
    row, key = repository.create_analyst(name, NOW)
    found = repository.analyst_by_key(key)
    assert found == Analyst(row.id, name)
    return found


def view(repository: RegistryService, alliance_id: str) -> AllianceView:
    found = RegistryQueries(repository.engine).get_alliance(alliance_id)
    assert found is not None
    return found


def names(institutions: Any) -> list[str]:
    return [i.name for i in institutions]


def changes(repository: RegistryService, alliance_id: str) -> list[AllianceChange]:
    return [
        AllianceChange.model_validate_json(r.payload)
        for r in outbox_rows.outbox(repository.engine)
        if r.alliance_id == alliance_id
    ]


def seeded(repository: RegistryService) -> dict[str, str]:
    """The seed articles applied; their alliance by article id."""
    placed = {}
    for message in seed_messages():
        outcome = apply(repository, message)
        if outcome.alliance_ids:
            placed[message.article_id] = outcome.alliance_ids[0]
    return placed


def reextracted(message: ExtractedArticle, version: str, **changes: Any) -> ExtractedArticle:
    """The same article read again by a newer extractor (a replay)."""
    return message.model_copy(update={"extractor_version": version, **changes})


def red_cross(repository: RegistryService) -> tuple[ExtractedArticle, str]:
    message = seed_messages()[0]
    outcome = apply(repository, message)
    return message, outcome.alliance_ids[0]


def test_a_correction_is_locked_against_later_extractions_and_replays(
    repository: RegistryService,
) -> None:
    message, alliance_id = red_cross(repository)
    me = analyst(repository)
    repository.review(
        alliance_id,
        me,
        "correct",
        NOW,
        changes={"members": ["广汉市第二人民医院", "德阳市人民医院"], "date": "2018-07"},
        note="the article names both members; the day is the ceremony's",
    )
    [*_, corrected] = changes(repository, alliance_id)
    assert corrected.kind == "updated" and corrected.by_review
    assert set(corrected.changed_fields) == {"members", "date"}
    assert names(corrected.alliance.members) == ["广汉市第二人民医院", "德阳市人民医院"]

    # A replay by a newer extractor withdraws the article's report and files it again.
    apply(repository, reextracted(message, "gold-2"), hours=1)
    # Another article of the same alliance, with its own date: a new source, nothing more.
    other = article("r-later", *(e for e in message.events))
    apply(repository, other, hours=2)
    after = view(repository, alliance_id)
    assert names(after.alliance.members) == ["广汉市第二人民医院", "德阳市人民医院"]
    assert names(after.alliance.lead) == ["西安市红会医院"]
    assert after.alliance.date == "2018-07"
    assert {s.article_id for s in after.alliance.sources} == {message.article_id, "r-later"}
    assert after.review.status == "corrected" and after.review.reviewed_by_name == "王分析"
    assert after.review.locked_fields == ("members", "date")


def test_a_rejected_alliance_stays_rejected_and_out_of_sight(repository: RegistryService) -> None:
    message, alliance_id = red_cross(repository)
    me = analyst(repository)
    with pytest.raises(ReviewError, match="needs a note"):
        repository.review(alliance_id, me, "reject", NOW)
    repository.review(alliance_id, me, "reject", NOW, note="a ceremony, not an alliance")
    [*_, retracted] = changes(repository, alliance_id)
    assert retracted.kind == "retracted" and retracted.by_review
    queries = RegistryQueries(repository.engine)
    listed = [v.alliance.id for v in queries.iter_alliances(AllianceFilters())]
    assert alliance_id not in listed
    assert queries.stats(AllianceFilters())["total"] == 0
    everything = queries.iter_alliances(AllianceFilters(include_rejected=True))
    assert alliance_id in [v.alliance.id for v in everything]

    told = len(changes(repository, alliance_id))
    apply(repository, article("r-more", *message.events), hours=1)
    assert len(changes(repository, alliance_id)) == told  # no news for bureaus
    assert view(repository, alliance_id).review.status == "rejected"
    assert len(view(repository, alliance_id).alliance.sources) == 2

    repository.review(alliance_id, me, "confirm", NOW, note="it is one after all")
    [*_, back] = changes(repository, alliance_id)
    assert back.kind == "updated" and back.by_review and back.changed_fields == ("review_status",)
    assert view(repository, alliance_id).review.status == "confirmed"


def test_merge_moves_the_reports_and_later_extractions_follow(repository: RegistryService) -> None:
    placed = seeded(repository)
    messages = {m.article_id: m for m in seed_messages()}
    survivor, other = placed["seed-000"], placed["seed-001"]
    me = analyst(repository)
    repository.review(survivor, me, "correct", NOW, changes={"lead": ["西安市红会医院"]})
    repository.merge(survivor, other, me, NOW, note="the same alliance, reported twice")

    kept = view(repository, survivor)
    assert {s.article_id for s in kept.alliance.sources} == {"seed-000", "seed-001"}
    assert names(kept.alliance.lead) == ["西安市红会医院"]  # the survivor's lock wins
    assert "山西医科大学第二医院" in names(kept.alliance.members)  # the other's institutions
    assert view(repository, other).merged_into == survivor
    [*_, gone] = changes(repository, other)
    assert (gone.kind, gone.by_review, gone.merged_into) == ("retracted", True, survivor)
    assert names(gone.alliance.lead) == ["山西医科大学第二医院"]  # what bureaus were told of
    [*_, grown] = changes(repository, survivor)
    assert grown.kind == "updated" and grown.by_review and "sources" in grown.changed_fields
    queries = RegistryQueries(repository.engine)
    listed = [v.alliance.id for v in queries.iter_alliances(AllianceFilters(include_rejected=True))]
    assert other not in listed

    outcome = apply(repository, reextracted(messages["seed-001"], "gold-2"), hours=1)
    assert outcome.alliance_ids == (survivor,)
    with pytest.raises(ReviewConflict, match=f"merged into {survivor}"):
        repository.merge(survivor, other, me, NOW)
    with pytest.raises(ReviewConflict, match="into itself"):
        repository.merge(survivor, survivor, me, NOW)
    with pytest.raises(ReviewConflict, match=f"merged into {survivor}"):
        repository.review(other, me, "confirm", NOW)
    actions = [(a.action, a.note) for a in queries.history(other) or []]
    assert actions == [("absorbed", "the same alliance, reported twice")]
    assert [a.action for a in queries.history(survivor) or []] == ["correct", "merge"]


def test_split_moves_articles_to_a_new_alliance(repository: RegistryService) -> None:
    message, alliance_id = red_cross(repository)
    apply(repository, article("r-two", *message.events), hours=1)
    me = analyst(repository)
    with pytest.raises(ReviewError, match="not sources"):
        repository.split(alliance_id, ["nope"], me, NOW)
    with pytest.raises(ReviewError, match="every source"):
        repository.split(alliance_id, ["r-two", message.article_id], me, NOW)
    outcome = repository.split(alliance_id, ["r-two"], me, NOW, note="a second alliance")
    new_id = outcome.alliance_id
    assert new_id != alliance_id
    assert [s.article_id for s in view(repository, new_id).alliance.sources] == ["r-two"]
    assert [s.article_id for s in view(repository, alliance_id).alliance.sources] == [
        message.article_id
    ]
    [created] = changes(repository, new_id)
    assert created.kind == "created" and created.by_review
    [*_, shrunk] = changes(repository, alliance_id)
    assert shrunk.kind == "updated" and shrunk.by_review and "sources" in shrunk.changed_fields
    history = RegistryQueries(repository.engine).history(alliance_id) or []
    [split] = history
    assert split.action == "split" and split.analyst_name == "王分析"
    before, after = json.loads(split.before or "{}"), json.loads(split.after or "{}")
    assert len(before["sources"]) == 2 and len(after["sources"]) == 1


def test_the_queue_is_unreviewed_least_certain_first(repository: RegistryService) -> None:
    placed = seeded(repository)
    queries = RegistryQueries(repository.engine)
    seen: list[AllianceView] = []
    cursor = None
    while True:
        page, cursor = queries.review_queue(1, cursor)
        seen += page
        if cursor is None:
            break
    assert sorted(v.alliance.id for v in seen) == sorted(set(placed.values()))
    keys = [(v.alliance.confidence, -v.alliance.first_seen.timestamp()) for v in seen]
    assert keys == sorted(keys)
    repository.review(seen[0].alliance.id, analyst(repository), "confirm", NOW)
    rest, _ = queries.review_queue(50)
    assert [v.alliance.id for v in rest] == [v.alliance.id for v in seen[1:]]
    sichuan, _ = queries.review_queue(50, province="四川")
    assert sichuan and all("四川" in v.alliance.provinces for v in sichuan)


def test_corrections_win_through_the_consumer(repository: RegistryService) -> None:
    message, alliance_id = red_cross(repository)
    repository.review(
        alliance_id, analyst(repository), "correct", NOW, changes={"lead": ["陕西省人民医院"]}
    )
    handle = make_registry_handler(repository, clock=lambda: NOW)
    replay = reextracted(message, "gold-3")
    record = Record("alliances.extracted", 0, 7, message.article_id.encode(), b"")
    asyncio.run(handle(replay, record))
    assert names(view(repository, alliance_id).alliance.lead) == ["陕西省人民医院"]


@pytest.mark.skipif(not SCORER.exists(), reason="../shared/eval/score.py is absent")
def test_the_export_scores_one_against_itself(repository: RegistryService, tmp_path: Any) -> None:
    placed = seeded(repository)
    me = analyst(repository)
    ids = sorted(set(placed.values()))
    for alliance_id in ids[:-1]:
        repository.review(alliance_id, me, "confirm", NOW)
    repository.review(ids[-1], me, "reject", NOW, note="not an alliance")
    rows = list(review_export(RegistryQueries(repository.engine)))
    assert {r["file"] for r in rows} == set(placed)
    assert any(not r["is_alliance_event"] for r in rows)  # the rejected one's article
    gold, pred = tmp_path / "gold.jsonl", tmp_path / "pred.jsonl"
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    pred.write_text(
        "".join(json.dumps(as_prediction(r), ensure_ascii=False) + "\n" for r in rows), "utf-8"
    )
    scored = subprocess.run(
        [sys.executable, str(SCORER), str(gold), str(pred), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(scored.stdout)
    assert result["pairs"]["f1"] == 1.0 and result["relevance"]["f1"] == 1.0


def test_a_rename_folds_a_corrected_institution_and_the_correction_follows(
    repository: RegistryService,
) -> None:
    _, alliance_id = red_cross(repository)
    repository.review(
        alliance_id, analyst(repository), "correct", NOW, changes={"lead": ["红会医院新院区"]}
    )
    assert names(view(repository, alliance_id).alliance.lead) == ["红会医院新院区"]
    repository.put_rename("红会医院新院区", "西安市红会医院", NOW)
    after = view(repository, alliance_id)
    assert names(after.alliance.lead) == ["西安市红会医院"]
    assert names(after.alliance.members) == ["广汉市第二人民医院"]
    assert after.review.locked_fields == ("lead",)
