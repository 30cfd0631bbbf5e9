"""Registry query latency at scale: list-with-filters and institution pages, p50/p99,
over N synthetic alliances (100k by default) on SQLite and on a private PostgreSQL.

The synthetic registry is bulk-loaded straight into the migrated schema (the write path
is measured by the integration tests, not here); queries go through the same repository
the HTTP API calls. Writes bench/results/registry.json and .md.

    python bench/registry_bench.py [--alliances 100000] [--queries 200] [--only sqlite]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, text  # noqa: E402

from bench.benchstats import percentile  # noqa: E402
from services.common.contracts import EventType  # noqa: E402
from services.common.db import make_engine  # noqa: E402
from services.registry.adapters.migrate import upgrade  # noqa: E402
from services.registry.adapters.queries import (  # noqa: E402
    AllianceFilters,
    RegistryQueries,
)
from services.registry.adapters.tables import (  # noqa: E402
    AllianceInstitutionRow,
    AlliancePlaceRow,
    AllianceRow,
    InstitutionNameRow,
    InstitutionRow,
)
from services.registry.domain.names import PROVINCES  # noqa: E402
from tools.localpg import LocalPostgres  # noqa: E402
from tools.localpg import install as install_postgres  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SPECIALTIES = [
    "骨科",
    "心血管内科",
    "神经内科",
    "儿科",
    "妇产科",
    "肿瘤科",
    "呼吸内科",
    "眼科",
    "急诊",
    "麻醉科",
    "康复医学科",
    "消化内科",
    "肾内科",
    "中医科",
    "口腔科",
    "皮肤科",
    "精神科",
    "病理科",
    "检验科",
    "影像科",
]
TYPES = [t.value for t in EventType]
CITY_SYLLABLES = "安宁平阳江山川河泉东西南北新兴德昌华丰永宁远定"


def synthetic(n_alliances: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Institutions in provinces/cities/counties, alliances linking a lead to members."""
    rng = random.Random(seed)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    provinces = list(PROVINCES)
    places = []
    for p in provinces:
        for c in range(6):
            city = f"{p}{CITY_SYLLABLES[c]}{CITY_SYLLABLES[(c * 7) % 24]}"
            for k in range(5):
                places.append((p, city + "市", f"{city}{CITY_SYLLABLES[k * 3 % 24]}县"))
    n_institutions = max(200, n_alliances // 5)
    institutions: list[dict[str, Any]] = []
    names: list[dict[str, Any]] = []
    for i in range(n_institutions):
        province, city, county = rng.choice(places)
        name = f"{city}第{i}人民医院" if i % 10 == 0 else f"{county}第{i}卫生院"
        ident = f"i{i:015x}"
        institutions.append(
            {
                "id": ident,
                "name": name,
                "key": name,
                "aliases": "[]",
                "province": province,
                "city": city,
                "county": county,
                "created_at": now,
                "updated_at": now,
            }
        )
        names.append({"key": name, "institution_id": ident})
    leads = [inst for n, inst in enumerate(institutions) if n % 10 == 0]
    alliances: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    place_rows: list[dict[str, Any]] = []
    for a in range(n_alliances):
        kind = rng.choice(TYPES)
        specialty = rng.choice(SPECIALTIES) if kind == "specialty_alliance" else None
        lead = (
            leads[min(len(leads) - 1, int(rng.paretovariate(1.2)) - 1)]
            if a % 3 == 0
            else rng.choice(leads)
        )
        members = rng.sample(institutions, rng.randint(1, 5))
        members = [m for m in members if m["id"] != lead["id"]]
        day = date(2015, 1, 1) + timedelta(days=rng.randrange(3650))
        seen = now - timedelta(minutes=rng.randrange(5_000_000))
        ident = f"a{a:015x}"
        everyone = [lead, *members]
        provinces_of = sorted({x["province"] for x in everyone})
        document = {
            "sources": [
                {
                    "article_id": f"art{a}",
                    "url": f"https://news.example.org/{a}",
                    "title": f"synthetic {a}",
                    "published_at": day.isoformat(),
                    "evidence": f"{lead['name']}与{members[0]['name'] if members else ''}签约",
                }
            ],
            "alternatives": {},
            "provinces": provinces_of,
        }
        alliances.append(
            {
                "id": ident,
                "type": kind,
                "specialty": specialty,
                "date": day.isoformat(),
                "date_start": day,
                "date_end": day,
                "cross_province": len(provinces_of) > 1,
                "confidence": round(rng.uniform(0.5, 0.99), 3),
                "first_seen": seen,
                "last_seen": seen,
                "revision": 1,
                "source_count": 1,
                "search_text": "\n".join([specialty or "", *(x["name"] for x in everyone)]),
                "document": json.dumps(document, ensure_ascii=False),
                "updated_at": now,
            }
        )
        for position, inst in enumerate(everyone):
            links.append(
                {
                    "alliance_id": ident,
                    "institution_id": inst["id"],
                    "role": "lead" if position == 0 else "member",
                    "position": position,
                }
            )
        values = set()
        for inst in everyone:
            values.add(("province", inst["province"]))
            values.add(("city", inst["city"][:-1]))
            values.add(("county", inst["county"][:-1]))
        place_rows.extend({"alliance_id": ident, "kind": k, "value": v} for k, v in values)
    return {
        "institutions": institutions,
        "names": names,
        "alliances": alliances,
        "links": links,
        "places": place_rows,
    }


def load(engine: Engine, data: dict[str, list[dict[str, Any]]]) -> float:
    started = time.perf_counter()
    with engine.begin() as connection:
        for table, rows in (
            (InstitutionRow, data["institutions"]),
            (InstitutionNameRow, data["names"]),
            (AllianceRow, data["alliances"]),
            (AllianceInstitutionRow, data["links"]),
            (AlliancePlaceRow, data["places"]),
        ):
            for start in range(0, len(rows), 5000):
                connection.execute(insert(table), rows[start : start + 5000])
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def chunks(
    rng: random.Random, data: dict[str, list[dict[str, Any]]]
) -> Iterator[tuple[str, AllianceFilters]]:
    insts = data["institutions"]
    while True:
        inst = rng.choice(insts)
        day = date(2015, 1, 1) + timedelta(days=rng.randrange(3300))
        yield from [
            ("none", AllianceFilters()),
            ("province", AllianceFilters(province=inst["province"])),
            (
                "province+type",
                AllianceFilters(province=inst["province"], type=EventType(rng.choice(TYPES))),
            ),
            ("city", AllianceFilters(city=inst["city"])),
            (
                "type+specialty",
                AllianceFilters(
                    type=EventType.specialty_alliance, specialty=rng.choice(SPECIALTIES)
                ),
            ),
            ("since+until", AllianceFilters(since=day, until=day + timedelta(days=90))),
            ("institution", AllianceFilters(institution=inst["name"])),
            ("q", AllianceFilters(q=inst["name"][2:6])),
        ]


def percentiles(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.50) * 1000, 2),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
        "n": len(samples),
    }


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(url: str, data: dict[str, list[dict[str, Any]]], queries: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    load_seconds = load(engine, data)
    queries = RegistryQueries(engine)
    rng = random.Random(11)
    mix = chunks(rng, data)
    for _ in range(20):  # warm caches and the connection pool
        queries.list_alliances(next(mix)[1], 50)
    list_samples: list[float] = []
    page2_samples: list[float] = []
    by_filter: dict[str, list[float]] = {}
    for _ in range(queries):
        name, filters = next(mix)
        started = time.perf_counter()
        views, cursor = queries.list_alliances(filters, 50)
        elapsed = time.perf_counter() - started
        list_samples.append(elapsed)
        by_filter.setdefault(name, []).append(elapsed)
        if cursor:
            page2_samples.append(timed(partial(queries.list_alliances, filters, 50, cursor)))
    institution_samples: list[float] = []
    hot = [i["id"] for i in data["institutions"][:50:10]]  # leads with many alliances
    for n in range(queries):
        ident = hot[n % len(hot)] if n % 4 == 0 else rng.choice(data["institutions"])["id"]
        institution_samples.append(timed(partial(queries.get_institution, ident, 100)))
    search_samples: list[float] = []
    for _ in range(max(20, queries // 4)):
        term = rng.choice(data["institutions"])["name"][:6]
        search_samples.append(timed(partial(queries.list_institutions, term, 50)))
    engine.dispose()
    return {
        "load_seconds": round(load_seconds, 1),
        "list_with_filters": percentiles(list_samples),
        "list_next_page": percentiles(page2_samples) if page2_samples else None,
        "list_by_filter": {k: percentiles(v) for k, v in sorted(by_filter.items())},
        "institution_page": percentiles(institution_samples),
        "institution_search": percentiles(search_samples),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alliances", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args(argv)
    print(f"[registry-bench] generating {args.alliances} synthetic alliances", flush=True)
    data = synthetic(args.alliances)
    sizes = {k: len(v) for k, v in data.items()}
    results: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="aw-regbench-"))
    try:
        if args.only in (None, "sqlite"):
            print("[registry-bench] sqlite", flush=True)
            results["sqlite"] = measure(f"sqlite:///{workdir / 'registry.db'}", data, args.queries)
        if args.only in (None, "postgres"):
            print("[registry-bench] postgresql", flush=True)
            pg_dir = Path(tempfile.mkdtemp(prefix="aw-regbench-pg-"))
            server = LocalPostgres(pg_dir, bin_dir=install_postgres())
            server.start()
            try:
                results["postgresql"] = measure(
                    server.create_database("registry_bench"), data, args.queries
                )
            finally:
                server.stop()
                shutil.rmtree(pg_dir, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "benchmark": "registry queries",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "dataset": sizes,
        "page_size": 50,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "registry.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    lines = [
        "# Registry query benchmark",
        "",
        f"{sizes['alliances']} synthetic alliances, {sizes['institutions']} institutions, "
        f"{sizes['links']} alliance-institution links; pages of 50; repository calls "
        f"(SQL + hydration) as the API makes them; {args.queries} queries each. "
        f"{report['when']}, Python {platform.python_version()}.",
        "",
        "| database | query | p50 ms | p99 ms | mean ms |",
        "|---|---|---:|---:|---:|",
    ]
    for db, figures in results.items():
        for label, key in (
            ("list with filters (page 1)", "list_with_filters"),
            ("list with filters (next page)", "list_next_page"),
            ("institution page (≤100 alliances)", "institution_page"),
            ("institution search", "institution_search"),
        ):
            f = figures.get(key)
            if f:
                lines.append(f"| {db} | {label} | {f['p50_ms']} | {f['p99_ms']} | {f['mean_ms']} |")
    lines += [
        "",
        "By filter (page 1):",
        "",
        "| database | filter | p50 ms | p99 ms |",
        "|---|---|---:|---:|",
    ]
    for db, figures in results.items():
        for name, f in figures["list_by_filter"].items():
            lines.append(f"| {db} | {name} | {f['p50_ms']} | {f['p99_ms']} |")
    (RESULTS / "registry.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
