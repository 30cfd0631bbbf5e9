"""Institution names in an article, and their resolution into distinct institutions.

Names are found from their suffix (医院, 卫生院, 社区卫生服务中心, 医疗集团, 妇幼保健院, ...)
by scanning left over name characters until a function word, punctuation or a verb, then
trimming dates and slogans in front of the first admin-division name. Generic references
(基层医院, 三级医院, 乡镇卫生院, 九家附属医院) are dropped. Names are grouped into
institutions within the article: 西安市红会医院 = 陕西省西安市红会医院, 山大二院 =
山西医科大学第二医院 (abbreviation as a character subsequence), 县二医院 = 金堂县第二人民医院
(admin-relative name), aliases declared with "(以下简称X)" or "(现X)". A county government
that signs is resolved to its hospital.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .lexicon import function_words, nouns
from .places import PROVINCE_SHORT, Division, Gazetteer, Place, PlaceContext, gazetteer, locate_name

_SUFFIX = re.compile(
    r"社区卫生服务中心|社区卫生服务站|卫生服务中心|卫生服务站|社区卫生中心|中心卫生院|卫生院|保健所|卫生所"
    r"|妇幼保健计划生育服务中心|计划生育服务中心|妇幼保健院|妇幼保健所|妇幼保健中心"
    r"|医疗健康集团|医疗事业集团|医疗集团|医院集团|健康集团|医疗健康总院|健康总院"
    r"|精神卫生中心|医学中心|医疗中心|急救中心|康复中心|防治中心|疗养院|卫生室"
    r"|总医院|中医院|医院|总院|分院|院区|附院|附[一二三四五六七八九]院|(?<=大)[一二三四五六七八九]院"
    r"|(?<=[省市县区])[一二三四五六七八九]院"
)
#: inner suffixes a longer name may run across (集团 members, branches)
_CROSSABLE_INNER = ("集团", "总院")
_CROSSING_OUTER = ("分院", "院区", "集团")

_STRONG_STOP = set(
    "与的了在及是将对由被把让使等并也都就这该其我们个各每此于至到给或还又已曾即据着著有"
)
_WEAK_STOP = set("和同向以为从共家所经后前时之而但继受赴往来去请派帮助携跟按照凭沿朝比随全暨援聘扶")
_STOPWORDS = re.compile(
    "签约|签订|签署|举行|举办|加入|牵头|成立|组建|建立|授予|颁发|托管|帮扶|挂牌|揭牌|授牌|支援|联合|合作"
    "|组成|召开|参加|出席|代表|来到|走进|前往|派出|介绍|表示|指出|担任|作为|依托|包括|覆盖|成为|共同|正式"
    "|先后|分别|近日|日前|当天|当日|会上|上午|下午|晚上|目前|今年|去年|同时|其中|已经|此次|本次|这次|首次"
    "|再次|积极|主动|全面|进一步|推动|推进|促进|提升|帮助|指导|实现|通过|根据|按照|围绕|打造|创建|携手|牵手"
    "|结成|共建|启动|选派|派驻|对口|受邀|邀请|应邀|迎来|接受|获得|荣获|被评为|入选|认定|批准|同意|确定"
    "|为了|希望|感谢|祝贺|欢迎|对接|开展|召集|主办|承办|协办|见证|陪同|考察|调研|参观|慰问|走访|视察|带领"
    "|率领|率队|一行|以及|还有|相继|陆续|标志着|意味着|属于|位于|来自|进驻|挂职|聘请|聘任|授予了|颁发了"
    "|医联体|医共体|专科联盟|联盟|签约仪式|仪式|活动|会议|大会|专家|团队|院长|书记|主任|单位|成员|标志|聘用|聘|政府"
    "|统筹|管理|负责|实施|协调|督导|规范|考核|监管|惠及|辐射|覆盖|托管了|接管|整合|新建|改建|扩建|挂靠"
    "|公布|印发|名单|第[一二三四五六七八九十\\d]+批|首批|选举|推选|当选|选为|产生"
    "|发挥|充分|落户|入驻|加强|完善|构建|形成|建设|发展|服务|提供|满足|解决|带动|辐射|引领|打通|探索|落实|深化|优化|整合"
)
_LEAD_NOISE = re.compile(
    r"^(?:\d{1,4}\s*[年月日号时点分]?|[年月日号时点分]|上午|下午|晚上|早上|中午|凌晨|当天|当日|近日|日前"
    r"|今天|今日|昨天|近期|随后|此外|另外|同时|其中|目前|据悉|据了解|会上|会后|现场|[,、:;\s]"
    r"|原|现|医院集团|医疗集团|集团)+"
)
_GENERIC = re.compile(
    r"(?:双方|两院|保健|下设|下属|所属|旗下|直属|基层|乡镇|乡|镇|村|社区|街道|县级|市级|省级|区级|国家级|三级|二级|一级|三甲|二甲|甲等|乙等|综合|公立|民营"
    r"|私立|所有|有|全部|辖区内|辖区|专科|中心|成员|协作|合作|帮扶|对口|受援|支援|托管|牵头|核心|龙头|上级|下级|大型|各级|各类|兄弟|优质"
    r"|高水平|一流|知名|国内|省内|省外|市内|市外|县内|县外|县域|区域|周边|当地|附属|教学|定点|医联体|医共体|总"
    r"|分|两|多|几|全|各|该|本|其|此|我|贵|为|是|任|的|和|与|及|等|家|所|个|一些|部分|相关|其他|其它|有关"
    r"|这些|地方|人民满意|满意|示范|标准化|数字化|智慧|互联网|新型|现代化|现代|先进|大|小|好|新|老|首家|一家"
    r"|这家|每家|多家|\d+|[一二三四五六七八九十百千两]+|级|甲|乙|城市|农村|城乡|县乡|乡村|镇村|中医|西医|中西医"
    r"|中西医结合|结合|民族|蒙医|藏医|妇幼|儿童|妇女|肿瘤|口腔|眼科|精神|传染病|胸科|骨科|康复|护理|老年|人民|第"
    r"|紧密型|联盟|协作网|远程|试点|重点|特色|品牌|全国|全省|全市|全县|外地|异地|本地|大城市|城区|市区|县城"
    r"|镇级|院|医院|医疗|卫生|健康|集团|医学|专业|非公|公办|营利性|非营利性|营利|二级以上|三级以上|以上|以下"
    r"|省级以上|军队|部队|企业|高校|大学|医科|连锁|签约|定点医疗|医保定点|互联网|线上|网络|云"
    r"|[黔川滇粤鲁晋豫冀湘鄂赣皖苏浙闽桂琼陕甘陇青宁新藏蒙辽吉黑京津沪渝])+"
)
#: one token of :data:`_LEAD_NOISE`
_LEAD_NOISE_ONE = re.compile(_LEAD_NOISE.pattern[1:-1])
_PLURAL_BEFORE = re.compile(
    r"(?:[\d一二三四五六七八九十百两几多数]+|若干|部分|所有|全部|各)\s*(?:家|所|个|座)?\s*$"
)
#: a list number in front of a name at the start of a line: "1 ", "2.", "(3)", "四、"
_ENUMERATOR = re.compile(r"\s*[(]?(?:\d{1,3}|[一二三四五六七八九十]{1,3})\s*[.、)]?\s*")
_NUMERALS = set("一二三四五六七八九十")
_TOWNSHIP_SUFFIXES = {
    "卫生院",
    "卫生所",
    "中心卫生院",
    "社区卫生服务中心",
    "卫生服务中心",
    "社区卫生服务站",
    "卫生服务站",
    "社区卫生中心",
}
_ADMIN_WORDS = {
    "城市",
    "都市",
    "本市",
    "全市",
    "我市",
    "该市",
    "城区",
    "市区",
    "社区",
    "辖区",
    "园区",
    "本县",
    "全县",
    "我县",
    "该县",
    "各县",
    "郊区",
    "老区",
    "山区",
    "景区",
    "新区",
    "街区",
    "片区",
    "省市",
    "县市",
    "全省",
    "本省",
    "我省",
    "该省",
    "各省",
    "外省",
    "外市",
    "外县",
    "各市",
    "各区",
    "城县",
    "全区",
    "本区",
    "我区",
    "该区",
    "矿区",
    "林区",
    "牧区",
    "湾区",
    "特区",
    "灾区",
    "校区",
    "院区",
}
#: a whole town / street name in front of a township suffix: 新市镇, 下渚湖街道 (not 市人民)
_TOWN_NAME = re.compile(r"[\u4e00-\u9fff]{1,4}(?:镇|乡|街道)")
_TOWNSHIP_NAME = re.compile(
    r"[\u4e00-\u9fff]{1,4}(?:镇|乡|街道)(?:中心卫生院|卫生院|卫生所|社区卫生服务中心|卫生服务中心"
    r"|社区卫生服务站|卫生服务站)"
)
_COUNTED = re.compile(
    r"(?:[\d一二三四五六七八九十两几多数]+|各|每|首)(?:家|所|个|间|座|大)(?:乡镇|[省市县区乡镇])?$"
)
#: words that describe hospitals rather than name one: 山西省知名医院, 太原北部地区省直三甲综合医院
_DESCRIPTIVE = re.compile(
    r"紧密型|松散型|知名|大型|优质|高水平|一流|三甲|三级|二甲|二级|省直|市直|县级|市级|省级|区级|基层|各级"
    r"|周边|当地|辖区|地区|公立|民营|综合性|大量|众多|许多|部分|兄弟|届|县市区|市县区|县市|市县"
)
_COMMON_VERB = 5000
#: words that end a name right before its suffix: X联合医院, X协和医院, X中心医院
_NAME_FINAL = {"联合", "合作", "协和", "中心", "共建"}
_ADMIN_END = set("省市县区州旗盟")
#: districts whose names are also common words (not in the gazetteer's name index)
_CITY_DISTRICTS = {"城区", "郊区", "矿区", "东区", "西区", "南区", "北区", "中区"}
_SPECIALTY_WORDS = (
    "中西医",
    "中医",
    "妇幼",
    "儿童",
    "妇女",
    "肿瘤",
    "口腔",
    "眼科",
    "精神",
    "传染",
    "胸科",
    "骨科",
    "康复",
    "护理",
    "老年",
    "妇产",
    "心血管",
    "皮肤",
    "结核",
    "职业病",
    "蒙医",
    "藏医",
)
_QUOTE = re.compile(r"“[^“”\n]{1,40}”|\"[^\"\n]{1,40}\"|「[^「」\n]{1,40}」")
_BOOK = re.compile(r"《[^《》\n]{1,60}》")
#: a quoted name is a plaque (a title conferred), not an institution: "授予“X协作医院”牌匾";
#: but "“A集团B医院”正式揭牌" unveils an institution, which stays one
_PLAQUE_AFTER = re.compile(r"^.{0,3}(?:牌匾|牌子|匾额|称号|字样|铜牌|(?<![揭挂授])牌(?![仪式]))")
_PLAQUE_BEFORE = re.compile(
    r"(?:授予|颁发|挂牌为|授牌|命名为|挂牌|牌匾|揭牌|更名为|加挂|为|给|向)[^。,;]{0,6}$"
)
_PLAQUE_ROLE = re.compile(
    r"(?:单位|成员|协作医院|合作医院|指导医院|基地|中心|分中心|工作站|联盟|医联体"
    r"|(?:医联体|联盟|集团|医共体)(?:成员)?(?:医院|单位))$"
)
_PLAQUE_UNVEILED = re.compile(r"^.{0,3}(?:授牌|揭牌|挂牌)")
_GOV = re.compile(r"(?:人民)?政府")
#: the writer's own hospital; a bare 医院 opening a sentence ("医院与X签署协议") is one too
_PRONOUN = re.compile(
    r"我院|本院|我们医院|该院|我们院|(?:^|(?<=[\n。!?;,:]))医院(?=与|和|同)", re.M
)
_ALIAS_DECL = re.compile(
    r"^\s*[(（]\s*(?:以下)?(?:简称|下称)\s*[:：]?\s*[“\"]?([\u4e00-\u9fffA-Za-z0-9]{2,12})[”\"]?\s*[)）]"
)
_PAREN_OPEN = re.compile(r"\s*[(（]\s*")
_PAREN_CLOSE = re.compile(r"\s*[)）]")
_ROLE_WORDS = r"(?:总院|总医院|牵头医院|牵头单位|龙头医院|核心医院)"
#: a role noun right before a parenthesised name: 医共体总院(德清县人民医院)
_ROLE_DECL = re.compile(
    r"(?P<role>(?:医共体|医联体|医疗集团|集团|联盟)?" + _ROLE_WORDS + r")\s*[(（]\s*$"
)


@lru_cache(maxsize=64)
def _role_pattern(role_word: str) -> re.Pattern[str]:
    """The declared role noun, or its bare core (医共体总院 -> 总院), not inside a longer name."""
    core = re.search(_ROLE_WORDS + "$", role_word)
    options = [re.escape(role_word)]
    if core is not None and core.group() != role_word:
        options.append(re.escape(core.group()))
    return re.compile(r"(?:(?<![\u4e00-\u9fff])|(?<=[为由与和]))(?:" + "|".join(options) + ")")


_RENAMED = re.compile(r"^\s*[(（]\s*(?:现名|原名|现更名为|已更名为|更名为|现|原)\s*[:：]?\s*")
#: "叙永县人民医院挂牌为“泸州医学院附属医院叙永医院”": one hospital under a second name
_NAMED_AS = re.compile(r"^\s*(?:正式)?(?:挂牌为|更名为|加挂|命名为)\s*[“\"「]?")
_PERSON_TITLE = re.compile(r"长|主任|书记|委员|副|处|局|院长|医生|专家")
_LIST_SUFFIX = re.compile(r"社区卫生服务中心|社区卫生服务站|中心卫生院|卫生院")
#: the list right before a shared suffix (searched up to the suffix, so "$" is the suffix)
_LIST_BEFORE = re.compile(
    r"((?:[\u4e00-\u9fff]{2,5}(?:、|和|及))+[\u4e00-\u9fff]{2,5})(?:等)?\s*"
    r"([\d一二三四五六七八九十两]+\s*(?:个|家|所))?$"
)


@dataclass
class Mention:
    start: int
    end: int
    name: str
    kind: str = "name"  # name | pronoun | gov | alias
    plaque: bool = False
    in_title_doc: bool = False
    plural: bool = False
    place_stem: str = ""  # for gov mentions: 叙永县 / 向阳镇
    inst: int = -1  # institution index after resolution
    parent: str | None = None  # a co-built hospital's parent: 河南省妇幼保健院(邓州医院)


@dataclass
class Institution:
    index: int
    names: list[str]
    name: str = ""
    place: Place = field(default_factory=Place)
    level: float = 2.5
    count: int = 0
    relative: bool = False  # only known as 市人民医院 and the like
    branch_of: int | None = None  # a branch (…分院) of another institution
    built_by: int | None = None  # a hospital another one co-builds: 河南省妇幼保健院(邓州医院)

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(sorted({n for n in self.names if n != self.name}))


def _is_name_char(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch.isascii() and ch.isalnum()


def _protected(text: str, pos: int, s: int) -> bool:
    """Whether the stop character at ``pos`` belongs to a place or known name before ``s``.

    Names of any length count: 印江土家族苗族自治县 (家), 察哈尔右翼前旗 (前), 延边朝鲜族自治州 (朝).
    """
    words = _protected_words()
    # a two-character name may start with the stop character only where a word cannot end
    # before it: 与和县人民医院 (not 县医院和县人民医院)
    fresh = pos == 0 or not _is_name_char(text[pos - 1]) or text[pos - 1] in _STRONG_STOP
    if fresh and text[pos : pos + 2] in _stop_initial_names() and pos + 2 <= s:
        return True
    for a in range(max(0, pos - 4), pos + 1):
        for b in range(max(pos + 1, a + 3 if a == pos else a + 2), min(s, a + 7) + 1):
            if text[a:b] in words:
                return True
    # longer admin names (they end in 县 / 州 / 旗 / 区 ...)
    g = gazetteer()
    for b in range(pos + 1, min(s, pos + g.max_len) + 1):
        if text[b - 1] not in _ADMIN_END:
            continue
        for a in range(max(0, b - g.max_len), pos + 1):
            if (a < pos or b - a >= 3) and text[a:b] in g.full:
                return True
    return False


@lru_cache(maxsize=1)
def _stop_initial_names() -> frozenset[str]:
    """Two-character admin names that start with a stop character: 和县, 随县."""
    return frozenset(
        n for n in gazetteer().full if len(n) == 2 and n[0] in _STRONG_STOP | _WEAK_STOP
    )


@lru_cache(maxsize=1)
def _protected_words() -> frozenset[str]:
    g = gazetteer()
    words = {n for n in g.full if len(n) >= 3 or n[0] not in _STRONG_STOP | _WEAK_STOP}
    words |= {n for n in g.alias if len(n) >= 2 and n[0] not in "和同向以为从共"}
    words |= {prefix for prefix, _, _ in g.known}
    return frozenset(words)


_PREPOSITIONS = set("与和及到在对向为由给从跟把被让使等并也就这该其我们了的是或还又已即据至于着著")
_SEPARATORS = set("、,，;；:： \n")


def _town_continues(text: str, i: int, s: int, township: bool) -> bool:
    """六都寨镇卫生院 / 曾店镇卫生院: a stop character inside a town name after a list comma."""
    if not township:
        return False
    marker = 2 if text[s - 2 : s] == "街道" else 1
    if s - marker - (i - 1) <= 2 and text[i - 1] not in _STRONG_STOP and text[s - 2 : s] != "乡镇":
        return True  # a town's name has at least two characters: 中和街道, 和平镇
    if text[i - 1] in _PREPOSITIONS:
        return False
    g = gazetteer()
    for d in range(2, 6):
        j = i - d
        if j < 0:
            return True
        c = text[j]
        if c in _SEPARATORS and d < 5:
            return True
        if c in "区县市旗" and any(text[max(0, j + 1 - n) : j + 1] in g.full for n in range(2, 8)):
            return True  # 开福区伍家岭街道: the town follows its county
        if not ("\u4e00" <= c <= "\u9fff") or c in _PREPOSITIONS:
            return False
    return False


_UNIVERSITY_INNER = re.compile(r"学院|附属")


def _university_continues(text: str, i: int, s: int, ch: str) -> bool:
    """华中科技大学同济医学院附属协和医院: a weak stop right after 大学 inside a
    university's faculty-and-hospital chain is a name character."""
    return (
        ch in _WEAK_STOP
        and text[max(0, i - 3) : i - 1] == "大学"
        and bool(_UNIVERSITY_INNER.search(text, i, s))
    )


