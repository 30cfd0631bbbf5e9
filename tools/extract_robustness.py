"""How the extractor holds when the same real news reaches it in another shape.

    python -m tools.extract_robustness           # every variant over the tuning articles
    python -m tools.extract_robustness -v        # and each article whose result changed
    python -m tools.extract_robustness --variants traditional,html

The tuning articles of ``../shared/eval`` are rewritten in ways that leave their gold labels
true: the same story in traditional characters (standard, Hong Kong's and Taiwan's forms, as
sites there and some government sites print it); sent as an HTML page, inside its site's
header and footer, or with its title apart (as crawlers send it); with invisible characters
inside its words; without its publication date; in another writer's words; on a page that
also links or carries other stories. Each variant is scored by the shared scorer against the
unchanged gold, beside the original. A rule keyed to one article's wording breaks here; a
rule about the language does not. These are the tuning articles, so the scores are
in-sample: what counts is the difference a variant makes. The sealed third is never read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from services.extract.extraction.text import is_closed
from tools.extract_eval import SETS, Article, _line, load_set, scorer


@dataclass(frozen=True)
class Page:
    """What a crawler hands the extractor: a body, maybe a title, a type, maybe a date."""

    body: str
    title: str = ""
    content_type: str = "text/plain"
    published: dt.date | None = None


#: a variant: the article, its text and the other articles (for pages that carry other
#: stories) -> the page as the extractor gets it
Variant = Callable[[Article, str, "Pool"], Page]


@dataclass(frozen=True)
class Pool:
    """The other articles a page may carry or link: titles of reports, texts of non-reports."""

    titles: tuple[tuple[str, str], ...]  # (set/file, title) of articles whose first line is a title
    others: tuple[Article, ...]  # articles that report no formation

    def titles_for(self, a: Article, k: int) -> list[str]:
        """``k`` titles of other articles, fixed by the article's name (not random)."""
        start = _spread(a)
        key = _key(a)
        picked = [t for name, t in self._rotated(self.titles, start) if name != key]
        return picked[:k]

    def other_for(self, a: Article) -> Article | None:
        start = _spread(a)
        return next((o for o in self._rotated(self.others, start) if _key(o) != _key(a)), None)

    @staticmethod
    def _rotated(items: tuple[Any, ...], start: int) -> list[Any]:
        if not items:
            return []
        k = start % len(items)
        return list(items[k:] + items[:k])


def _key(a: Article) -> str:
    return f"{a.set_name}/{a.file}"


def _spread(a: Article) -> int:
    return zlib.crc32(_key(a).encode())


def _published(a: Article) -> dt.date | None:
    return dt.date.fromisoformat(a.published) if a.published else None


#: a first line this long is the article's first paragraph, not a title
TITLE_MAX = 80


def _title_and_rest(text: str) -> tuple[str, str]:
    """The first non-empty line when it is short enough to be a title, and the rest."""
    lines = text.split("\n")
    k = next((i for i, line in enumerate(lines) if line.strip()), None)
    if k is None or len(lines[k].strip()) > TITLE_MAX:
        return "", text
    return lines[k].strip(), "\n".join(lines[k + 1 :])


@lru_cache(maxsize=4)
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def original(a: Article, text: str, pool: Pool) -> Page:
    return Page(text, published=_published(a))


def traditional(a: Article, text: str, pool: Pool) -> Page:
    """Character by character into traditional script (OpenCC s2t)."""
    return Page(_opencc("s2t").convert(text), published=_published(a))


def hong_kong(a: Article, text: str, pool: Pool) -> Page:
    """Into traditional script in Hong Kong's character forms (OpenCC s2hk: 衞生院)."""
    return Page(_opencc("s2hk").convert(text), published=_published(a))


def taiwan(a: Article, text: str, pool: Pool) -> Page:
    """Into traditional script with Taiwan's words (OpenCC s2twp: 互联网 -> 網際網路)."""
    return Page(_opencc("s2twp").convert(text), published=_published(a))


