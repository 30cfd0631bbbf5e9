"""The mentions of one article resolved into distinct institutions, each with its names,
place, level and relations: 县二医院 = 金堂县第二人民医院 (an admin-relative name), aliases
declared with "(以下简称X)" or "(现X)", a county government that signs resolved to its
hospital."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from .identity import _feat, _strip_province, branch_parent, same_institution
from .name_rules import (
    _ALIAS_DECL,
    _BRANCH,
    _CITY_DISTRICTS,
    _GROUP,
    _NAMED_AS,
    _PAREN_CLOSE,
    _PAREN_OPEN,
    _RENAMED,
    _ROLE_DECL,
    _STRONG_STOP,
    _TOWNSHIP_NAME,
    _WEAK_STOP,
    ArticleInstitution,
    Mention,
    _is_name_char,
    _is_place_chain,
    _role_pattern,
    _starts_with_place,
)
from .places import PROVINCE_SHORT, Division, Gazetteer, Place, PlaceContext, gazetteer, locate_name

_GOV_PREFERENCE = ("人民医院", "医疗集团", "总医院", "医院", "中医院", "中心卫生院", "卫生院")


@lru_cache(maxsize=8192)  # pure (Place is frozen), and names repeat across articles
def level_of(name: str, place: Place, relative_admin: str = "") -> float:
    """Rough rank of an institution: 5 university / national ... 1 township or community."""
    if _NATIONAL.search(name):
        return 5
    if re.search(r"卫生院|社区卫生服务|卫生服务站|卫生室|[镇乡]", name[:8]) and not re.search(
        r"[市县区]", name[:3]
    ):
        return 1
    if _TOWNSHIP_NAME.fullmatch(name):
        return 1  # 新市镇卫生院, 下渚湖街道社区卫生服务中心
    if name.startswith("省"):
        return 4
    if name.startswith("市"):
        return 3 if relative_admin != "county-city" else 2
    if name.startswith(("县", "区")):
        return 2
    g = gazetteer()
    for length in range(min(g.max_len, len(name)), 1, -1):
        cands = g.full.get(name[:length])
        if cands:
            # the most specific admin name in the leading chain decides
            rest = name[length:]
            if any(d.level == "C" for d in cands) and rest[:2] in _CITY_DISTRICTS:
                return 2  # 晋城市城区人民医院: a district of the city
            sub = level_of(rest, place) if rest and _starts_with_place(rest) else None
            if sub is not None:
                return sub
            lv = min("PCD".index(d.level) for d in cands)
            if any(d.level == "P" for d in cands) and any(d.level == "C" for d in cands):
                return 4  # 北京市 / 上海市 ...
            if lv == 2 and all(_in_municipality(g, d) for d in cands):
                return 3  # 密云区: a district of Beijing ranks with a city
            return {0: 4, 1: 3, 2: 2}[lv]
    for short in PROVINCE_SHORT:
        if name.startswith(short):
            rest = name[len(short) :]
            if rest and _starts_with_place(rest):
                return level_of(rest, place)  # 四川阿坝州理县人民医院: the county decides
            # 北京朝阳医院, 上海长海医院 are municipal hospitals; a province's name before a
            # hospital's own name (山西白求恩医院) is a provincial hospital's, most often;
            # 台湾矿工医院 says only where
            if short in _MUNICIPALITIES:
                return 4
            return 2.5 if short == "台湾" else 3.5
    for length in (3, 2):
        # a city's short name leading a hospital name: 武汉协和医院, 昆明延安医院
        cities = g.alias.get(name[:length])
        if cities and len(name) > length + 2 and all(d.level == "C" for d in cities):
            return 3
    if place.known and not place.strong:
        return 2.5
    return 2.5


_NATIONAL = re.compile(
    r"大学|医学院|医科|医大|附院|附属|解放军|部队|武警|军区|战区|联勤|军医|国家|中国|科学院"
    r"|[\u4e00-\u9fff]大[一二三四五六七八九]院|^(?:中日|中美|中德|中法|中韩|中加|中意|中以)"
    r"|^(?:民航|铁路|空军|海军|火箭军|三军|航天|石油)[\u4e00-\u9fff]{0,2}总医院"
)


_MUNICIPALITIES = ("北京", "上海", "天津", "重庆")


def _in_municipality(g: Gazetteer, d: Division) -> bool:
    parent = g.parent(d)
    return (
        parent is not None
        and parent.level == "C"
        and (("P", parent.code) in g.by_code and g.by_code[("P", parent.code)].name == parent.name)
    )


@dataclass
class Resolution:
    mentions: list[Mention]
    institutions: list[ArticleInstitution]


def resolve(text: str, mentions: list[Mention], ctx: PlaceContext) -> Resolution:
    """Group name mentions into institutions; attach pronouns and governments."""
    names = [m for m in mentions if m.kind == "name"]
    # aliases declared in the text
    alias_links: list[tuple[str, str]] = []
    by_start = {m.start: m for m in names}
    role_links: list[tuple[str, Mention]] = []
    for m in names:
        tail = text[m.end : m.end + 20]
        decl = _ALIAS_DECL.match(tail)
        if decl:
            alias = decl.group(1)
            alias_links.append((m.name, alias))
            for occ in re.finditer(re.escape(alias), text):
                if occ.start() > m.end and not any(
                    x.start <= occ.start() < x.end for x in mentions
                ):
                    mentions.append(Mention(occ.start(), occ.end(), alias, kind="alias"))
        paren = _PAREN_OPEN.match(text, m.end)
        if paren:
            inner = by_start.get(paren.end())
            if (
                inner is not None
                and inner.kind == "name"
                and _PAREN_CLOSE.match(text, inner.end)
                and _feat(inner.name).kind == _feat(m.name).kind
            ):
                # 云南省第一人民医院(昆明理工大学附属医院): two names of one institution
                alias_links.append((m.name, inner.name))
        role = _ROLE_DECL.search(text, max(0, m.start - 12), m.start)
        if role is not None and _PAREN_CLOSE.match(text, m.end) and role.end() == m.start:
            role_links.append((role.group("role"), m))
        renamed = _RENAMED.match(text[m.end : m.end + 8])
        following = by_start.get(m.end + renamed.end()) if renamed else None
        if following is not None:
            alias_links.append((m.name, following.name))
        named_as = _NAMED_AS.match(text[m.end : m.end + 8])
        following = by_start.get(m.end + named_as.end()) if named_as else None
        if following is not None and following.parent is not None:
            alias_links.append((m.name, following.name))
    spans = sorted((x.start, x.end) for x in mentions)
    span_starts = [a for a, _ in spans]
    for role_word, named in role_links:
        # later mentions of the role stand for the named institution
        for occ in _role_pattern(role_word).finditer(text, named.end):
            k = bisect.bisect_left(span_starts, occ.end())
            if not any(a < occ.end() and occ.start() < b for a, b in spans[max(0, k - 3) : k]):
                mentions.append(Mention(occ.start(), occ.end(), named.name, kind="alias"))
    mentions.sort(key=lambda x: (x.start, -x.end))
    distinct: list[str] = []
    for m in mentions:
        if m.kind in ("name", "alias") and not m.plaque and m.name not in distinct:
            distinct.append(m.name)
    parents: dict[str, str] = {}
    mentioned = set(distinct)
    co_built = {m.name: m.parent for m in mentions if m.parent is not None}
    for builder in co_built.values():
        if builder not in distinct:
            distinct.append(builder)
    for n in list(distinct):
        parent_name = None if n in co_built else branch_parent(n)
        if parent_name is None:
            continue
        if n.endswith(("院区",) + _GROUP) and any(
            same_institution(parent_name, x) for x in mentioned if x != n
        ):
            # a campus of a hospital the article names is that hospital: 涟水县人民医院滨河院区
            alias_links.append((parent_name, n))
        else:
            parents[n] = parent_name
        if parent_name not in distinct:
            distinct.append(parent_name)
    parent = list(range(len(distinct)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    index = {n: i for i, n in enumerate(distinct)}
    first_seen: dict[str, int] = {}
    for m in mentions:
        first_seen.setdefault(m.name, m.start)
    for a, b in alias_links:
        if a in index and b in index:
            union(index[a], index[b])
    # pairwise matching; an admin-relative short name joins only an unambiguous partner
    matrix = [[False] * len(distinct) for _ in distinct]
    for i in range(len(distinct)):
        for j in range(i + 1, len(distinct)):
            matrix[i][j] = matrix[j][i] = same_institution(distinct[i], distinct[j])
    # full names join first, so that a relative name (市二医院) then sees them grouped
    order = sorted(range(len(distinct)), key=lambda k: distinct[k][0] in "省市县区")
    for i in order:
        a = distinct[i]
        partners = [j for j in range(len(distinct)) if matrix[i][j]]
        if a[0] not in "省市县区":
            # an admin-relative name (市中医院) chooses its own partner: through it, two
            # full names (南阳市中医院, 邓州市中医院) must not join each other
            partners = [j for j in partners if distinct[j][0] not in "省市县区"]
        if a[0] in "省市县区" and len(partners) > 1:
            full = [j for j in partners if distinct[j][0] not in "省市县区"]
            roots = {find(j) for j in full}
            if len(roots) > 1:
                home = _home_prefixed(full, distinct, ctx)
                if home is None:
                    # the article's protagonist, named in full before it is named short
                    first = min(full, key=lambda j: first_seen.get(distinct[j], len(text)))
                    if first_seen.get(distinct[first], len(text)) < first_seen.get(a, 0):
                        home = first
                partners = [home] if home is not None else []
        for j in partners:
            union(i, j)
    groups: dict[int, list[str]] = {}
    for n, i in index.items():
        groups.setdefault(find(i), []).append(n)
    # a relative name expanded to a name the article gives in full is that institution
    by_name: dict[str, int] = {}
    for root, group in sorted(groups.items()):
        canonical = _canonical(group, ctx)[0]
        if canonical in by_name:
            union(by_name[canonical], root)
        else:
            by_name[canonical] = root
    groups = {}
    for n, i in index.items():
        groups.setdefault(find(i), []).append(n)
    institutions: list[ArticleInstitution] = []
    root_to_inst: dict[int, int] = {}
    counts = Counter(m.name for m in mentions if m.kind in ("name", "alias") and not m.plaque)
    for root, group in sorted(groups.items()):
        inst = ArticleInstitution(index=len(institutions), names=group)
        inst.count = sum(counts[n] for n in group)
        inst.name, inst.relative = _canonical(group, ctx)
        inst.place, _ = locate_name(inst.name, ctx)
        inst.level = level_of(inst.name, inst.place, _relative_kind(ctx))
        if inst.relative:
            inst.level = level_of(group[0], inst.place, _relative_kind(ctx))
        root_to_inst[root] = inst.index
        institutions.append(inst)
    for branch_name, parent_name in parents.items():
        b_inst = root_to_inst[find(index[branch_name])]
        institutions[b_inst].branch_of = root_to_inst[find(index[parent_name])]
    for built, builder in co_built.items():
        if built not in index:
            continue  # only on a plaque ("挂牌“A霍山医院”"): its owner is read from the plaque
        b_inst, p_inst = root_to_inst[find(index[built])], root_to_inst[find(index[builder])]
        if b_inst != p_inst:
            institutions[b_inst].built_by = p_inst
    for m in mentions:
        if m.kind in ("name", "alias") and m.name in index:
            m.inst = root_to_inst[find(index[m.name])]
    for m in mentions:
        if m.kind == "gov":
            m.inst = _government_hospital(m.place_stem, institutions, mentions)
    mentions.extend(_bare_references(text, mentions, institutions))
    mentions.sort(key=lambda x: (x.start, -x.end))
    return Resolution(mentions=mentions, institutions=institutions)


_BARE = re.compile(r"中心医院|人民医院|中医院|中医医院|妇幼保健院|儿童医院|肿瘤医院")


def _bare_references(
    text: str, mentions: list[Mention], institutions: list[ArticleInstitution]
) -> list[Mention]:
    """ "中心医院副院长…来到我院" after "长沙市中心医院" in the title: a bare kind of hospital
    names the one institution of the article that is a place and that kind."""
    taken = sorted((m.start, m.end) for m in mentions)
    starts = [a for a, _ in taken]
    out: list[Mention] = []
    for hit in _BARE.finditer(text):
        before = text[hit.start() - 1 : hit.start()]
        if before and _is_name_char(before) and before not in _STRONG_STOP | _WEAK_STOP:
            continue  # inside a longer name
        k = bisect.bisect_right(starts, hit.start()) - 1
        if k >= 0 and taken[k][1] > hit.start():
            continue
        owners = [
            inst
            for inst in institutions
            if any(
                n.endswith(hit.group()) and _is_place_chain(n[: -len(hit.group())])
                for n in inst.names + [inst.name]
            )
        ]
        if len(owners) == 1:
            out.append(
                Mention(hit.start(), hit.end(), hit.group(), kind="alias", inst=owners[0].index)
            )
    return out


def _relative_kind(ctx: PlaceContext) -> str:
    county = ctx.home_county()
    if county is not None and county.name.endswith("市"):
        return "county-city"
    return ""


def _home_prefixed(cands: list[int], distinct: list[str], ctx: PlaceContext) -> int | None:
    county, city = ctx.home_county(), ctx.home_city()
    homes = [d.name for d in (county, city) if d is not None]
    if (
        county is not None
        and city is not None
        and ctx.direct_city_mentions(city.name) > ctx.counties.get(county.name, 0)
    ):
        homes.reverse()  # the article is about the city more than about the county
    for home in homes:
        hits = [j for j in cands if distinct[j].startswith(home)]
        if len(hits) == 1:
            return hits[0]
    return None


def _canonical(group: list[str], ctx: PlaceContext) -> tuple[str, bool]:
    full = [n for n in group if n[0] not in "省市县区"]
    if full:
        # the hospital's own name, not its group's or campus's: 沧州市中心医院 (医疗集团)
        best = max(
            full, key=lambda n: (not n.endswith(_GROUP + _BRANCH), len(_strip_province(n)), n)
        )
        return _strip_province(best), False
    name = max(group, key=len)
    expanded = _expand_relative(name, ctx)
    return (expanded, expanded == name)


def _expand_relative(name: str, ctx: PlaceContext) -> str:
    county: Division | None = ctx.home_county()
    city: Division | None = ctx.home_city()
    head, rest = name[0], name[1:]
    if head == "省":
        prov = ctx.home_province
        if prov:
            g = gazetteer()
            for div in g.full.get(prov + "省", []) + g.full.get(prov + "自治区", []):
                return div.name + rest
        return name
    if head in "县区" and county is not None and county.name.endswith(head):
        return county.name + rest
    if head == "市":
        if county is not None and county.name.endswith("市"):
            return county.name + rest
        if city is not None and city.name.endswith("市"):
            return city.name + rest
    return name


def _government_hospital(
    stem: str, institutions: list[ArticleInstitution], mentions: list[Mention]
) -> int:
    """The hospital a county's or a town's government signs for ("叙永县人民政府与…签署医联体
    协议" -> 叙永县人民医院). A province or a city signs for itself: no hospital."""
    divisions = gazetteer().full.get(stem, [])
    if stem.endswith("省") or divisions and all(d.level in "PC" for d in divisions):
        return -1
    base = stem
    for end in ("县", "市", "区", "镇", "乡", "旗"):
        if stem.endswith(end) and len(stem) > 2:
            base = stem[:-1]
            break
    best: tuple[int, int] | None = None
    for inst in institutions:
        if not any(n.startswith(stem) or n.startswith(base) for n in inst.names + [inst.name]):
            continue
        rank = next((k for k, suf in enumerate(_GOV_PREFERENCE) if inst.name.endswith(suf)), 9)
        key = (rank, -inst.count)
        if best is None or key < (best[0], -institutions[best[1]].count):
            best = (rank, inst.index)
    return best[1] if best is not None else -1