def _scan_prefix(text: str, s: int, floor: int, township: bool = False) -> int:
    i = s
    limit = max(floor, s - 26)
    while i > limit:
        ch = text[i - 1]
        if not _is_name_char(ch):
            break
        stop = ch in _STRONG_STOP or (
            ch in _WEAK_STOP and s - i >= 2 and text[i - 1 : i + 1] not in nouns()
        )
        if ch == "有" and text[i : i + 1] == "限":
            stop = False  # 有限公司职工医院
        if (
            stop
            and not _protected(text, i - 1, s)
            and not _town_continues(text, i, s, township)
            and not _university_continues(text, i, s, ch)
        ):
            break
        i -= 1
    return i


@lru_cache(maxsize=8192)
def _trim_prefix(prefix: str, before: str = "") -> str:
    window = before + prefix
    places = _place_spans(window)
    ends = [
        m.end()
        for m in _STOPWORDS.finditer(window)
        if not any(a <= m.start() and m.end() <= b for a, b in places)  # 达尔罕茂明安联合旗
        and not (
            m.group() in _NAME_FINAL
            and (
                m.end() == len(window)  # 新北市立联合医院
                or window.startswith("医院", m.end())
            )
        )
    ]
    verbs = function_words()
    g = gazetteer()
    for k in range(len(window) - 1):
        freq = verbs.get(window[k : k + 2], 0)
        if window[k : k + 2] in g.alias:
            continue  # 大连大学, 开封市: a place's short name, whatever else the word can be
        # a very common verb wins over a two-character county it overlaps: 提高县医院 (高县)
        if freq and not any(
            a < k + 2 and k < b and (b - a > 2 or freq < _COMMON_VERB) for a, b in places
        ):
            ends.append(k + 2)
    ends.sort()
    if ends and ends[-1] > len(before):
        prefix = window[ends[-1] :]
    # dates and fillers in front, but not the start of a place: 日喀则市, 日照市, 原平市
    while not _full_place_len(prefix):
        noise = _LEAD_NOISE_ONE.match(prefix)
        if noise is None or not noise.end():
            break
        prefix = prefix[noise.end() :]
    # slogans before the first admin name: 促健康桂林市 -> 桂林市
    if len(prefix) >= 4:
        g = gazetteer()
        for j, ch in enumerate(prefix):
            if ch not in _ADMIN_END or j < 2:
                continue
            if prefix[: j + 1] in g.full:
                return prefix  # the name already starts with this place: 太和县 (not 和县)
            for length in range(min(g.max_len, j), 1, -1):
                k = j + 1 - length
                if k >= 1 and prefix[k : j + 1] in g.full:
                    head = prefix[:k]
                    if not _is_place_chain(head) and not re.search(
                        r"大学|学院|附属|医科|集团", head
                    ):
                        return prefix[k:]
                    return prefix
    return prefix