def html_page(a: Article, text: str, pool: Pool) -> Page:
    """As a site's HTML page: title in <title> and <h1>, a menu, paragraphs, a footer."""
    title, rest = _title_and_rest(text)
    paragraphs = "".join(
        f"<p>{html.escape(line)}</p>\n" for line in rest.split("\n") if line.strip()
    )
    head = f"<title>{html.escape(title)} - 卫生健康网</title>" if title else ""
    h1 = f"<h1>{html.escape(title)}</h1>" if title else ""
    page = (
        f"<html><head>{head}</head><body>"
        "<div class='menu'><a href='/'>首页</a> | <a href='/news'>新闻中心</a> | "
        "<a href='/about'>关于我们</a></div>"
        f"<div class='article'>{h1}{paragraphs}</div>"
        "<div class='footer'>版权所有 卫生健康网 ICP备00000000号</div></body></html>"
    )
    return Page(page, content_type="text/html", published=_published(a))


def title_apart(a: Article, text: str, pool: Pool) -> Page:
    """The title in its own field and the body without it, as a feed item carries them."""
    title, rest = _title_and_rest(text)
    return Page(rest if title else text, title=title, published=_published(a))


def invisible(a: Article, text: str, pool: Pool) -> Page:
    """Characters that show nothing slipped inside words, as some pages carry them: a
    zero-width space after every seventh character, a soft hyphen after every eleventh."""
    out = []
    for k, ch in enumerate(text):
        out.append(ch)
        if k % 7 == 6:
            out.append("\u200b")
        if k % 11 == 10:
            out.append("\u00ad")
    return Page("".join(out), published=_published(a))


def no_published(a: Article, text: str, pool: Pool) -> Page:
    """No publication date from the crawler: dates are read from the text alone."""
    return Page(text)


def prev_next(a: Article, text: str, pool: Pool) -> Page:
    """The page links the site's previous and next stories by their titles."""
    before, after = (pool.titles_for(a, 2) + ["", ""])[:2]
    return Page(f"{text}\n\n上一篇:{before}\n下一篇:{after}", published=_published(a))


def related(a: Article, text: str, pool: Pool) -> Page:
    """A "related news" list of three other stories' titles after the article."""
    items = "\n".join(f"- 2019-05-0{k + 1} {t}" for k, t in enumerate(pool.titles_for(a, 3)))
    return Page(f"{text}\n\n相关新闻\n{items}", published=_published(a))


def site_chrome(a: Article, text: str, pool: Pool) -> Page:
    """The page as saved with its site's header and footer around the story: menu,
    breadcrumb, byline, share buttons, copyright and licence lines; the publication date
    only in the byline, not from the crawler."""
    published = _published(a)
    when = f"{published.isoformat()} 09:30" if published else "09:30"
    header = (
        "首页 | 新闻中心 | 政务公开 | 办事服务 | 互动交流\n"
        "您当前的位置: 首页 > 新闻中心 > 工作动态\n"
        f"发布时间: {when} 来源: 本网 浏览次数: 1024\n"
        "【字体: 大 中 小】 【打印本页】 【关闭窗口】\n"
    )
    footer = (
        "\n分享到: 微信 微博 QQ空间\n"
        "版权所有: 卫生健康网 ICP备00000000号-1 公网安备 00000000000000号\n"
        "联系我们 | 网站地图 | 关于我们\n"
    )
    return Page(header + text + footer)


#: words another writer would use for the same thing, swapped both ways where both are used
_WORDING = {
    "揭牌": "挂牌",
    "挂牌": "揭牌",
    "医联体": "医疗联合体",
    "医共体": "医疗共同体",
    "对口帮扶": "对口支援",
    "对口支援": "对口帮扶",
    "签订": "签署",
    "签署": "签订",
}
_WORDS = re.compile("|".join(sorted(_WORDING, key=len, reverse=True)))


def wording(a: Article, text: str, pool: Pool) -> Page:
    """The same story in another writer's words: 揭牌/挂牌, 医联体/医疗联合体, 对口帮扶/对口支援,
    签订/签署 swapped."""
    return Page(_WORDS.sub(lambda m: _WORDING[m.group()], text), published=_published(a))


def headlines_before(a: Article, text: str, pool: Pool) -> Page:
    """A "latest news" box of three other stories' headlines printed before the story, as a
    page's text dump may have it (no labelled page shows one; this measures the risk)."""
    items = "\n".join(f"· {t}" for t in pool.titles_for(a, 3))
    return Page(f"最新动态\n{items}\n\n{text}", published=_published(a))


