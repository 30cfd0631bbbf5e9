"""A fetch of changes received as one batch makes exactly the deliveries that receiving
them one at a time makes: the same recipients, alert types and highlights, a change of an
alliance compared with the one before it in the same batch, duplicates dropped."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from services.common.contracts import AllianceChange
from services.notify.adapters.tables import DeliveryRow, NewDelivery, table_of
from tests.unit.notify.conftest import Api
from tests.unit.notify.factories import (
    CHONGQING,
    NANBU,
    alliance,
    change,
    correction,
    merger,
    rejection,
)
from tests.unit.notify.receivers import Receiver


def story(tag: str) -> list[AllianceChange]:
    """Changes as the registry publishes them, with ids of their own per ``tag``."""
    first = alliance(f"al-1{tag}")
    corrected = alliance(
        f"al-1{tag}", lead=(NANBU,), members=(CHONGQING,), provinces=("四川", "重庆")
    )
    second = alliance(f"al-2{tag}", specialty="儿科")
    third = alliance(f"al-3{tag}")
    return [
        change(f"c-1{tag}", first),
        change(f"c-1{tag}", first),  # delivered twice by the broker
        change(f"c-2{tag}", second),
        correction(f"c-3{tag}", corrected, ("lead", "members", "provinces")),
        rejection(f"c-4{tag}", second),  # told of it earlier in the same batch
        change(f"c-5{tag}", third),
        merger(f"c-6{tag}", third, into=f"al-1{tag}"),
    ]


def deliveries_of(api: Api, tag: str) -> list[tuple[Any, ...]]:
    """What was decided for the story ``tag``, without the ids that differ by tag."""
    with Session(api.parts.engine) as session:
        rows = session.exec(
            select(DeliveryRow)
            .where(col(DeliveryRow.alliance_id).endswith(tag))
            .order_by(col(DeliveryRow.change_id), col(DeliveryRow.subscription_id))
        ).all()
    plain: Callable[[str], str] = lambda text: text.replace(tag, "")  # noqa: E731
    return [
        (
            plain(row.change_id),
            row.subscription_id,
            row.type,
            tuple(plain(line) for line in json.loads(row.payload)["highlights"]),
        )
        for row in rows
    ]


async def test_a_batch_makes_the_deliveries_one_at_a_time_makes(
    api: Api, receiver: Receiver
) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    for path, filters in (
        ("/all", {}),
        ("/sc", {"provinces": ["四川"]}),
        ("/cq", {"provinces": ["重庆"]}),
        ("/ortho", {"specialties": ["骨科"]}),
    ):
        body = {"name": path, "channel": "webhook", "url": receiver.url + path, "filters": filters}
        answer = await api.client.post("/v1/subscriptions", json=body, headers=auth)
        assert answer.status_code == 201, answer.text

    one_at_a_time = 0
    for item in story("_qa"):
        one_at_a_time += await api.parts.service.receive_change(item)
    batched = await api.parts.service.receive_changes([(c, None) for c in story("_qb")])

    assert batched == one_at_a_time > 0
    expected = deliveries_of(api, "_qa")
    assert deliveries_of(api, "_qb") == expected
    kinds = {(change_id, kind) for change_id, _, kind, _ in expected}
    assert ("c-4", "alliance.retracted") in kinds, "retracted to those told in the batch"
    assert ("c-6", "alliance.retracted") in kinds
    # Received again (a rebalance re-delivers the fetch): nothing more.
    assert await api.parts.service.receive_changes([(c, None) for c in story("_qb")]) == 0


def test_a_new_delivery_is_written_as_its_row_would_be() -> None:
    """``NewDelivery`` stands for a new ``DeliveryRow`` in inserts: every column, and the
    same values, the defaults included."""
    now = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    given: dict[str, Any] = {
        "id": "dlv-1",
        "bureau_id": "bur-1",
        "subscription_id": "sub-1",
        "change_id": "c-1",
        "alliance_id": "al-1",
        "dedupe_key": "sub-1:c-1",
        "type": "alliance.created",
        "payload": "{}",
        "status": "pending",
        "next_attempt_at": now,
        "created_at": now,
        "trace_context": '{"traceparent": "00-1-2-01"}',
    }
    row = DeliveryRow(**given)
    columns = table_of(DeliveryRow).columns
    assert NewDelivery(**given).values() == {c.name: getattr(row, c.name) for c in columns}
    held = {**given, "next_attempt_at": None, "trace_context": None}  # a digest's, untraced
    row = DeliveryRow(**held)
    assert NewDelivery(**held).values() == {c.name: getattr(row, c.name) for c in columns}