def _is_place_chain(s: str) -> bool:
    """Whether ``s`` is made only of admin names: 广东省, 四川省成都市."""
    g = gazetteer()
    while s:
        for length in range(min(g.max_len, len(s)), 1, -1):
            if s[:length] in g.full or s[:length] in PROVINCE_SHORT:
                s = s[length:]
                break
        else:
            return False
    return True


def _full_place_len(s: str) -> int:
    """Length of the longest full admin-division name at the start of ``s`` (0 if none)."""
    g = gazetteer()
    for length in range(min(g.max_len, len(s)), 1, -1):
        if s[:length] in g.full:
            return length
    return 0


def _place_spans(s: str) -> list[tuple[int, int]]:
    """Spans of the full admin-division names in ``s`` (longest match, left to right)."""
    g = gazetteer()
    out: list[tuple[int, int]] = []
    for end in range(2, len(s) + 1):
        if s[end - 1] not in _ADMIN_END:
            continue
        for length in range(min(g.max_len, end), 1, -1):
            start = end - length
            if s[start:end] in g.full:
                if out and start < out[-1][1] and start > out[-1][0]:
                    break  # overlaps the end of an earlier name only
                while out and out[-1][0] >= start:
                    out.pop()  # 唐山市 inside 唐山市汉沽管理区
                out.append((start, end))
                break
    return out


