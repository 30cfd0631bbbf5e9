"""Fault injection: articles pushed while services are SIGKILLed and the broker restarts.

    python -m tools.chaos [--articles 60] [--kills 2] [--budget 600]

Runs the whole system in a temporary directory (its own broker on free loopback ports),
subscribes three webhook endpoints (everything, one province, a filter nothing matches),
pushes synthetic articles as a crawler would (retrying on 503 / refused connections), and
meanwhile SIGKILLs extract, registry and notify ``--kills`` times each and restarts the
broker once. Poison messages (malformed JSON, an unknown schema_version, an oversized
article) go straight into the topics. Then it waits for the system to settle and checks:

- every accepted article is known to the registry (else: lost);
- every alliance is in the registry once;
- every alliance reached every matching subscription under exactly one webhook-id
  (a second id for the same alert: duplicated; none: lost), with a valid signature;
- no alert reached a subscription whose filters do not match;
- each poison message is in its dead-letter topic with a reason.

It ends with ``chaos: N accepted, K faults, L lost, D duplicated`` and exits non-zero
unless L and D are 0 and every other check held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from services.common.contracts import (
    TOPIC_ALLIANCES_EXTRACTED,
    TOPIC_ARTICLES_RAW,
    RawArticle,
    dlq_topic,
    encode,
)
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource
from tools.articles import SyntheticArticle, generate
from tools.harness import Stack, WebhookReceiver

CONSUMERS = ("extract", "registry", "notify")


def say(message: str) -> None:
    print(f"[chaos] {message}", flush=True)


@dataclass
class Crawler:
    """Pushes articles like a crawler: retries what ingest could not make durable."""

    stack: Stack
    accepted: dict[str, SyntheticArticle] = field(default_factory=dict)
    refused: int = 0
    retries: int = 0
    failed: list[str] = field(default_factory=list)

    def push_all(self, articles: list[SyntheticArticle], pace: float, deadline: float) -> None:
        for article in articles:
            self._push(article, deadline)
            time.sleep(pace)

    def _push(self, article: SyntheticArticle, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                answer = self.stack.push(article.payload(), timeout=30)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code == 202:
                self.accepted[answer.json()["article_id"]] = article
                return
            if answer is not None and answer.status_code < 500:
                self.failed.append(f"{article.url}: {answer.status_code} {answer.text[:200]}")
                return
            self.retries += 1
            wait = 1.0
            if answer is not None and answer.status_code == 503:
                self.refused += 1
                wait = float(answer.headers.get("Retry-After", "1"))
            time.sleep(min(wait, 2.0))
        self.failed.append(f"{article.url}: not accepted before the deadline")


#: Longer than ingest's send timeout (10 s), so that crawlers really get 503 meanwhile.
BROKER_OUTAGE_SECONDS = 12.0


@dataclass
class Faults:
    stack: Stack
    kills: int
    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def plan(self) -> list[str]:
        plan = [name for name in CONSUMERS for _ in range(self.kills)]
        random.Random(11).shuffle(plan)
        plan.insert(len(plan) // 2, "broker")
        return plan

    def run(self, spacing: float) -> None:
        for fault in self.plan():
            time.sleep(spacing)
            try:
                if fault == "broker":
                    self.stack.restart_broker(BROKER_OUTAGE_SECONDS)
                    self.done.append(f"broker down {BROKER_OUTAGE_SECONDS:.0f}s and restarted")
                else:
                    self.stack.restart(fault, kill=True)
                    self.done.append(f"{fault} SIGKILLed and restarted")
                say(self.done[-1])
            except Exception as exc:  # a fault that could not be applied is itself a finding
                self.errors.append(f"{fault}: {exc}")
                say(f"fault {fault} failed: {exc}")


async def inject_poison(stack: Stack) -> dict[str, str]:
    """One message of each poison kind straight into the topics; returns key -> topic."""
    assert stack.kafka is not None
    prefix = stack.topic_prefix
    raw, extracted = prefix + TOPIC_ARTICLES_RAW, prefix + TOPIC_ALLIANCES_EXTRACTED
    oversized = RawArticle(
        article_id="poison-oversized", body="医" * 1_200_000, received_at=datetime.now(UTC)
    )
    publisher = KafkaPublisher(stack.kafka.bootstrap_servers, client_id="chaos-poison")
    await publisher.start()
    try:
        await publisher.publish(raw, b"poison-malformed", b'{"schema_version": 1, "article_id": ')
        future = b'{"schema_version": 99, "article_id": "poison-future", "relevant": false}'
        await publisher.publish(extracted, b"poison-future", future)
        await publisher.publish(raw, b"poison-oversized", encode(oversized))
    finally:
        await publisher.stop()
    return {"poison-malformed": raw, "poison-future": extracted, "poison-oversized": raw}


async def read_dead_letters(stack: Stack, topics: set[str], expected: int) -> list[Record]:
    assert stack.kafka is not None
    names = [dlq_topic(t) for t in sorted(topics)]
    reader = KafkaSource(stack.kafka.bootstrap_servers, names, f"chaos-dlq-{time.time_ns()}")
    await reader.start()
    found: list[Record] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < expected and time.monotonic() < deadline:
            found.extend(await reader.fetch(0.5, 100))
    finally:
        await reader.stop()
    return found


def registry_articles(stack: Stack) -> set[str]:
    known: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(stack["registry"].url + "/v1/articles", params=params, timeout=30).json()
        known.update(item["article_id"] for item in page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return known


def settle(stack: Stack, receiver: WebhookReceiver, accepted: set[str], budget: float) -> None:
    """Wait until the registry knows every accepted article and alerts stopped arriving."""
    deadline = time.monotonic() + budget
    last, quiet_since = (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        try:
            known = registry_articles(stack)
        except httpx.HTTPError:
            time.sleep(1)
            continue
        state = (len(known & accepted), len(receiver.snapshot()))
        if state != last:
            last, quiet_since = state, time.monotonic()
        elif accepted <= known and time.monotonic() - quiet_since > 8:
            return
        time.sleep(1)


def matches_province(alliance: dict[str, Any], province: str) -> bool:
    return province in alliance.get("provinces", []) or any(
        institution.get("province") == province
        for institution in alliance.get("lead", []) + alliance.get("members", [])
    )


def run(articles: int, kills: int, budget: float, workdir: Path) -> int:
    started = time.monotonic()
    deadline = started + budget
    stack = Stack(workdir, partitions=3)
    say(f"starting the system in {workdir}")
    stack.start()
    findings: list[str] = []
    with WebhookReceiver() as receiver:
        try:
            corpus = list(generate(articles, seed=articles, run=f"chaos{articles}"))
            province = corpus[0].province
            bureau = stack.create_bureau("国家卫生健康委员会")
            subscriptions = {
                "everything": {},
                "province": {"provinces": [province]},
                "nothing": {"types": ["trusteeship"]},
            }
            for name, filters in subscriptions.items():
                created = stack.subscribe(bureau, name, receiver.url(name), filters)
                receiver.secrets[name] = created["secret"]

            crawler = Crawler(stack)
            faults = Faults(stack, kills)
            # Spread the pushes over the fault schedule (a fault takes a few seconds), so
            # that articles arrive before, during and after every fault.
            spacing = 2.0
            pace = len(faults.plan()) * (spacing + 4.0) / max(1, len(corpus))
            push_deadline = started + budget * 0.6
            pushing = threading.Thread(
                target=crawler.push_all, args=(corpus, pace, push_deadline), daemon=True
            )
            breaking = threading.Thread(target=faults.run, args=(spacing,), daemon=True)
            pushing.start()
            breaking.start()
            poison = asyncio.run(inject_poison(stack))
            pushing.join()
            breaking.join()
            say(
                f"pushed {len(crawler.accepted)} accepted, {crawler.refused} answered 503, "
                f"{crawler.retries} retries; faults: {len(faults.done)}"
            )
            findings += [f"not accepted: {f}" for f in crawler.failed]
            findings += [f"fault not applied: {e}" for e in faults.errors]

            accepted = set(crawler.accepted)
            settle(stack, receiver, accepted, max(30.0, deadline - time.monotonic()))
            known = registry_articles(stack)
            lost_articles = accepted - known
            alliances = stack.alliances()
            arrived = receiver.snapshot()
            dead = asyncio.run(read_dead_letters(stack, set(poison.values()), len(poison)))
        finally:
            codes = stack.stop()
    say(f"stopped: exit codes {codes}")

    # -- the checks ---------------------------------------------------------------------
    identity: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for alliance in alliances:
        key = (
            alliance["type"],
            alliance.get("specialty"),
            tuple(sorted(i["name"] for i in alliance["lead"])),
            tuple(sorted(i["name"] for i in alliance["members"])),
        )
        identity[key].append(alliance["id"])
    duplicate_alliances = sum(len(ids) - 1 for ids in identity.values())

    ids_by_alert: dict[tuple[str, str], set[str]] = defaultdict(set)
    for webhook in arrived:
        if webhook.payload.get("type") != "alliance.created":
            continue
        ids_by_alert[(webhook.path, webhook.payload["alliance"]["id"])].add(webhook.webhook_id)
    expected_alerts = {("everything", a["id"]) for a in alliances} | {
        ("province", a["id"]) for a in alliances if matches_province(a, province)
    }
    missing_alerts = {alert for alert in expected_alerts if not ids_by_alert.get(alert)}
    duplicate_alerts = sum(
        len(ids_by_alert[alert]) - 1 for alert in expected_alerts if alert in ids_by_alert
    )
    unexpected = [w for w in arrived if w.path == "nothing"] + [
        w
        for w in arrived
        if w.path == "province" and not matches_province(w.payload["alliance"], province)
    ]
    bad_signatures = [w for w in arrived if not w.valid_signature]
    redelivered = len(arrived) - len({w.webhook_id for w in arrived})
    dead_keys = {(r.key or b"").decode(): r for r in dead}
    for poison_key, topic in poison.items():
        record = dead_keys.get(poison_key)
        if record is None:
            findings.append(f"poison {poison_key} not in {dlq_topic(topic)}")
        elif not record.header("dlq.reason"):
            findings.append(f"poison {poison_key} dead-lettered without a reason")
    if unexpected:
        findings.append(f"{len(unexpected)} alerts reached a subscription that does not match")
    if bad_signatures:
        findings.append(f"{len(bad_signatures)} alerts with an invalid signature")
    if any(code not in (0, None) for code in codes.values()):
        findings.append(f"a service did not stop cleanly: {codes}")

    lost = len(lost_articles) + len(missing_alerts)
    duplicated = duplicate_alliances + duplicate_alerts
    report = {
        "articles_pushed": len(corpus),
        "accepted": len(accepted),
        "answered_503": crawler.refused,
        "faults": faults.done,
        "alliances": len(alliances),
        "alerts_expected": len(expected_alerts),
        "alerts_arrived": len(arrived),
        "redelivered_same_webhook_id": redelivered,
        "lost_articles": sorted(lost_articles),
        "missing_alerts": sorted(missing_alerts),
        "duplicate_alliances": duplicate_alliances,
        "duplicate_alerts": duplicate_alerts,
        "poison_dead_lettered": {
            key: (dead_keys[key].header("dlq.reason") or b"").decode()
            for key in poison
            if key in dead_keys
        },
        "findings": findings,
        "seconds": round(time.monotonic() - started, 1),
    }
    (workdir / "chaos.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    say(
        json.dumps(
            {k: v for k, v in report.items() if k not in ("lost_articles", "missing_alerts")},
            ensure_ascii=False,
        )
    )
    for finding in findings:
        say(f"finding: {finding}")
    print(
        f"chaos: {len(accepted)} accepted, {len(faults.done)} faults, {lost} lost, {duplicated} duplicated"
    )
    return 0 if lost == 0 and duplicated == 0 and not findings else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs of each consumer")
    parser.add_argument("--budget", type=float, default=600, help="seconds for the whole run")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.articles, args.kills, args.budget, args.keep)
    with tempfile.TemporaryDirectory(prefix="aw-chaos-") as workdir:
        return run(args.articles, args.kills, args.budget, Path(workdir))


if __name__ == "__main__":
    sys.exit(main())
