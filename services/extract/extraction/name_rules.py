"""What an institution's name is made of, for the scanners: its suffixes (医院, 卫生院,
社区卫生服务中心, ...), the stop words and slogans that end a name on its left, plaques,
enumerations and places in front of a name; and the records found names become
(:class:`Mention`, :class:`ArticleInstitution`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .lexicon import function_words
from .places import PROVINCE_SHORT, Place, gazetteer

#: (the lookahead names every character a suffix begins with: the same matches, but the
#: engine skips the text between them instead of trying each alternative at every position)
_SUFFIX = re.compile(
    r"(?=[社卫中保妇计医健精急康防疗总院分附一二三四五六七八九])(?:"
    r"社区卫生服务中心|社区卫生服务站|卫生服务中心|卫生服务站|社区卫生中心|中心卫生院|卫生院|保健所|卫生所"
    r"|妇幼保健计划生育服务中心|计划生育服务中心|妇幼保健院|妇幼保健所|妇幼保健中心"
    r"|医疗健康集团|医疗事业集团|医疗集团|医院集团|健康集团|医疗健康总院|健康总院"
    r"|精神卫生中心|医学中心|医疗中心|急救中心|康复中心|防治中心|疗养院|卫生室"
    r"|总医院|中医院|医院|总院|分院|院区|附院|附[一二三四五六七八九]院|(?<=大)[一二三四五六七八九]院"
    r"|(?<=[省市县区])[一二三四五六七八九]院)"
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
    "|开建|筹建|兴建|援建|迁建|续建|拟建|在建"
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


#: "(?:人民)?政府" written as two literals (the same matches): the engine then skips ahead to
#: 人 or 政 instead of trying the optional group at every position
_GOV = re.compile(r"人民政府|政府")


#: the writer's own hospital; a bare 医院 opening a sentence ("医院与X签署协议") is one too
_PRONOUN = re.compile(
    # the lookahead (every first character of a match) only makes the search faster
    r"(?=[我本该医])(?:我院|本院|我们医院|该院|我们院|(?:^|(?<=[\n。!?;,:]))医院(?=与|和|同))",
    re.M,
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
class ArticleInstitution:
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


@lru_cache(maxsize=8192)  # pure, and called again for each repeated name
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


_BRANCH = ("分院", "院区")


_GROUP = ("医疗集团", "医院集团", "医疗健康集团", "健康集团")