def _starts_with_place(s: str) -> bool:
    g = gazetteer()
    for length in range(min(g.max_len, len(s)), 1, -1):
        if s[:length] in g.full or s[:length] in PROVINCE_SHORT:
            return True
    return False


def is_generic(name: str, suffix: str) -> bool:
    prefix = name[: len(name) - len(suffix)]
    if not prefix:
        return True
    rest = prefix[_leading_place_len(prefix) :]
    if (
        (_DESCRIPTIVE.search(rest) or rest.endswith("化") and len(rest) <= 4)
        and len(rest) <= 8
        and not re.search(r"大学|学院|附属|医科", rest)
    ):
        return True  # 山西省知名医院, 市公立医院: what kind of hospital, not which one
    if _full_place_len(prefix):
        return (
            False  # a named place, even one that reads like generic words: 晋城市, 新城区, 任城区
        )
    return _GENERIC.fullmatch(prefix) is not None


def _abbrev_ok(prefix: str, suffix: str) -> bool:
    if (
        len(suffix) == 2
        and suffix[0] in "一二三四五六七八九"
        or suffix == "附院"
        or suffix.startswith("附")
        and len(suffix) == 3
    ):
        return bool(
            re.fullmatch(
                r"[\u4e00-\u9fff]{1,4}大|[省市县区]|[\u4e00-\u9fff]{1,5}(?:医大|医学院|大学)"
                r"|[\u4e00-\u9fff]{1,3}医",
                prefix,
            )
        )  # 泸医附院, 川医附院
    return True


