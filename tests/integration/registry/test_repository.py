"""The registry's write path and queries, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy import inspect as sa_inspect

from services.common.contracts import (
    AllianceChange,
    EventType,
    Evidence,
    ExtractedArticle,
    InstitutionMention,
)
from services.registry.adapters import outbox as outbox_rows
from services.registry.adapters.migrate import (
    VERSION_TABLE,
    current_revision,
    downgrade,
    upgrade,
)
from services.registry.adapters.queries import AllianceFilters, RegistryQueries
from services.registry.adapters.tables import REGISTRY_TABLES
from services.registry.service import RegistryService
from tests.integration.registry.seeds import event_of, gold_rows, seed_messages

NOW = datetime(2024, 6, 2, tzinfo=UTC)


def queries(repository: RegistryService) -> RegistryQueries:
    """The read model over the repository's database, as the API reads it."""
    return RegistryQueries(repository.engine)


def snapshot(repository: RegistryService) -> dict[str, Any]:
    views = list(queries(repository).iter_alliances(AllianceFilters()))
    return {
        "alliances": {v.alliance.id: (v.revision, v.alliance.model_dump_json()) for v in views},
        "counts": queries(repository).counts(),
        "outbox": [(r.change_id, r.payload) for r in outbox_rows.outbox(repository.engine)],
    }


def apply(repository: RegistryService, message: ExtractedArticle, hours: int = 0) -> Any:
    return repository.apply_extraction(message, NOW + timedelta(hours=hours))


def article(
    article_id: str, *events: Any, version: str = "1", minutes: int = 0
) -> ExtractedArticle:
    return ExtractedArticle(
        article_id=article_id,
        extractor_version=version,
        url=f"https://news.example.org/{article_id}",
        title=f"title {article_id}",
        relevant=bool(events),
        events=tuple(events),
        extracted_at=NOW + timedelta(minutes=minutes),
    )


def red_cross_event(**changes: Any) -> Any:
    gold = next(r for r in gold_rows() if str(r["file"]).startswith("000"))
    return event_of(gold["events"][0], **changes)  # type: ignore[index]


# --- schema ------------------------------------------------------------------------


def test_migrations_build_exactly_the_modelled_schema(repository: RegistryService) -> None:
    engine = repository.engine
    upgrade(engine)  # a second run is a no-op
    assert current_revision(engine) == "0006"
    names = {t.__tablename__ for t in REGISTRY_TABLES}  # type: ignore[attr-defined]
    # Only the registry's tables: other services' models share SQLModel's metadata.
    ours = MetaData()
    for model in REGISTRY_TABLES:
        model.__table__.to_metadata(ours)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_name": lambda name, kind, _: kind != "table" or name in names,
                "version_table": VERSION_TABLE,
            },
        )
        diff = compare_metadata(context, ours)
    assert diff == []


def test_migration_0002_adds_the_outbox_trace_context_and_takes_it_away(
    repository: RegistryService,
) -> None:
    engine = repository.engine

    def columns() -> set[str]:
        return {c["name"] for c in sa_inspect(engine).get_columns("outbox")}

    assert "trace_context" in columns()
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert "trace_context" not in columns()
    upgrade(engine)
    assert "trace_context" in columns()


def test_migration_0003_rebuilds_place_rows_in_the_one_vocabulary(
    repository: RegistryService,
) -> None:
    apply(repository, county_hospitals("叙永县", "泸州市", "m1"))
    apply(repository, county_hospitals("朝阳区", "北京市", "m2"))
    engine = repository.engine

    def rows() -> set[tuple[str, str, str]]:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT alliance_id, kind, value FROM alliance_places"))
            return {(a, k, v) for a, k, v in found}

    current = rows()
    assert {"叙永县", "叙永", "朝阳区", "朝阳"} <= {v for _, k, v in current if k == "county"}
    downgrade(engine, "0002")
    with engine.begin() as connection:  # as 0002 stored them: county stems only
        connection.execute(
            text(
                "DELETE FROM alliance_places WHERE kind = 'county' AND value IN ('叙永县', '朝阳区')"
            )
        )
    assert rows() < current
    upgrade(engine)
    assert rows() == current


# --- the seeds -----------------------------------------------------------------------


def test_the_four_seeds_give_four_alliances_however_often_they_arrive(
    repository: RegistryService,
) -> None:
    for round_ in range(3):
        for message in seed_messages():
            apply(repository, message, round_)
    first = snapshot(repository)
    assert first["counts"]["alliances"] == 4
    assert first["counts"]["articles"] == 4
    assert len(first["outbox"]) == 4, "one 'created' change per alliance, nothing for replays"
    # A re-extraction by a newer extractor saying the same replaces, adds nothing.
    for message in seed_messages("gold-2"):
        outcome = apply(repository, message, 5)
        assert outcome.status == "applied" and outcome.changes == ()
    assert queries(repository).counts()["alliances"] == 4
    assert queries(repository).counts()["reports"] == 4
    # An older extraction arriving late is ignored.
    for message in seed_messages("gold-1"):
        assert apply(repository, message, 6).status == "stale"
    assert snapshot(repository)["alliances"] == first["alliances"]


