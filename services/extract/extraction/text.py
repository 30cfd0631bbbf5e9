"""Turn an article body (HTML or plain text, simplified or traditional) into clean text.

Steps: HTML to main text (trafilatura, with a regex fallback), Unicode NFKC, traditional to
simplified (OpenCC, applied to traditional text only), removal of pinyin annotations inside
words (``医(yī)院``), and removal of boilerplate lines (navigation, breadcrumbs, footers, ICP
numbers, captions, SEO spam, "related news" lists). Every later step works on the returned
text, so evidence offsets point into it.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

log = logging.getLogger(__name__)


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@lru_cache(maxsize=1)
def _converter() -> _Converter:
    import opencc  # the native build (pinned): about 0.1 ms for a 6k-character article

    # hk2s, not t2s: it also reads Hong Kong's character forms, which t2s leaves as they are
    # (衞生院 stays 衞生院 and is no health centre); standard and Taiwan text convert alike
    return opencc.OpenCC("hk2s")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Script:
    """Characters the converter changes, split by whether simplified text uses them too."""

    traditional_only: re.Pattern[str]  # changed, and outside GB2312: 醫, 聯, 縣, 衞
    ambiguous: re.Pattern[str]  # changed, but also simplified characters: 乾, 於, 後


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=1)
def _script() -> _Script:
    chars = [chr(c) for c in range(0x3400, 0xA000)]
    converted = _converter().convert("\n".join(chars)).split("\n")
    only: list[str] = []
    ambiguous: set[str] = set()
    if len(converted) == len(chars):
        for ch, simple in zip(chars, converted, strict=True):
            if simple != ch:
                (ambiguous.add(ch) if _in_gb2312(ch) else only.append(ch))
    return _Script(_char_class(only), _char_class(sorted(ambiguous)))


def _char_class(chars: list[str]) -> re.Pattern[str]:
    return re.compile("[" + "".join(chars) + "]" if chars else "(?!)")


#: share of traditional-only characters among the Chinese characters of a traditional text
#: (a traditional article has 10-30 %; a simplified one about 0, a quoted name aside)
TRADITIONAL_SHARE = 0.04
_CJK_ANY = re.compile(r"[\u3400-\u9fff]")
_CLAUSE = re.compile(r"[^。！？；，、,;!?\n]+")


def is_traditional(text: str) -> bool:
    """Whether ``text`` is written in traditional characters (from the share of characters
    only traditional text uses)."""
    marks = len(_script().traditional_only.findall(text))
    if not marks:
        return False
    return marks >= TRADITIONAL_SHARE * len(_CJK_ANY.findall(text))


def to_simplified(text: str, traditional: bool | None = None) -> str:
    """Traditional to simplified Chinese, without damaging simplified text.

    OpenCC also rewrites characters that simplified text uses (乾安县 -> 干安县, 於, 後), so
    only traditional text is converted: the whole text when it is traditional (``traditional``,
    or detected), else just the clauses that contain traditional-only characters (a
    traditional name quoted in a simplified article). Admin-division names keep their
    characters either way.
    """
    if not text:
        return text
    script = _script()
    if traditional is None:
        traditional = is_traditional(text)
    if traditional:
        return _keep_place_names(text, _converter().convert(text), script)
    if not script.traditional_only.search(text):
        return text

    def clause(m: re.Match[str]) -> str:
        part = m.group()
        if not script.traditional_only.search(part):
            return part
        return _keep_place_names(part, _converter().convert(part), script)

    return _CLAUSE.sub(clause, text)


def _keep_place_names(original: str, converted: str, script: _Script) -> str:
    """Undo the conversion of ambiguous characters inside admin-division names (乾安县, 乾县)."""
    if len(converted) != len(original):
        return converted
    spots = [
        m.start() for m in script.ambiguous.finditer(original) if converted[m.start()] != m.group()
    ]
    if not spots:
        return converted
    from .places import gazetteer  # local: places does not need the text module

    g = gazetteer()
    out = list(converted)
    for i in spots:
        restored = converted[:i] + original[i] + converted[i + 1 :]
        for a in range(max(0, i - g.max_len + 1), i + 1):
            if any(
                restored[a:b] in g.full or restored[a:b] in g.alias
                for b in range(max(i + 1, a + 2), min(len(restored), a + g.max_len) + 1)
            ):
                out[i] = original[i]
                break
    return "".join(out)


_TONE = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# A parenthesised pinyin syllable right after a Chinese character: 医(yī)院, 网(wǎng).
# (The look back at the character comes after the "(": the same matches, but the engine
# then skips ahead to each "(" instead of trying every position.)
_PINYIN = re.compile(
    r"\((?<=[\u4e00-\u9fff]\()(?:[a-zü]{0,6}["
    + _TONE
    + r"][a-zü]{0,6}|[a-z]{1,6}(?=\)[\u4e00-\u9fff]))\)"
)


def remove_pinyin(text: str) -> str:
    """Drop pinyin annotations inside words: ``醫(yī)院`` -> ``醫院``."""
    if "(" not in text:
        return text
    return _PINYIN.sub("", text)


# ---------------------------------------------------------------- HTML to text
_SCRIPT = re.compile(r"<(script|style|noscript|iframe|svg)\b.*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLOCK = re.compile(
    r"<\s*/?\s*(?:p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|header"
    r"|footer|nav|dd|dt|blockquote)\b[^>]*>",
    re.I,
)
_TAG = re.compile(r"<[^>]+>")
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1\s*>", re.S | re.I)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.S | re.I)
_TITLE_SITE = re.compile(r"\s*(?:[-_|–—]\s*[^-_|–—]{1,30})+$")


def _strip_tags(fragment: str) -> str:
    fragment = _SCRIPT.sub(" ", fragment)
    fragment = _COMMENT.sub(" ", fragment)
    fragment = _BLOCK.sub("\n", fragment)
    fragment = _TAG.sub(" ", fragment)
    return html.unescape(fragment)


def html_title(markup: str) -> str:
    """The article title of a page: its first <h1>, else <title> without the site name."""
    m = _H1.search(markup)
    if m:
        title = " ".join(_strip_tags(m.group(1)).split())
        if 4 <= len(title) <= 120:
            return title
    m = _TITLE.search(markup)
    if m:
        title = " ".join(_strip_tags(m.group(1)).split())
        title = _TITLE_SITE.sub("", title) or title
        return title[:120]
    return ""


def html_to_text(markup: str) -> str:
    """Main text of an HTML page (trafilatura; falls back to stripping tags)."""
    text: str | None = None
    import trafilatura  # an import failure is an install bug: let it surface

    try:
        text = trafilatura.extract(
            markup,
            fast=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            favor_recall=True,
        )
    except Exception as exc:  # malformed markup: fall back to the tag-stripped page
        log.warning("trafilatura could not parse the page, stripping tags instead: %s", exc)
        text = None
    if not text or len(text) < 40:
        text = _strip_tags(markup)
    return text


# ---------------------------------------------------------------- boilerplate
_SPAM = re.compile(
    r"无码|av\b|AV|麻豆|人妻|一区二区|精品区|三级片|色情|赌场|博彩|彩票|成人视频|国产精品"
)
_FOOTER = re.compile(
    r"ICP备|ICP证|公网安备|版权所有|Copyright|©|\(c\)\s*\d{4}|增值电信业务|视听节目许可|广告经营许可"
    r"|互联网新闻信息服务许可|违法和不良信息|举报电话|举报邮箱|联系我们|网站地图|关于我们"
    r"|扫一扫|二维码|微信公众号|长按|分享到|返回顶部|打印本页|关闭窗口|上一篇|下一篇|小程序码"
)
_META = re.compile(
    r"^\s*[\[【(]?\s*(?:责任编辑|编辑|来源|作者|记者|通讯员|摄影|审核|校对|点击|浏览|阅读|发布时间|发布日期"
    r"|查看次数|点击数|浏览次数|字号|稿件来源|文章来源|信息来源|热线|电话|主办|承办)\s*[:：]"
)
_TRUNCATE = re.compile(
    r"^\s*(?:相关新闻|相关阅读|相关文章|相关链接|相关报道|热点阅读|热点排行|热点新闻|新闻推荐|猜你喜欢|推荐阅读"
    r"|频道推荐|延伸阅读|热门推荐|热门文章|精彩推荐|图文看点|图文推荐|更多新闻|更多阅读|最新新闻|最新文章"
    r"|网友评论|评论\s*[:：(]|发表评论)"
)
_SOURCE = re.compile(r"^\s*[\[【(]?\s*(?:来源|稿件来源|文章来源|信息来源)\s*[:：]")
#: a link to the site's previous or next story, however long its headline
_PREV_NEXT = re.compile(r"^\W{0,3}(?:上一篇|下一篇|上一条|下一条|上篇|下篇)\s*[:：]")
_INSTITUTION_HINT = re.compile(r"医院|卫生院|卫生服务中心|保健院|医疗集团")
_CAPTION = re.compile(r"[(（]图\s*\d+[)）]\s*$|^\s*图[为片]\s*[:：]?.{0,40}$")
_BREADCRUMB = re.compile(r"\s[>»›]\s|^\s*(?:当前位置|您的位置|你的位置|位置)\s*[:：]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SENT_PUNCT = re.compile(r"[。，,；;！!？?：:“”]")
_WS = re.compile(r"[ \t\u3000\xa0\u2002\u2003\u2009]+")
#: characters that show nothing (zero-width space and joiners, word joiner, byte-order mark,
#: soft hyphen): pages slip them inside words, and a writer never meant them as a space
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_QMARKS = re.compile(r"\?{2,}")


def _is_navigation(line: str) -> bool:
    if _LIST_ITEM.match(line) and _INSTITUTION_HINT.search(line):
        return False  # a numbered row of a table of institutions
    tokens = line.split(" ")
    if len(tokens) >= 4 and not _SENT_PUNCT.search(line):
        short = sum(1 for t in tokens if len(t) <= 8)
        if short >= 0.8 * len(tokens):
            return True
    return False


def spam_words(line: str) -> bool:
    """Whether a line holds the words of gambling and adult spam pages."""
    return bool(_SPAM.search(line))


def _is_spam(line: str) -> bool:
    if line.count("|") >= 3:
        segments = [s for s in line.split("|") if s.strip()]
        if segments and sum(len(s) for s in segments) / len(segments) < 24:
            return True
    return bool(_SPAM.search(line)) and not _SENT_PUNCT.search(line)


def _drop_line(line: str) -> bool:
    if not _CJK.search(line):
        return True
    # every breadcrumb match holds 位置 or an arrow and every caption 图: most lines hold
    # neither, and skip the searches
    if (
        _is_spam(line)
        or ("位置" in line or ">" in line or "»" in line or "›" in line)
        and _BREADCRUMB.search(line)
        or "图" in line
        and _CAPTION.search(line)
    ):
        return True
    if _FOOTER.search(line) and len(line) < 120 or _PREV_NEXT.match(line):
        return True
    if _META.search(line) and len(line) < 80:
        # keep "来源:XX医院": it tells who "我院" is
        return not (_SOURCE.search(line) and _INSTITUTION_HINT.search(line))
    return _is_navigation(line)


def clean_lines(text: str) -> str:
    """Drop boilerplate lines and everything after a "related news" style marker."""
    out: list[str] = []
    stanza: list[int] = []  # stanza number of each kept line (stanzas are split by blank lines)
    seen: set[str] = set()
    kept_chars = 0
    told = False  # a paragraph of the story is kept
    number = 0
    for raw in text.split("\n"):
        line = _WS.sub(" ", raw).strip()
        if not line:
            number += 1
            continue
        if _TRUNCATE.match(line) and _after_story(kept_chars, told):
            break
        if _drop_line(line):
            continue
        if line in seen and len(line) < 200 and not _bare_name_line(line):
            continue
        seen.add(line)
        out.append(line)
        stanza.append(number)
        kept_chars += len(line)
        told = told or tells_story(line)
    return "\n".join(_join_short_lines(out, stanza))


_SHORT = 22
_CLOSED = set("。!?;…:")
_LIST_ITEM = re.compile(
    r"^\s*(?:\d{1,3}\s*[.、)]|[(]?[一二三四五六七八九十\d]{1,3}[)、]|序号|\d{1,3}\s)"
)


def _after_story(chars: int, told: bool) -> bool:
    """Whether a "related news" heading seen after ``chars`` characters of the page, a line of
    the story's prose among them or not (``told``), follows the story rather than sits in a
    menu above it."""
    return chars >= 150 or told


def tells_story(line: str) -> bool:
    """A line of the story's prose (a menu or a headline does not end a sentence)."""
    return len(line) >= 20 and is_closed(line)