def find_mentions(text: str) -> list[Mention]:
    """Institution names, pronouns (我院) and signing governments, in text order."""
    quotes = [(m.start(), m.end()) for m in _QUOTE.finditer(text)]
    books = [(m.start(), m.end()) for m in _BOOK.finditer(text)]
    quote_starts, book_starts = [q[0] for q in quotes], [b[0] for b in books]
    out: list[Mention] = []
    suffix_ends: list[int] = []
    matches = list(_SUFFIX.finditer(text))
    for m in matches:
        suffix_ends.append(m.end())
    for idx, m in enumerate(matches):
        s, e = m.start(), m.end()
        suffix = m.group()
        floor = 0
        # do not run across an earlier complete name unless it is a group / branch
        for j in range(idx - 1, -1, -1):
            prev = matches[j]
            if prev.end() <= s - 27:
                break
            if prev.end() <= s:
                if prev.group().endswith(_CROSSABLE_INNER) or suffix.endswith(_CROSSING_OUTER):
                    continue
                floor = prev.end()
                break
        township = suffix in _TOWNSHIP_SUFFIXES and (
            text[s - 1 : s] in ("镇", "乡") or text[s - 2 : s] == "街道"
        )
        i = _scan_prefix(text, s, floor, township)
        prefix = _trim_prefix(text[i:s], text[max(floor, i - 3) : i])
        # 中县二医院 -> 县二医院: one stray character before an admin-relative name
        if (
            len(prefix) >= 2
            and prefix[1] in "省市县区"
            and not _full_place_len(prefix)
            and prefix[:2] not in _ADMIN_WORDS
            and not _TOWN_NAME.fullmatch(prefix)
        ):
            prefix = prefix[1:]
        start = s - len(prefix)
        if suffix in ("分院", "院区"):
            # 博罗县医共体铁场分院: the group the branch belongs to is part of its name
            group = _GROUP_BEFORE.search(text, max(0, start - 14), start)
            head = _trim_prefix(group.group(1)) if group is not None else ""
            if group is not None and _starts_with_place(head):
                prefix = head + group.group(2) + prefix
                start = s - len(prefix)
        if not _abbrev_ok(prefix, suffix):
            continue
        name = prefix + suffix
        if is_generic(name, suffix) or _COUNTED.search(prefix):
            continue
        if len(prefix) == 1 and prefix not in "省市县区" and len(suffix) <= 3:
            continue  # 组建成总医院: one stray character is not a name
        if len(prefix) == 2 and prefix[0] in "省市县区" and prefix[1] in _STRONG_STOP | _WEAK_STOP:
            continue  # 我市继妇幼保健院后: "市" and a function word
        if prefix[0] in "一两几" and not _starts_with_place(prefix):
            continue  # 彰显了一方医院的仁心: a number, not a name
        if "远程" in name:
            continue  # 敦化市远程医学中心: a hospital's facility, not an institution
        if (
            suffix.endswith("中心")
            and not suffix.endswith("卫生服务中心")
            and not (_starts_with_place(name) or re.search(r"大学|医学院|医科|附属", name))
        ):
            continue
        mention = Mention(start, e, name)
        newline = text.rfind("\n", max(0, start - 12), start)
        at_line_start = (
            newline >= 0 and _ENUMERATOR.fullmatch(text[newline + 1 : start]) is not None
        )
        mention.plural = (
            bool(_PLURAL_BEFORE.search(text[max(0, start - 4) : start])) and not at_line_start
        )
        quote = _enclosing(quotes, quote_starts, start, e)
        if quote is not None:
            qs, qe = quote
            before = text[max(0, qs - 10) : qs]
            after = text[qe : qe + 5]
            if (
                _PLAQUE_AFTER.search(after)
                or _PLAQUE_BEFORE.search(before)
                or _PLAQUE_UNVEILED.search(after)
                and _PLAQUE_ROLE.search(text[qs + 1 : qe - 1])
            ):
                mention.plaque = True
        mention.in_title_doc = _enclosing(books, book_starts, start, e) is not None
        out.append(mention)
    out = _join_co_built(text, _drop_nested(out))
    for region, names in _distributed_lists(text):
        out = [x for x in out if not (region[0] <= x.start and x.end <= region[1])]
        out.extend(names)
    out.sort(key=lambda x: (x.start, -x.end))
    out.extend(_shared_suffix_lists(text, out))
    out.extend(_pronouns_and_governments(text))
    out.sort(key=lambda x: (x.start, -x.end))
    return _drop_nested(out)


_GROUP_BEFORE = re.compile(r"([\u4e00-\u9fff]{2,8}?)(医共体|医联体|医疗集团)$")
_CO_BUILT_GAP = re.compile(r"(?:医疗集团|医院集团|集团|医共体|医联体)?")
_CO_BUILT_SUFFIX = ("医院", "中医院", "中医医院", "妇幼保健院", "人民医院")