def test_replaying_everything_changes_nothing(repository: RegistryService) -> None:
    messages = [
        *seed_messages(),
        article("b1", red_cross_event(date="2018-07")),
        *seed_messages("gold-2"),
    ]
    for message in messages:
        apply(repository, message)
    before = snapshot(repository)
    for message in messages:
        apply(repository, message, 1)
    assert snapshot(repository) == before


def test_two_differently_worded_reports_merge_with_two_sources(
    repository: RegistryService,
) -> None:
    apply(repository, seed_messages()[0])
    reworded = red_cross_event(
        lead=(InstitutionMention(name="陕西省西安市红会医院", province="陕西省"),),
        members=(InstitutionMention(name="广汉市第二人民医院", province="四川"),),
        date="2018-07",
        confidence=0.6,
        evidence=Evidence(text="红会医院与广汉二院建立骨科专科联盟", start=0, end=16),
    )
    outcome = apply(repository, article("other-outlet", reworded), 1)
    assert outcome.status == "applied"
    (view,) = list(queries(repository).iter_alliances(AllianceFilters()))
    alliance = view.alliance
    assert [s.article_id for s in alliance.sources] == ["seed-000", "other-outlet"]
    assert [i.name for i in alliance.lead] == ["西安市红会医院"]
    assert "陕西省西安市红会医院" in alliance.lead[0].aliases
    assert alliance.date == "2018-07-29", "the day beats the month"
    assert alliance.confidence > 0.8
    (change,) = outcome.changes
    assert change.kind == "updated"
    assert {"sources", "confidence"} <= set(change.changed_fields)
    assert queries(repository).counts()["institutions"] == 2


def test_a_new_member_joining_updates_the_alliance(repository: RegistryService) -> None:
    apply(repository, seed_messages()[0])
    joining = red_cross_event(
        members=(InstitutionMention(name="德阳市人民医院"),), date="2019-05-10"
    )
    outcome = apply(repository, article("joining", joining), 1)
    (view,) = list(queries(repository).iter_alliances(AllianceFilters()))
    assert [m.name for m in view.alliance.members] == ["广汉市第二人民医院", "德阳市人民医院"]
    assert "members" in outcome.changes[0].changed_fields
    assert view.alternatives["date"][0].value == "2018-07-29"


def test_re_extraction_replaces_the_articles_contribution(
    repository: RegistryService,
) -> None:
    first = article(
        "x1",
        red_cross_event(members=(InstitutionMention(name="错误医院"),)),
        version="1.9",
    )
    apply(repository, first)
    (before,) = list(queries(repository).iter_alliances(AllianceFilters()))
    fixed = article("x1", red_cross_event(), version="1.10", minutes=1)
    outcome = apply(repository, fixed, 1)
    (after,) = list(queries(repository).iter_alliances(AllianceFilters()))
    assert after.alliance.id == before.alliance.id, "the alliance keeps its id"
    assert [m.name for m in after.alliance.members] == ["广汉市第二人民医院"]
    assert outcome.changes[0].changed_fields == ("members",)
    assert queries(repository).counts()["reports"] == 1
    # The newer extraction finds nothing: the alliance it alone supported goes.
    empty = article("x1", version="1.11", minutes=2)
    gone = apply(repository, empty, 2)
    assert gone.removed == (after.alliance.id,)
    assert queries(repository).counts()["alliances"] == 0


def test_an_alliance_founded_again_goes_on_from_its_earlier_change_ids(
    repository: RegistryService,
) -> None:
    """An article (updated at its URL, extracted by the same extractor) stops reporting
    its alliance, whose row goes, then reports it again: the alliance comes back under
    its id, with change ids notify has not seen yet."""
    founded = apply(repository, article("x1", red_cross_event()))
    (first,) = founded.changes
    gone = apply(repository, article("x1", minutes=1), 1)
    assert gone.removed == (first.alliance_id,)
    again = apply(repository, article("x1", red_cross_event(), minutes=2), 2)
    (change,) = again.changes
    assert change.alliance_id == first.alliance_id and change.kind == "created"
    changes = [r.change_id for r in outbox_rows.outbox(repository.engine)]
    assert changes == [f"{first.alliance_id}-r1", f"{first.alliance_id}-r2"]
    assert change.change_id == changes[-1]


def test_same_name_in_two_counties_stays_two_institutions(
    repository: RegistryService,
) -> None:
    def hospital(county: str, article_id: str) -> ExtractedArticle:
        return article(
            article_id,
            red_cross_event(
                type=EventType.county_community,
                specialty=None,
                lead=(InstitutionMention(name="县人民医院", county=county),),
                members=(InstitutionMention(name="城关镇卫生院", county=county),),
            ),
        )

    apply(repository, hospital("叙永县", "c1"))
    apply(repository, hospital("古蔺县", "c2"))
    assert queries(repository).counts()["institutions"] == 4
    assert queries(repository).counts()["alliances"] == 2
    page, _ = queries(repository).list_alliances(AllianceFilters(county="叙永"), 10)
    assert len(page) == 1


