"""China's provinces, cities and counties as a tree, for pickers: read from the gazetteer
the extractor places institutions with (``services/extract/extraction/data/gazetteer.tsv``),
so that a place a bureau picks is a place the pipeline knows by the same name.

This reads a data file, not the extractor's code: services share the vocabulary of places.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TypedDict

GAZETTEER = (
    Path(__file__).resolve().parents[1] / "extract" / "extraction" / "data" / "gazetteer.tsv"
)
#: Counties governed by the province directly (仙桃市, 济源市...) are listed under this.
DIRECT_COUNTIES = "省直辖县级行政区划"


class City(TypedDict):
    name: str
    #: False for DIRECT_COUNTIES, which is no place of its own: pick its counties.
    pick: bool
    counties: list[str]


class Province(TypedDict):
    name: str
    cities: list[City]


@cache
def region_tree(path: Path = GAZETTEER) -> tuple[Province, ...]:
    """Provinces (full names, 四川省), each with its cities, each with its counties; in
    the order of their codes, which is the order of official lists."""
    provinces: dict[str, Province] = {}
    cities: dict[str, City] = {}
    counties: list[tuple[str, str, str]] = []  # code, name, parent code
    city_rows: list[tuple[str, str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        level, code, name, _alias, parent = (line.split("\t") + [""] * 5)[:5]
        if level == "P":
            provinces[code] = Province(name=name, cities=[])
        elif level == "C":
            city_rows.append((code, name, parent))
        elif level == "D":
            counties.append((code, name, parent))
    for code, name, parent in sorted(city_rows):
        province = provinces.get(parent)
        if province is not None:
            city = City(name=name, pick=True, counties=[])
            cities[code] = city
            province["cities"].append(city)
    for _code, name, parent in sorted(counties):
        found = cities.get(parent)
        if found is None:
            province = provinces.get(parent[:2] + "0000")
            if province is None:
                continue
            found = City(name=DIRECT_COUNTIES, pick=False, counties=[])
            cities[parent] = found
            province["cities"].append(found)
        found["counties"].append(name)
    return tuple(provinces[code] for code in sorted(provinces))