def _join_co_built(text: str, mentions: list[Mention]) -> list[Mention]:
    """ "河南省妇幼保健院邓州医院", "A医院集团邵阳县医院": a hospital that another one builds
    at a place, read as one name whose parent is the builder; "汝阳医院" listed right after such
    a name ("…邓州医院、汝阳医院") is built by the same parent."""
    out: list[Mention] = []
    last_parent: tuple[str, int] | None = None  # (parent name, end of the co-built mention)
    for m in mentions:
        prev = out[-1] if out else None
        gap = _CO_BUILT_GAP.match(text, prev.end) if prev is not None else None
        if (
            prev is not None
            and gap is not None
            and gap.end() == m.start
            and prev.parent is None
            and prev.kind == "name"
            and m.kind == "name"
            and _placed_hospital(m.name)
            and not prev.name.endswith(_GROUP + _BRANCH)
        ):
            # the hospital built is the local one (邓州医院, 双峰县中医医院); its builder is kept
            joined = Mention(
                prev.start,
                m.end,
                m.name,
                parent=prev.name,
                plaque=prev.plaque or m.plaque,
                in_title_doc=prev.in_title_doc,
            )
            out[-1] = joined
            last_parent = (prev.name, m.end)
            continue
        if (
            last_parent is not None
            and text[last_parent[1] : m.start] in ("、", "和", "及")
            and m.kind == "name"
            and _placed_hospital(m.name)
        ):
            m.parent = last_parent[0]
            last_parent = (last_parent[0], m.end)
        elif m.kind == "name" and m.name.endswith("医院") and _is_province(m.name[:-2]):
            continue  # "帮扶青海医院", "青海省医院": the hospitals of a province, not one of them
        whole = _CO_BUILT_WHOLE.match(m.name) if m.kind == "name" and m.parent is None else None
        if (
            whole is not None
            and _placed_hospital(whole.group(2))
            and len(whole.group(1)) >= 4
            and not _GENERIC_HOSPITAL.fullmatch(whole.group(1))
        ):
            m.name, m.parent = whole.group(2), whole.group(1)  # A医院集团邵阳县医院, one name
            last_parent = (m.parent, m.end)
        out.append(m)
    return out


_CO_BUILT_WHOLE = re.compile(
    r"^(.+?(?:医院|中医院))(?:医疗集团|医院集团|集团)?(.{2,8}(?:医院|中医院|中医医院))$"
)
_GENERIC_HOSPITAL = re.compile(r"(?:省|市|县|区)?(?:人民|中医|中心)?医院")


def _is_province(name: str) -> bool:
    return name in PROVINCE_SHORT or any(d.level == "P" for d in gazetteer().full.get(name, []))


def _placed_hospital(name: str) -> bool:
    """A place and a hospital suffix and nothing else: 邓州医院, 邵阳县医院, 福建医院."""
    for suffix in _CO_BUILT_SUFFIX:
        if name.endswith(suffix):
            head = name[: -len(suffix)]
            g = gazetteer()
            return bool(head) and (head in g.full or head in g.alias or head in PROVINCE_SHORT)
    return False


def _enclosing(
    spans: list[tuple[int, int]], starts: list[int], start: int, end: int
) -> tuple[int, int] | None:
    """The span (quote, book title) that holds [start, end), if any (spans do not nest)."""
    k = bisect.bisect_left(starts, start) - 1
    if k >= 0 and spans[k][0] < start and end < spans[k][1]:
        return spans[k]
    return None


def _drop_nested(mentions: list[Mention]) -> list[Mention]:
    mentions = sorted(mentions, key=lambda x: (x.start, -x.end))
    out: list[Mention] = []
    for m in mentions:
        if out and m.start >= out[-1].start and m.end <= out[-1].end:
            continue
        if out and m.start < out[-1].end:  # overlapping: keep the longer
            if m.end - m.start > out[-1].end - out[-1].start:
                out[-1] = m
            continue
        out.append(m)
    return out


def _shared_suffix_lists(text: str, existing: list[Mention]) -> list[Mention]:
    """驿城、文沃、焦山3个社区卫生服务中心 -> three names; 南环社区和水月寺社区卫生服务中心 -> two."""
    out: list[Mention] = []
    starts = [x.start for x in existing]
    for hit in _LIST_SUFFIX.finditer(text):
        m = _LIST_BEFORE.search(text, max(0, hit.start() - 48), hit.start())
        if m is None:
            continue
        items_text = m.group(1)
        suffix = hit.group()
        base = m.start(1)
        pos = 0
        parts = re.split(r"(、|和|及|与)", items_text)
        counted = m.group(2) is not None
        joined = "、" not in items_text and all(
            len(x) <= 5 for x in parts[::2]
        )  # 南环社区和水月寺社区
        if len(parts) < 5 and not counted and not joined or _PERSON_TITLE.search(items_text):
            continue  # "副镇长李银想、铁场卫生院": a person and one named health centre
        for part in parts:
            if part in ("、", "和", "及", "与"):
                pos += len(part)
                continue
            item = part
            start = base + pos
            pos += len(part)
            trimmed = _trim_prefix(item).lstrip("".join(_STRONG_STOP))
            start += len(item) - len(trimmed)
            if suffix.startswith("社区") and trimmed.endswith("社区"):
                trimmed = trimmed[:-2]  # 南环社区 + 社区卫生服务中心
            if not trimmed or len(trimmed) > 5 or _GENERIC.fullmatch(trimmed):
                continue
            k = bisect.bisect_right(starts, start) - 1
            if k >= 0 and existing[k].start <= start < existing[k].end:
                continue
            if trimmed.endswith(("卫生院", "医院", "中心")):
                continue
            out.append(Mention(start, start + len(trimmed), trimmed + suffix, kind="name"))
    return out


#: places sharing one kind of hospital: "修水县、武宁县、永修县三县人民医院", "修水、武宁、永修三县
#: 人民医院" (three hospitals); without a count, only a list of three or more
_DISTRIBUTED = re.compile(
    r"((?:[\u4e00-\u9fff]{2,5}?(?:、|和|及))+[\u4e00-\u9fff]{2,5}?)"
    r"(?:等)?(?:[两二三四五六七八九十\d]+个?(?P<level>[县市区旗]))?"
    r"(?P<kind>人民医院|中医医院|中医院|妇幼保健院|疾病预防控制中心)"
)


