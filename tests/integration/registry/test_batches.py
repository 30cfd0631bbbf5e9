"""A fetch of extractions taken in as one transaction leaves the registry exactly as taking
them in one at a time does: the same alliances, the same outcomes, the same changes in the
outbox, in order; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from services.common.contracts import (
    EventType,
    Evidence,
    ExtractedArticle,
    InstitutionMention,
)
from services.common.db import make_engine
from services.registry.adapters import outbox as outbox_rows
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.queries import AllianceFilters, RegistryQueries
from services.registry.service import ApplyOutcome, RegistryService
from tests.integration.registry.seeds import seed_messages
from tests.integration.registry.test_repository import article, red_cross_event

NOW = datetime(2024, 6, 2, tzinfo=UTC)


def story() -> list[ExtractedArticle]:
    """Seeds, a second report of one of them, a member joining, an article re-extracted
    by a newer extractor and the same message delivered twice."""
    reworded = red_cross_event(
        lead=(InstitutionMention(name="陕西省西安市红会医院", province="陕西省"),),
        evidence=Evidence(text="红会医院与广汉二院建立骨科专科联盟", start=0, end=16),
    )
    joining = red_cross_event(members=(InstitutionMention(name="德阳市人民医院"),))
    wrong = red_cross_event(members=(InstitutionMention(name="错误医院"),))
    return [
        *seed_messages(),
        article("other-outlet", reworded),
        article("x1", wrong, version="1.9"),
        article("joining", joining),
        article("x1", red_cross_event(), version="1.10", minutes=1),
        article("joining", joining),
    ]


def state(repository: RegistryService) -> dict[str, Any]:
    """The registry's facts without the ids it makes up."""
    views = RegistryQueries(repository.engine).iter_alliances(AllianceFilters())
    alliances = sorted(
        (
            tuple(i.name for i in v.alliance.lead),
            tuple(i.name for i in v.alliance.members),
            tuple(s.article_id for s in v.alliance.sources),
            v.alliance.type.value,
            v.alliance.date,
        )
        for v in views
    )
    changes = [
        (change["kind"], tuple(change["changed_fields"]))
        for change in (json.loads(r.payload) for r in outbox_rows.outbox(repository.engine))
    ]
    return {"alliances": alliances, "changes": changes}


def summary(outcomes: list[ApplyOutcome]) -> list[tuple[Any, ...]]:
    return [
        (o.status, len(o.alliance_ids), [(c.kind, c.changed_fields) for c in o.changes])
        for o in outcomes
    ]


@pytest.fixture
def one_at_a_time(tmp_path: Path) -> RegistryService:
    engine = make_engine(f"sqlite:///{tmp_path}/one-at-a-time.db")
    upgrade(engine)
    return RegistryService(engine)


def test_a_batch_leaves_the_registry_as_one_at_a_time_does(
    repository: RegistryService, one_at_a_time: RegistryService
) -> None:
    singles = [one_at_a_time.apply_extraction(m, NOW) for m in story()]
    batched = repository.apply_extractions(story(), NOW)
    assert summary(batched) == summary(singles)
    assert [o.status for o in batched][-1] == "unchanged", "the message delivered twice"
    assert state(repository) == state(one_at_a_time)
    assert len(state(repository)["alliances"]) == 4


def institutions(repository: RegistryService) -> list[tuple[Any, ...]]:
    with repository.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("SELECT id, name, aliases, province, county FROM institutions ORDER BY id")
            )
        ]


def test_institutions_new_to_a_batch_are_found_again_within_it(
    repository: RegistryService, one_at_a_time: RegistryService
) -> None:
    """A batch remembers the institutions it founds: the same name again (learning an
    alias) is the same institution, the same name and county in other provinces are
    others, numbered after the first, and a second batch finds them all."""

    def hospital(article_id: str, province: str, *aliases: str) -> ExtractedArticle:
        return article(
            article_id,
            red_cross_event(
                type=EventType.county_community,
                specialty=None,
                lead=(
                    InstitutionMention(
                        name="城关医院", aliases=aliases, province=province, county="城关镇"
                    ),
                ),
                members=(InstitutionMention(name="城关镇卫生院", province=province),),
            ),
        )

    first = [hospital("n1", "四川"), hospital("n2", "四川", "城关中心医院"), hospital("n3", "河南")]
    second = [hospital("n4", "湖北"), hospital("n5", "河南", "城关县医院")]
    singles = [one_at_a_time.apply_extraction(m, NOW) for m in first + second]
    batched = repository.apply_extractions(first, NOW) + repository.apply_extractions(second, NOW)
    assert summary(batched) == summary(singles)
    assert state(repository) == state(one_at_a_time)
    assert institutions(repository) == institutions(one_at_a_time)
    assert sorted(i[0][16:] for i in institutions(repository) if i[1] == "城关医院") == [
        "",
        "-2",
        "-3",
    ]


