"""Build ``gazetteer.tsv`` (province / city / county of China) from a location list.

The admin divisions of China are public facts. This script converts a location list laid
out like jionlp's ``china_location.txt`` (one line per division, indented by level with
tabs: ``name<TAB>code<TAB>alias``; deeper lines for towns and villages are ignored) and,
optionally, its list of renamed divisions, into the compact file that services.common.places and the extractor load.

Usage (run once, by hand; not needed at run time)::

    python build_gazetteer.py LOCATION.txt|LOCATION.zip [CHANGES.txt] > gazetteer.tsv

Refreshing it (the file in this directory is built from jionlp 1.5.31; jionlp is Apache-2.0,
credited in the repository's NOTICE)::

    pip download jionlp==<version> --no-deps -d /tmp/jionlp
    cd /tmp/jionlp && unzip -o jionlp-*.whl 'jionlp/dictionary/china_location*'
    python build_gazetteer.py jionlp/dictionary/china_location.zip \
        jionlp/dictionary/china_location_change.txt > gazetteer.tsv

then review ``git diff gazetteer.tsv`` (renamed or merged divisions change which places the
extractor knows), run ``make eval`` and ``make test``, and update the version in NOTICE.

Output columns: ``level  code  name  alias  parent_code  other_names`` where level is
P (province), C (city) or D (county / district / county-level city) and other_names is a
comma-separated list of former or common alternative names.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

_AUTONOMOUS_SUFFIXES = ("自治县", "自治州", "自治旗")


def _read(path: str) -> list[str]:
    p = Path(path)
    if p.suffix == ".zip":
        with zipfile.ZipFile(p) as zf:
            name = next(n for n in zf.namelist() if n.endswith(".txt"))
            return io.TextIOWrapper(zf.open(name), encoding="utf-8").read().splitlines()
    return p.read_text(encoding="utf-8").splitlines()


def _alternatives(name: str, alias: str, level: str) -> list[str]:
    """Common short full forms, e.g. 大理白族自治州 -> 大理州, 双江...自治县 -> 双江县."""
    out: list[str] = []
    for suffix in _AUTONOMOUS_SUFFIXES:
        if name.endswith(suffix) and alias and not alias.endswith(("县", "州", "旗")):
            short = {"自治县": "县", "自治州": "州", "自治旗": "旗"}[suffix]
            out.append(alias + short)
            out.append(alias + suffix)
    if level == "C" and name.endswith("地区") and alias:
        out.append(alias + "地区")
    return [n for n in out if n != name]


def build(lines: list[str], changes: list[str]) -> list[str]:
    rows: list[list[str]] = []
    extra: dict[tuple[str, str], list[str]] = {}
    prov_code = city_code = ""
    by_name: dict[tuple[str, str], str] = {}
    for raw in lines:
        if not raw.strip() or raw.startswith("\t\t\t"):
            continue
        depth = len(raw) - len(raw.lstrip("\t"))
        parts = raw.strip().split("\t")
        if len(parts) != 3:
            continue
        name, code, alias = parts
        if depth == 0:
            level, parent, prov_code = "P", "-", code
        elif depth == 1:
            level, parent, city_code = "C", prov_code, code
        else:
            level, parent = "D", city_code
        rows.append([level, code, name, alias, parent])
        by_name[(level, name)] = code
        extra[(level, code)] = _alternatives(name, alias, level)
    for raw in changes:
        # date, approver, old province/alias [, old city/alias [, old county/alias]]=>new path
        if "=>" not in raw:
            continue
        old, new = raw.split("=>", 1)
        old_parts = old.split("\t")[2:]
        new_parts = new.split("\t")
        if len(old_parts) < 4 or len(new_parts) < 2:
            continue
        level = "D" if len(old_parts) >= 6 else "C"
        old_name = old_parts[4] if level == "D" else old_parts[2]
        new_name = new_parts[-1]
        new_code = by_name.get((level, new_name))
        if new_code and old_name != new_name and not old_name.endswith(("地区",)):
            extra.setdefault((level, new_code), []).append(old_name)
    out = []
    for level, code, name, alias, parent in rows:
        others = sorted(set(extra.get((level, code), [])) - {name})
        out.append("\t".join([level, code, name, alias, parent, ",".join(others)]))
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    lines = _read(argv[0])
    changes = Path(argv[1]).read_text(encoding="utf-8").splitlines() if len(argv) > 1 else []
    print("# level\tcode\tname\talias\tparent_code\tother_names")
    for row in build(lines, changes):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
