"""Common Chinese verbs and function words, read from jieba's dictionary (a dependency).

An institution name never contains "提高", "学习" or "探讨": when such a word sits right before
a name suffix ("整体提高县医院水平", "学习省中医院经验"), the name starts after it. The list
is jieba's two-character verbs, adverbs, prepositions, conjunctions and pronouns that are
frequent enough to be words in running text, minus the few that do occur inside names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: parts of speech (jieba's tags) that do not occur inside an institution name
_TAGS = {"v", "vd", "d", "p", "c", "r", "u", "ad"}
_MIN_FREQUENCY = 300
#: verbs that name institutions do contain: 中西医结合医院, 新北市立联合医院
#: other words that end a phrase before a name ("有关兄弟附属医院")
_ALSO = {
    "有关": 20000,
    "相关": 20000,
    "其他": 20000,
    "其它": 20000,
    "以下": 20000,
    "以上": 20000,
    "助力": 20000,
    "赋能": 20000,
    "联手": 20000,
    "致力": 20000,
}
_IN_NAMES = {
    "结合",
    "联合",
    "协和",
    "市立",
    "县立",
    "省立",
    "区立",
    "共建",
    "协作",
    "合作",
    "总医",
    "附属",
}


@lru_cache(maxsize=1)
def function_words() -> dict[str, int]:
    """Word -> its frequency in jieba's dictionary."""
    import jieba  # the dictionary file ships with the package; nothing is segmented here

    path = Path(jieba.__file__).with_name("dict.txt")
    words: dict[str, int] = {}
    institutions: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) != 3:
                continue
            if len(parts[0]) >= 5 and parts[0].endswith(_INSTITUTION_ENDS):
                institutions.append(parts[0])
            if len(parts[0]) != 2 or parts[2] not in _TAGS:
                continue
            if int(parts[1]) >= _MIN_FREQUENCY and parts[0] not in _IN_NAMES:
                words[parts[0]] = int(parts[1])
    # the dictionary's own institutions say which of these words names hold: 首都医科大学
    for name in institutions:
        for k in range(len(name) - 1):
            words.pop(name[k : k + 2], None)
    words.update(_ALSO)
    return words


_INSTITUTION_ENDS = ("医院", "大学", "卫生院", "学院", "保健院")


@lru_cache(maxsize=1)
def nouns() -> frozenset[str]:
    """Two-character nouns and names (同济, 和平, 同仁): a stop character that starts one
    ("市中心医院同济咸宁医院") is part of a name."""
    import jieba

    path = Path(jieba.__file__).with_name("dict.txt")
    words: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and len(parts[0]) == 2 and parts[2] in _NOUN_TAGS:
                words.add(parts[0])
    return frozenset(words)


_NOUN_TAGS = {"n", "nr", "nt", "nz", "nrt"}  # not ns: places are the gazetteer's (和县)
