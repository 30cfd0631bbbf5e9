"""Fault injection: articles pushed while services are SIGKILLed and the broker restarts.

    python -m tools.chaos [--articles 60] [--kills 2] [--replicas 1] [--budget 600]

Runs the whole system in a temporary directory (its own broker on free loopback ports),
subscribes three webhook endpoints (everything, one province, a filter nothing matches),
pushes synthetic articles as a crawler would (retrying on 503 / refused connections), and
meanwhile SIGKILLs extract, registry and notify ``--kills`` times each and restarts the
broker once. Poison messages (malformed JSON, an unknown schema_version, an oversized
article) go straight into the topics.

With ``--replicas 2`` (or more) extract, registry and notify run that many processes each,
in one consumer group per service, on topics of 6 partitions, with ingest, registry and
notify on databases of one local PostgreSQL (tools/localpg.py). Each SIGKILL then takes
one replica (the replicas in turn) and leaves it down until the survivors hold all of its
partitions (a rebalance), then starts it again and waits until it holds its share (a
rebalance back); what the consumer group looked like at both moments is in the report.

Then it waits for the system to settle (every consumer group caught up with its topic,
the registry knowing every accepted article, no alert arriving for a while) and checks:

- every accepted article is known to the registry (else: lost);
- every alliance is in the registry once;
- every alliance reached every matching subscription under exactly one webhook-id
  (a second id for the same alert: duplicated; none: lost), with a valid signature;
- no alert reached a subscription whose filters do not match;
- each poison message is in its dead-letter topic with a reason.

It ends with ``chaos: N accepted, K faults, R replicas, L lost, D duplicated`` and exits
non-zero unless L and D are 0 and every other check held.
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
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from services.common.contracts import (
    TOPIC_ALLIANCES_CHANGES,
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
from tools.harness import Stack, WebhookReceiver, replica_name

CONSUMERS = ("extract", "registry", "notify")
#: The topic each consumer reads (without TOPIC_PREFIX).
CONSUMED = {
    "extract": TOPIC_ARTICLES_RAW,
    "registry": TOPIC_ALLIANCES_EXTRACTED,
    "notify": TOPIC_ALLIANCES_CHANGES,
}
#: Partitions of every topic when services run replicas (at least the replicas' number).
REPLICA_PARTITIONS = 6


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


#: How long a rebalance may take to show in the consumer group: the coordinator notices a
#: SIGKILLed member after its session timeout (10 s), and the survivors rejoin.
REBALANCE_WAIT_SECONDS = 60.0


@dataclass
class Faults:
    stack: Stack
    kills: int
    replicas: int = 1
    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def plan(self) -> list[str]:
        """The faults in order: process names (``extract``, ``registry-2``…) and ``broker``;
        each service's kills take its replicas in turn, the last one first."""
        services = [name for name in CONSUMERS for _ in range(self.kills)]
        random.Random(11).shuffle(services)
        seen: dict[str, int] = defaultdict(int)
        plan = []
        for service in services:
            plan.append(replica_name(service, self.replicas - seen[service] % self.replicas))
            seen[service] += 1
        plan.insert(len(plan) // 2, "broker")
        return plan

    def run(self, spacing: float) -> None:
        for fault in self.plan():
            time.sleep(spacing)
            try:
                if fault == "broker":
                    self.stack.restart_broker(BROKER_OUTAGE_SECONDS)
                    self.done.append(f"broker down {BROKER_OUTAGE_SECONDS:.0f}s and restarted")
                elif self.replicas == 1:
                    self.stack.restart(fault, kill=True)
                    self.done.append(f"{fault} SIGKILLed and restarted")
                else:
                    self.done.append(self.kill_replica(fault))
                say(self.done[-1])
            except Exception as exc:  # a fault that could not be applied is itself a finding
                self.errors.append(f"{fault}: {exc}")
                say(f"fault {fault} failed: {exc}")

    def kill_replica(self, name: str) -> str:
        """SIGKILL one replica; once the others hold all the partitions, start it again and
        wait until it has its share back. Says what the group looked like each time."""
        process = self.stack[name]
        service = process.service
        group = self.stack.env[f"{service.upper()}_GROUP_ID"]
        partitions = self.stack.partitions
        process.kill()
        started = time.monotonic()
        survivors = self.replicas - 1
        down = wait_for_group(
            self.stack, group, lambda shares: len(shares) == survivors and sum(shares) == partitions
        )
        took_over = time.monotonic() - started
        process.start(self.stack.workdir)
        process.wait_ready()
        started = time.monotonic()
        back = wait_for_group(
            self.stack,
            group,
            lambda shares: len(shares) == self.replicas and min(shares) > 0,
        )
        rejoined = time.monotonic() - started
        if not down.settled or not back.settled:
            raise RuntimeError(
                f"group {group} did not rebalance: while {name} was down {down.shares}, "
                f"after its restart {back.shares}"
            )
        return (
            f"{name} SIGKILLed (group {group}: partitions {down.text} after {took_over:.0f}s), "
            f"restarted (partitions {back.text} after {rejoined:.0f}s)"
        )


@dataclass(frozen=True)
class GroupView:
    #: Partitions held by each member of the group, most first.
    shares: list[int]
    settled: bool

    @property
    def text(self) -> str:
        return "+".join(str(share) for share in self.shares) or "none"


async def group_shares(bootstrap: str, group: str) -> list[int] | None:
    """How many partitions each member of a stable consumer group holds (None while the
    group is rebalancing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chaos-admin")
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.groups
    state, members = described[2], described[5]
    if state != "Stable":
        return None
    shares = []
    for member in members:
        raw = member[-1]  # member_assignment, the last field of every version
        assignment = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
        held = assignment.partitions() if assignment is not None else []
        shares.append(len(held))
    return sorted(shares, reverse=True)


def wait_for_group(
    stack: Stack, group: str, wanted: Any, timeout: float = REBALANCE_WAIT_SECONDS
) -> GroupView:
    """Poll the group until its shares are ``wanted`` (a predicate) or ``timeout`` passed."""
    assert stack.kafka is not None
    deadline = time.monotonic() + timeout
    shares: list[int] = []
    while True:
        try:
            found = asyncio.run(group_shares(stack.kafka.bootstrap_servers, group))
        except Exception:  # the coordinator moving: ask again
            found = None
        if found is not None:
            shares = found
            if wanted(shares):
                return GroupView(shares, True)
        if time.monotonic() > deadline:
            return GroupView(shares, False)
        time.sleep(0.5)


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


async def consumer_lag(stack: Stack) -> int:
    """Messages the consumer groups of extract, registry and notify have not committed yet,
    summed over their topics' partitions."""
    assert stack.kafka is not None
    bootstrap = stack.kafka.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chaos-admin")
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="chaos-lag")
    await admin.start()
    try:
        await reader.start()
        lag = 0
        for service, topic in CONSUMED.items():
            name = stack.topic_prefix + topic
            partitions = [TopicPartition(name, p) for p in range(stack.partitions)]
            ends = await reader.end_offsets(partitions)
            group = stack.env[f"{service.upper()}_GROUP_ID"]
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            for partition in partitions:
                done = committed.get(partition)
                position = done.offset if done is not None and done.offset >= 0 else 0
                lag += ends[partition] - position
        return lag
    finally:
        await reader.stop()
        await admin.close()