def _distributed_lists(text: str) -> list[tuple[tuple[int, int], list[Mention]]]:
    """Each place of a list before a shared hospital kind, as one name: the region the list
    covers, and the names (each spanning its place; the last one also the kind)."""
    found: list[tuple[tuple[int, int], list[Mention]]] = []
    for m in _DISTRIBUTED.finditer(text):
        kind, level, pos = m.group("kind"), m.group("level") or "", m.start(1)
        parts = re.split(r"(、|和|及)", m.group(1))
        if not level and len(parts) < 5:
            continue  # "与九江市和修水县人民医院": a city and one hospital
        names: list[Mention] = []
        for part in parts:
            if part in ("、", "和", "及"):
                pos += len(part)
                continue
            item = _trim_prefix(part).lstrip("".join(_STRONG_STOP))
            start = pos + len(part) - len(item)
            pos += len(part)
            place = item if _full_place_len(item) == len(item) else item + level
            if (
                not item
                or not level
                and item[-1] not in "县市区旗"
                or _full_place_len(place) != len(place)
            ):
                names = []
                break  # not every item is a place: an ordinary name
            names.append(Mention(start, start + len(item), place + kind))
        if len(names) >= 2:
            names[-1].end = m.end()
            found.append(((names[0].start, m.end()), names))
    return found


def _pronouns_and_governments(text: str) -> list[Mention]:
    out: list[Mention] = []
    for m in _PRONOUN.finditer(text):
        out.append(Mention(m.start(), m.end(), m.group(), kind="pronoun"))
    for m in _GOV.finditer(text):
        s = m.start()
        # the place right before 政府: a full admin name, or a town ending in 镇/乡
        g = gazetteer()
        found = None
        for length in range(min(g.max_len, s), 1, -1):
            if text[s - length : s] in g.full:
                found = (s - length, text[s - length : s])
                break
        if found is None and s >= 2 and text[s - 1] in "镇乡":
            i = s - 1
            while (
                i > max(0, s - 5)
                and "\u4e00" <= text[i - 1] <= "\u9fff"
                and text[i - 1] not in _STRONG_STOP
                and text[i - 1] not in _WEAK_STOP
            ):
                i -= 1
            if s - 1 - i >= 1:
                found = (i, text[i:s])
        if found is None:
            continue
        start, place = found
        out.append(Mention(start, m.end(), text[start : m.end()], kind="gov", place_stem=place))
    return out


# ---------------------------------------------------------------- resolution
_ORDINAL_AFFILIATED = re.compile(r"第([一二三四五六七八九十]+)附属")


def _key(name: str) -> str:
    # 第一附属医院 and 附属第一医院 are two orders of one name; 妇儿 is short for 妇女儿童
    name = name.replace("中医医院", "中医院").replace("妇女儿童", "妇儿")
    name = _GROUP_INFIX.sub("", name)  # 河津市医疗集团人民医院 is 河津市人民医院
    return _ORDINAL_AFFILIATED.sub(r"附属第\1", name)


_GROUP_INFIX = re.compile(
    r"(?<=[市县区旗])(?:医疗集团|医共体|医联体)(?=人民医院|中医院|妇幼保健院|第)"
)


@lru_cache(maxsize=8192)
def _short_place(name: str) -> str:
    """The name with its leading admin name written short: 长沙市妇幼保健院 -> 长沙妇幼保健院."""
    g = gazetteer()
    for length in range(min(g.max_len, len(name) - 1), 2, -1):
        divs = g.full.get(name[:length])
        if (
            divs
            and divs[0].level != "P"
            and len(divs[0].alias) >= 2
            and name[length] not in "省市县区"
        ):
            return divs[0].alias + name[length:]
    return name


def _numerals(s: str) -> set[str]:
    """Ordinal numerals of a name, not those of its place: 六安市第二人民医院 -> {二} (not 六)."""
    return {c for c in s[_leading_place_len(s) :] if c in _NUMERALS}


@lru_cache(maxsize=8192)
def _leading_place_len(s: str) -> int:
    """Length of the chain of place names (full or short: 四川, 九江市, 三亚) that starts ``s``."""
    g = gazetteer()
    pos = 0
    while pos < len(s):
        for length in range(min(g.max_len, len(s) - pos), 1, -1):
            part = s[pos : pos + length]
            if part in g.full or part in g.alias or part in PROVINCE_SHORT:
                pos += length
                break
        else:
            break
    return pos


def _specialties(s: str) -> set[str]:
    found = set()
    for w in _SPECIALTY_WORDS:
        if w in s:
            found.add(w)
            s = s.replace(w, "")
    return found


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


_PROVINCE_PREFIX = re.compile(
    "^(?:" + "|".join(PROVINCE_SHORT) + ")(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)"
)


@lru_cache(maxsize=8192)
def _strip_province(name: str) -> str:
    m = _PROVINCE_PREFIX.match(name)
    if m and len(name) > m.end() + 3:
        rest = name[m.end() :]
        if _starts_with_place(rest):
            return rest
    return name


@dataclass(frozen=True)
class _Feat:
    key: str
    numerals: frozenset[str]
    specialties: frozenset[str]
    kind: int  # 1 branch, 2 group, 0 other


@lru_cache(maxsize=8192)
def _feat(name: str) -> _Feat:
    key = _key(_strip_province(name))
    kind = 1 if key.endswith(_BRANCH) else 2 if key.endswith(_GROUP) else 0
    return _Feat(key, frozenset(_numerals(key)), frozenset(_specialties(key)), kind)


@lru_cache(maxsize=65536)
def same_institution(a: str, b: str) -> bool:
    """Whether two names in one article designate the same institution."""
    if _general_abbreviation(a, b) or _general_abbreviation(b, a):
        return True
    return _same_feat(_feat(a), _feat(b))