def is_closed(line: str) -> bool:
    """Whether a line ends a sentence (emoji and other symbols after the punctuation ignored)."""
    end = len(line)
    while end > 0 and unicodedata.category(line[end - 1])[0] in "SZC":
        end -= 1
    return end == 0 or line[end - 1] in _CLOSED


def _bare_name_line(line: str) -> bool:
    """A short unpunctuated line naming an institution: phone articles repeat those on purpose."""
    return len(line) <= _SHORT and not is_closed(line) and bool(_INSTITUTION_HINT.search(line))


def _is_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line)) or unicodedata.category(line[0])[0] == "S"


def _join_short_lines(lines: list[str], stanza: list[int]) -> list[str]:
    """Phone-article style (one phrase a line, stanzas split by blank lines): join the phrases
    of a stanza into sentences, so that a name and its verb end up in one sentence."""
    short = [len(line) <= _SHORT and not is_closed(line) for line in lines]
    if sum(short) < 8 or sum(short) < 0.5 * len(lines):
        return lines
    out: list[str] = []
    for k, line in enumerate(lines):
        if (
            k >= 2
            and out
            and stanza[k] == stanza[k - 1]
            and short[k - 1]
            and len(lines[k - 1]) <= _SHORT
            and not _is_item(line)
            and not _is_item(lines[k - 1])
        ):
            prev = out[-1]
            glue = "" if _CJK.match(line[0]) and _CJK.match(prev[-1]) else " "
            out[-1] = prev + glue + line
            continue
        out.append(line)
    return out