def test_a_batch_reads_more_names_than_one_statement_binds(repository: RegistryService) -> None:
    """Its candidates are read a thousand names per SELECT (``rows.in_chunks``): a name
    with many spellings is one institution, found again by any of them."""
    aliases = tuple(f"城关医院第{n}分院" for n in range(1, 1201))

    def hospital(article_id: str, *aliases: str) -> ExtractedArticle:
        lead = InstitutionMention(name="城关医院", aliases=aliases, province="四川")
        return article(article_id, red_cross_event(lead=(lead,)))

    repository.apply_extractions([hospital("many", *aliases)], NOW)
    again = InstitutionMention(name=aliases[-1], province="四川")
    repository.apply_extractions([article("one", red_cross_event(lead=(again,)))], NOW)
    [named] = [i for i in institutions(repository) if i[1] == "城关医院"]
    assert len(json.loads(named[2])) == len(aliases)
    assert not [i for i in institutions(repository) if i[1] == aliases[-1]]


def test_a_batch_that_fails_writes_nothing(repository: RegistryService) -> None:
    messages = seed_messages()
    boom = DataError("INSERT", {}, Exception("value too long"))

    def around(message: ExtractedArticle) -> Any:
        if message.article_id == messages[-1].article_id:
            raise boom
        return nullcontext()

    with pytest.raises(DataError):
        repository.apply_extractions(messages, NOW, around)
    assert RegistryQueries(repository.engine).counts()["alliances"] == 0
    assert outbox_rows.outbox(repository.engine) == []


def changes(repository: RegistryService) -> list[tuple[str, str]]:
    return [(r.change_id, r.alliance_id) for r in outbox_rows.outbox(repository.engine)]


def applied(outcomes: list[ApplyOutcome]) -> list[tuple[Any, ...]]:
    return [
        (o.status, o.alliance_ids, [c.change_id for c in o.changes], o.removed) for o in outcomes
    ]


def test_a_message_finds_the_alliance_an_earlier_one_of_its_batch_founded(
    repository: RegistryService, one_at_a_time: RegistryService
) -> None:
    """A batch reads the alliances its institutions are in once, for all its messages
    (``RegistryStore.hold_alliances``): what an earlier message founded, linked or filed
    is there for a later one, as it is for the next message taken in alone."""
    joining = red_cross_event(members=(InstitutionMention(name="德阳市人民医院"),))
    messages = [
        article("first", red_cross_event()),
        article("second", red_cross_event()),
        # Known only by the member the second message's alliance gained from this one.
        article("third", joining),
        article("fourth", red_cross_event(lead=(), members=joining.members)),
    ]
    singles = [one_at_a_time.apply_extraction(m, NOW) for m in messages]
    batched = repository.apply_extractions(messages, NOW)
    assert applied(batched) == applied(singles)
    assert len({o.alliance_ids for o in batched[:3]}) == 1, "one alliance, reported thrice"
    assert changes(repository) == changes(one_at_a_time)
    assert state(repository) == state(one_at_a_time)


def test_a_message_does_not_find_what_an_earlier_one_of_its_batch_withdrew(
    repository: RegistryService, one_at_a_time: RegistryService
) -> None:
    """An article re-extracted as irrelevant takes its report, and with it the alliance
    it alone reported, out of the batch's view too: a later message of the same batch
    founds an alliance anew; the same article reported again founds its old id again,
    going on from the revisions the outbox already has of it."""
    before = [article("p", red_cross_event())]
    batch = [
        article("p", minutes=1),  # nothing any more: its alliance goes
        article("q", red_cross_event()),
        article("s", red_cross_event()),  # q's now, not p's old one
        article("r", red_cross_event(members=(InstitutionMention(name="德阳市人民医院"),))),
    ]
    again = [
        *(article(a, minutes=3) for a in "qsr"),
        article("p", red_cross_event(), minutes=3),
    ]
    singles = [one_at_a_time.apply_extraction(m, NOW) for m in before + batch + again]
    batched = [
        *repository.apply_extractions(before, NOW),
        *repository.apply_extractions(batch, NOW),
        *repository.apply_extractions(again, NOW),
    ]
    assert applied(batched) == applied(singles)
    [founded] = batched[0].alliance_ids
    assert batched[1].removed == (founded,)
    assert batched[2].alliance_ids != (founded,), "founded anew, not found in the withdrawn"
    assert batched[3].alliance_ids == batched[2].alliance_ids
    assert batched[-2].removed == batched[2].alliance_ids
    assert batched[-1].alliance_ids == (founded,)
    assert batched[-1].changes[0].change_id == f"{founded}-r2", "its revisions go on"
    assert changes(repository) == changes(one_at_a_time)
    assert state(repository) == state(one_at_a_time)