#: a general hospital written short, as Taiwan writes them: 三总 (三军总医院), 荣总 (荣民总医院)
_GENERAL_SHORT = re.compile(r"[\u4e00-\u9fff]总")


def _general_abbreviation(short: str, name: str) -> bool:
    return (
        _GENERAL_SHORT.fullmatch(short) is not None
        and name.endswith("总医院")
        and short[0] in name[:-3]
    )


def _same_feat(fa: _Feat, fb: _Feat) -> bool:
    a, b = fa.key, fb.key
    if a == b or _short_place(a) == _short_place(b):
        return True  # 长沙妇幼保健院 = 长沙市妇幼保健院
    county_a, county_b = a.replace("县人民医院", "县医院"), b.replace("县人民医院", "县医院")
    if a.endswith("医院") and (
        county_a == county_b or _short_place(county_a) == _short_place(county_b)
    ):
        return True  # 迭部县医院 = 迭部县人民医院 = 迭部医院: a county's hospital is its people's
    if fa.kind != fb.kind or fa.numerals != fb.numerals:
        return False
    if len(a) <= len(b):
        short, long, fs, fl = a, b, fa, fb
    else:
        short, long, fs, fl = b, a, fb, fa
    if short[0] not in "省市县区" and short[0] != long[0]:
        return len(short) >= 4 and long.endswith(short)
    if len(short) >= 4 and long.endswith(short) and short[0] not in "省市县区":
        return True
    if fs.specialties != fl.specialties:
        return False
    if short[0] in "省市县区":
        k = long.find(short[0])
        if k <= 0 or not _starts_with_place(long[: k + 1]):
            return False
        rest = long[k + 1 :]
        s_rest = short[1:]
        inner = _full_place_len(rest)
        if inner and not s_rest.startswith(rest[:inner]):
            return False  # 市人民医院 is not 衢州市柯城区人民医院 (a district's hospital)
        return s_rest == rest or (
            len(s_rest) >= 2 and _subsequence(s_rest, rest) and s_rest[-1] == rest[-1]
        )
    if len(short) >= 4 and long.endswith(short):
        return True
    if 3 <= len(short) <= 8 and short[0] == long[0] and short[-1] == long[-1]:
        place = _leading_place_len(short)
        if place and _leading_place_len(long) > place and long.startswith(short[:place]):
            return False  # 衢州市人民医院 is not 衢州市柯城区人民医院 (a place inside it)
        if _without_affiliation(long) == short:
            return True  # 南京儿童医院 = 南京医科大学附属儿童医院
        if not _ABBREVIATION_CORE.search(_abbreviation_core(short)):
            return False  # 台安医院 is not 台南市立安南医院, 敦化市医院 not 敦化市林业医院
        return _subsequence(short, long) and len(short) < len(long)
    return False


#: what the middle of an abbreviation is made of: 山大二院, 哈医大二院, 北医三院, 湘雅二医院
_ABBREVIATION_CORE = re.compile(r"[大医附一二三四五六七八九十]")


_AFFILIATION = re.compile(
    r"^[\u4e00-\u9fff]{0,6}?(?:大学|学院)(?:[\u4e00-\u9fff]{0,4}?学院)?(?:附属|附设)"
)


def _without_affiliation(name: str) -> str:
    """南京医科大学附属儿童医院 -> 南京儿童医院: the place and what follows the affiliation."""
    place = _leading_place_len(name)
    return name[:place] + _AFFILIATION.sub("", name[place:])


def _abbreviation_core(name: str) -> str:
    """The part of a short name between its place and its suffix: 哈医大二院 -> 哈医大二."""
    core = name[_leading_place_len(name) :]
    for suffix in ("医院", "院"):
        if core.endswith(suffix):
            return core[: -len(suffix)]
    return core


_BRANCH = ("分院", "院区")
_GROUP = ("医疗集团", "医院集团", "医疗健康集团", "健康集团")
_INNER = re.compile(r"^(.+?(?:医院|卫生院|医疗集团|医学中心|医疗中心|防治中心))")
_INNER_HOSPITAL = re.compile(
    r"^(.+?(?:医院|医学中心|医疗中心|防治中心|(?<=[大医])[一二三四五六七八九]院))"
)


def branch_parent(name: str) -> str | None:
    """天津市肿瘤医院德州分院 -> 天津市肿瘤医院; X医院城市医疗集团 -> X医院 (named after it);
    三总澎湖分院 -> 三总 (a general hospital written short)."""
    if name.endswith(_BRANCH):
        short = _GENERAL_SHORT.match(name)
        if short is not None and _leading_place_len(name[2:-2]) == len(name) - 4 > 0:
            return short.group()
        m = _INNER.match(name[:-2])
    elif name.endswith(_GROUP):
        suffix_len = next(len(g) for g in _GROUP if name.endswith(g))
        m = _INNER_HOSPITAL.match(name[:-suffix_len])
        if m is None and name.endswith("医院集团"):
            m = _INNER_HOSPITAL.fullmatch(name[:-2])  # 北京儿童医院集团: 北京儿童医院's group
    else:
        return None
    if m is None or len(m.group(1)) > len(name) - 2:
        return None
    parent = m.group(1)
    suffix = next((x.group() for x in _SUFFIX.finditer(parent) if x.end() == len(parent)), None)
    if suffix is not None and is_generic(parent, suffix):
        return None
    return parent


_GOV_PREFERENCE = ("人民医院", "医疗集团", "总医院", "医院", "中医院", "中心卫生院", "卫生院")


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
    institutions: list[Institution]


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
    institutions: list[Institution] = []
    root_to_inst: dict[int, int] = {}
    counts = Counter(m.name for m in mentions if m.kind in ("name", "alias") and not m.plaque)
    for root, group in sorted(groups.items()):
        inst = Institution(index=len(institutions), names=group)
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
    text: str, mentions: list[Mention], institutions: list[Institution]
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
    stem: str, institutions: list[Institution], mentions: list[Mention]
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