@dataclass(frozen=True)
class Normalised:
    """The normalised text, plus the raw (pre-boilerplate) head used to find a dateline."""

    text: str
    head: str
    publisher: str = ""  # the institution the page's footer names as its owner


#: a page's footer naming who publishes it: "版权所有 © 长沙市第九医院", "主办单位:X医院"
_PUBLISHER = re.compile(
    r"(?:版权所有|版权归|主办单位|主办|Copyright|©)[^\n]{0,24}?([\u4e00-\u9fff]{2,24}?(?:医院|卫生院|保健院|医疗中心"
    r"|卫生服务中心))|([\u4e00-\u9fff]{2,24}?(?:医院|卫生院|保健院|医疗中心|卫生服务中心))\s*(?:版权所有|主办)"
)


def publisher(raw: str) -> str:
    """The institution a page's footer names as its owner ("" when none): it is "我院"."""
    found = ""
    if "版权" in raw or "主办" in raw or "©" in raw or "Copyright" in raw:
        for m in _PUBLISHER.finditer(raw):
            found = m.group(1) or m.group(2)
    return found


def _head(body: str, size: int = 600) -> str:
    """The top of the page, where its publication date is printed: up to ``size`` characters,
    short of the links to other stories after a short story (their dates are theirs)."""
    head = body[:size]
    start = 0
    told = False
    for line in head.split("\n"):
        if (_TRUNCATE.match(line) or _PREV_NEXT.match(line)) and _after_story(start, told):
            return head[:start]
        told = told or tells_story(line.strip())
        start += len(line) + 1
    return head