def settle(stack: Stack, receiver: WebhookReceiver, accepted: set[str], budget: float) -> None:
    """Wait until every consumer group caught up with its topic, the registry knows every
    accepted article, and alerts stopped arriving."""
    deadline = time.monotonic() + budget
    last, quiet_since = (-1, -1, -1), time.monotonic()
    while time.monotonic() < deadline:
        try:
            known = registry_articles(stack)
            lag = asyncio.run(consumer_lag(stack))
        except Exception:  # a service or the broker not answering yet
            time.sleep(1)
            continue
        state = (len(known & accepted), len(receiver.snapshot()), lag)
        if state != last:
            last, quiet_since = state, time.monotonic()
        elif accepted <= known and lag == 0 and time.monotonic() - quiet_since > 8:
            return
        time.sleep(1)


def counter_total(metrics: str, name: str) -> float:
    """The sum of a counter's samples (every label set) in a Prometheus text exposition."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def work_by_replica(stack: Stack) -> dict[str, dict[str, int]]:
    """What each process of extract, registry and notify did since its last start: messages
    consumed, and alerts sent by notify's."""
    work: dict[str, dict[str, int]] = {}
    for service in CONSUMERS:
        for process in stack.replicas_of(service):
            try:
                metrics = httpx.get(process.url + "/metrics", timeout=10).text
            except httpx.HTTPError:
                continue
            done = {"consumed": int(counter_total(metrics, "kafka_messages_consumed_total"))}
            if service == "notify":
                done["sent"] = int(counter_total(metrics, "notify_messages_sent_total"))
            work[process.name] = done
    return work


def matches_province(alliance: dict[str, Any], province: str) -> bool:
    return province in alliance.get("provinces", []) or any(
        institution.get("province") == province
        for institution in alliance.get("lead", []) + alliance.get("members", [])
    )


def run(articles: int, kills: int, budget: float, workdir: Path, replicas: int = 1) -> int:
    started = time.monotonic()
    deadline = started + budget
    if replicas > 1:
        stack = Stack(
            workdir, partitions=REPLICA_PARTITIONS, replicas=replicas, database="postgres"
        )
        say(
            f"starting the system in {workdir}: {replicas} replicas of extract, registry and "
            f"notify, {REPLICA_PARTITIONS} partitions, PostgreSQL"
        )
    else:
        stack = Stack(workdir, partitions=3)
        say(f"starting the system in {workdir}")
    findings: list[str] = []
    work: dict[str, dict[str, int]] = {}
    with WebhookReceiver() as receiver:
        try:
            stack.start()
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
            faults = Faults(stack, kills, replicas)
            # Spread the pushes over the fault schedule (a fault takes a few seconds, a
            # replica's two rebalances some twenty more), so that articles arrive before,
            # during and after every fault.
            spacing = 2.0
            fault_seconds = 4.0 if replicas == 1 else 25.0
            pace = len(faults.plan()) * (spacing + fault_seconds) / max(1, len(corpus))
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
            if replicas > 1:
                work = work_by_replica(stack)
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
        "replicas": replicas,
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
        "work_since_last_start": work,
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
    scale = f"{replicas} replica{'s' if replicas > 1 else ''}"
    print(
        f"chaos: {len(accepted)} accepted, {len(faults.done)} faults, {scale}, "
        f"{lost} lost, {duplicated} duplicated"
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
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="processes of extract, registry and notify each (2+: on PostgreSQL, 6 partitions)",
    )
    parser.add_argument("--budget", type=float, default=600, help="seconds for the whole run")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args.articles, args.kills, args.budget, args.keep, args.replicas)
    with tempfile.TemporaryDirectory(prefix="aw-chaos-") as workdir:
        return run(args.articles, args.kills, args.budget, Path(workdir), args.replicas)


if __name__ == "__main__":
    sys.exit(main())