def county_hospitals(county: str, city: str, article_id: str) -> ExtractedArticle:
    """An article on a county's hospital leading its township clinic."""
    return article(
        article_id,
        red_cross_event(
            type=EventType.county_community,
            specialty=None,
            lead=(InstitutionMention(name=f"{county}人民医院", city=city, county=county),),
            members=(InstitutionMention(name="城关镇卫生院", city=city, county=county),),
        ),
    )


def test_a_district_and_a_county_of_one_stem_are_two_places(
    repository: RegistryService,
) -> None:
    """The registry reads a place word as alert matching does (services.common.places)."""

    apply(repository, county_hospitals("朝阳区", "北京市", "d1"))
    apply(repository, county_hospitals("朝阳县", "朝阳市", "d2"))

    def found(**filters: str) -> int:
        page, _ = queries(repository).list_alliances(AllianceFilters(**filters), 10)  # type: ignore[arg-type]
        return len(page)

    assert found(county="朝阳区") == 1
    assert found(county="朝阳县") == 1
    assert found(county="朝阳 区") == 1  # spacing is no other place
    assert found(city="朝阳") == found(city="朝阳市") == 1


def test_a_rename_folds_institutions_and_their_alliances(
    repository: RegistryService,
) -> None:
    gold = next(r for r in gold_rows() if str(r["file"]).startswith("003"))
    event = gold["events"][0]  # type: ignore[index]
    old = event_of(event, lead=(InstitutionMention(name="泸州医学院附属医院"),))
    apply(repository, article("old-name", old))
    apply(repository, article("new-name", event_of(event)), 1)
    assert queries(repository).counts()["alliances"] == 2, (
        "unknown rename: two leads, two alliances"
    )
    rule, created = repository.put_rename("泸州医学院附属医院", "西南医科大学附属医院", NOW)
    assert created and rule.id is not None
    (view,) = list(queries(repository).iter_alliances(AllianceFilters()))
    assert [i.name for i in view.alliance.lead] == ["西南医科大学附属医院"]
    assert "泸州医学院附属医院" in view.alliance.lead[0].aliases
    assert {s.article_id for s in view.alliance.sources} == {"old-name", "new-name"}
    assert queries(repository).counts()["institutions"] == 2
    # Later articles under the old name land on the same institution and alliance.
    apply(repository, article("older-wording", old), 2)
    assert queries(repository).counts()["alliances"] == 1
    assert json.loads(outbox_rows.outbox(repository.engine)[-1].payload)["kind"] == "updated"
    assert repository.delete_rename(rule.id)
    assert queries(repository).list_renames() == []


def test_the_outbox_holds_one_change_per_committed_change(
    repository: RegistryService,
) -> None:
    apply(repository, seed_messages()[0])
    apply(repository, seed_messages()[0])
    apply(repository, article("b1", red_cross_event(date="2018-07")))
    rows = outbox_rows.outbox(repository.engine)
    changes = [AllianceChange.model_validate_json(r.payload) for r in rows]
    assert [c.kind for c in changes] == ["created", "updated"]
    assert [c.change_id for c in changes] == [
        f"{changes[0].alliance_id}-r1",
        f"{changes[0].alliance_id}-r2",
    ]
    assert len(changes[1].alliance.sources) == 2
    assert [r.change_id for r in outbox_rows.pending_changes(repository.engine, 10)] == [
        r.change_id for r in rows
    ]
    outbox_rows.mark_sent(repository.engine, [rows[0].id or 0], NOW)
    assert [r.change_id for r in outbox_rows.pending_changes(repository.engine, 10)] == [
        rows[1].change_id
    ]


def test_filters_pagination_and_stats(repository: RegistryService) -> None:
    for message in seed_messages():
        apply(repository, message)
    everything = AllianceFilters()
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = queries(repository).list_alliances(everything, 3, cursor)
        seen.extend(v.alliance.id for v in page)
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4

    def ids(**filters: Any) -> int:
        return len(queries(repository).list_alliances(AllianceFilters(**filters), 50)[0])

    assert ids(province="四川省") == 2
    assert ids(province="陕西") == 1
    assert ids(type=EventType.tight_consortium) == 2
    assert ids(specialty="骨科") == 2
    assert ids(institution="陕西省西安市红会医院") == 1
    assert ids(q="红会") == 1
    assert ids(q="%") == 0
    assert ids(since=datetime(2022, 1, 1).date()) == 2
    assert ids(until=datetime(2018, 6, 30).date()) == 1
    assert ids(since=datetime(2018, 7, 1).date(), until=datetime(2018, 7, 31).date()) == 1
    stats = queries(repository).stats(everything)
    assert stats["total"] == 4
    assert stats["by_type"] == {"specialty_alliance": 2, "tight_consortium": 2}
    assert stats["by_province"]["四川"] == 2
    assert stats["by_month"]["2023-10"] == 1
    institutions, _ = queries(repository).list_institutions("医院", 50)
    assert len(institutions) == 8
    found = queries(repository).get_institution(institutions[0].institution.id)
    assert found is not None and found[1][0][0] in ("lead", "member")