def normalise(body: str, *, title: str = "", is_html: bool = False) -> Normalised:
    """Full normalisation pipeline; see the module docstring."""
    if is_html:
        if not title:
            title = html_title(body)
        owner_text = _strip_tags(body)
        body = html_to_text(body)
    else:
        owner_text = body
    body = unicodedata.normalize("NFKC", body.translate(_INVISIBLE))
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    body = _QMARKS.sub(" ", body)
    if title:
        title = unicodedata.normalize("NFKC", title.translate(_INVISIBLE))
    traditional = is_traditional(title + "\n" + body)
    unconverted = body
    body = remove_pinyin(to_simplified(body, traditional))
    head = _head(body)
    footer = unicodedata.normalize("NFKC", owner_text[-3000:].translate(_INVISIBLE))
    # most often (a plain text under 3,000 characters) the footer's text is the body itself,
    # converted just above: it is not converted a second time
    footer = body if footer == unconverted else remove_pinyin(to_simplified(footer, traditional))
    owner = publisher(footer)
    text = clean_lines(body)
    if title:
        title = remove_pinyin(to_simplified(title, traditional)).strip()
        title = _WS.sub(" ", title)
        if _BREADCRUMB.search(title) or _META.search(title) and len(title) < 80:
            title = ""  # a crawler took the page's breadcrumb or byline for its title
        first = text.split("\n", 1)[0]
        if title and title not in first and first not in title:
            text = title + "\n" + text
    return Normalised(text=text, head=head, publisher=owner)