def test_an_alliance_gone_and_founded_again_within_a_batch_keeps_its_id_and_revisions(
    repository: RegistryService, one_at_a_time: RegistryService
) -> None:
    """Whether the id a new alliance would take is stored, and the revisions the outbox
    has of it, are looked up once for the batch: what its earlier messages stored and
    deleted counts as well."""
    event = red_cross_event(
        lead=(InstitutionMention(name="城关县人民医院", province="四川"),),
        members=(InstitutionMention(name="城关镇卫生院", province="四川"),),
    )
    batch = [article("t", event), article("t", minutes=1), article("t", event, minutes=2)]
    singles = [one_at_a_time.apply_extraction(m, NOW) for m in batch]
    batched = repository.apply_extractions(batch, NOW)
    assert applied(batched) == applied(singles)
    [founded] = batched[0].alliance_ids
    assert batched[1].removed == (founded,)
    assert [c.change_id for c in batched[2].changes] == [f"{founded}-r2"]
    assert changes(repository) == changes(one_at_a_time)


def test_an_alliance_only_matched_against_is_not_written_again(
    repository: RegistryService,
) -> None:
    """A report that names one institution of an alliance reads that alliance to match
    against it; when it is filed elsewhere, the alliance's record and document stay as they
    were, and bureaus hear nothing of it (its stored document is made to differ here, as
    one written by an earlier version would)."""
    [founded] = repository.apply_extractions([article("first", red_cross_event())], NOW)
    [alliance_id] = founded.alliance_ids
    with repository.engine.begin() as connection:
        connection.execute(
            text("UPDATE alliances SET document = :d WHERE id = :id"),
            {"d": '{"written by": "an earlier version"}', "id": alliance_id},
        )
    other_lead = (InstitutionMention(name="德阳市人民医院", province="四川"),)
    [second] = repository.apply_extractions(
        [article("second", red_cross_event(lead=other_lead))], NOW
    )
    assert second.alliance_ids and alliance_id not in second.alliance_ids
    assert [c.alliance_id for c in second.changes] == list(second.alliance_ids)
    with repository.engine.connect() as connection:
        document = connection.execute(
            text("SELECT document FROM alliances WHERE id = :id"), {"id": alliance_id}
        ).scalar_one()
    assert document == '{"written by": "an earlier version"}'


def test_a_province_learnt_within_a_batch_reaches_the_alliances_it_was_known_in(
    repository: RegistryService, one_at_a_time: RegistryService
) -> None:
    """An alliance's facts are made once for its reports while no province changes
    (``KnownInstitutions.places_revision``): an institution's province learnt from a later
    message of the batch is in the alliance's facts as that message finds them, as it is
    when the message is taken in alone."""
    placeless = red_cross_event(
        lead=(InstitutionMention(name="城关县人民医院", county="城关县"),),
        members=(InstitutionMention(name="城关镇卫生院", province="四川"),),
    )
    placed = red_cross_event(
        lead=(InstitutionMention(name="城关县人民医院", province="河南", county="城关县"),),
        members=(InstitutionMention(name="城关镇卫生院", province="四川"),),
    )
    messages = [article("first", placeless), article("second", placed)]
    singles = [one_at_a_time.apply_extraction(m, NOW) for m in messages]
    batched = repository.apply_extractions(messages, NOW)
    assert applied(batched) == applied(singles)
    assert summary(batched) == summary(singles)
    assert batched[0].alliance_ids == batched[1].alliance_ids, "one alliance, reported twice"
    assert changes(repository) == changes(one_at_a_time)
    assert state(repository) == state(one_at_a_time)


def test_what_an_alliance_was_is_kept_from_before_a_later_event_placed_its_institution(
    repository: RegistryService,
) -> None:
    """An alliance's facts as a message loaded it are made only when needed
    (``Working.unmade``), but before a province changes: the message's second event
    places the lead of the alliance its first event joined, and the alliance's change
    names its provinces, which it had not had."""
    placeless = InstitutionMention(name="城关县人民医院", county="城关县")
    placed = InstitutionMention(name="城关县人民医院", province="河南", county="城关县")
    member = InstitutionMention(name="城关镇卫生院", province="四川")
    joined = red_cross_event(lead=(placeless,), members=(member,))
    elsewhere = red_cross_event(
        type=EventType.trusteeship,
        specialty="眼科",
        lead=(InstitutionMention(name="德阳市人民医院", province="四川"),),
        members=(placed,),
    )
    [first] = repository.apply_extractions([article("first", joined)], NOW)
    [second] = repository.apply_extractions([article("second", joined, elsewhere)], NOW)
    [alliance_id] = first.alliance_ids
    [change] = [c for c in second.changes if c.alliance_id == alliance_id]
    assert change.changed_fields == ("provinces", "confidence", "sources")