def other_story_after(a: Article, text: str, pool: Pool) -> Page:
    """A whole other story that reports no formation, printed after the article."""
    other = pool.other_for(a)
    extra = other.path.read_text(encoding="utf-8") if other is not None else ""
    return Page(f"{text}\n\n{extra}", published=_published(a))


VARIANTS: dict[str, Variant] = {
    "traditional": traditional,
    "hong_kong": hong_kong,
    "taiwan": taiwan,
    "html": html_page,
    "site_chrome": site_chrome,
    "title_apart": title_apart,
    "invisible": invisible,
    "no_published": no_published,
    "wording": wording,
    "prev_next": prev_next,
    "related": related,
    "headlines_before": headlines_before,
    "other_story_after": other_story_after,
}


def pool_of(articles: Iterable[Article]) -> Pool:
    titles: list[tuple[str, str]] = []
    others: list[Article] = []
    for a in articles:
        if not a.gold.get("is_alliance_event"):
            others.append(a)
        title, _ = _title_and_rest(a.path.read_text(encoding="utf-8"))
        # a headline does not end a sentence (a first line that does is the first paragraph)
        if title and a.gold.get("is_alliance_event") and not is_closed(title):
            titles.append((_key(a), title))
    return Pool(tuple(titles), tuple(others))


def run(articles: list[Article], variant: Variant, pool: Pool) -> list[dict[str, Any]]:
    """The extraction CLI's rows for every article, rewritten by ``variant``."""
    from services.extract.entrypoints.cli import row_of
    from services.extract.extraction.api import ArticleInput, extract

    rows = []
    for a in articles:
        page = variant(a, a.path.read_text(encoding="utf-8"), pool)
        result = extract(
            ArticleInput(
                body=page.body,
                title=page.title,
                content_type=page.content_type,
                published=page.published,
            )
        )
        rows.append(row_of(_key(a), result))
    return rows


def _essence(row: dict[str, Any]) -> tuple[Any, ...]:
    """What a bureau is told of an article: relevant or not, and who formed what with whom."""
    return (
        row["relevant"],
        sorted(
            (tuple(e["lead"]), tuple(e["members"]), e["type"], e.get("date")) for e in row["events"]
        ),
    )


def changed(base: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """The articles whose essence a variant changed."""
    return [b["file"] for b, r in zip(base, rows, strict=True) if _essence(b) != _essence(r)]


@dataclass(frozen=True)
class Report:
    name: str
    result: dict[str, Any]
    changed: list[str]


def evaluate(articles: list[Article], names: list[str]) -> list[Report]:
    score = scorer()
    pool = pool_of(articles)
    golds = [dict(a.gold, file=_key(a)) for a in articles]
    base = run(articles, original, pool)
    reports = [Report("original", score.score(golds, base)[0], [])]
    for name in names:
        rows = run(articles, VARIANTS[name], pool)
        reports.append(Report(name, score.score(golds, rows)[0], changed(base, rows)))
    return reports


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.extract_robustness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ",".join(SETS))
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated: " + ",".join(VARIANTS)
    )
    p.add_argument("-v", "--verbose", action="store_true", help="name each changed article")
    p.add_argument("--json", action="store_true", help="one JSON object with every score")
    args = p.parse_args(argv)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for s in sets:
        if s not in SETS:
            p.error(f"unknown set {s!r}")
    for v in names:
        if v not in VARIANTS:
            p.error(f"unknown variant {v!r} (known: {', '.join(VARIANTS)})")
    try:
        articles = [a for s in sets for a in load_set(s, "tuning")]
        reports = evaluate(articles, names)
    except FileNotFoundError as exc:
        print(f"extract_robustness: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = {r.name: {"scores": r.result, "changed": r.changed} for r in reports}
        print(json.dumps(out, ensure_ascii=False))
        return 0
    for r in reports:
        tail = "" if r.name == "original" else f"  changed {len(r.changed)}/{len(articles)}"
        print(_line(r.name, r.result) + tail)
        if args.verbose and r.changed:
            print("    " + " ".join(r.changed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
