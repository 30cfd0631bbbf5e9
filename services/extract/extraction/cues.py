"""The language of alliance reports, as patterns over sentence templates.

A template is a sentence with every institution replaced by ``〔k〕`` (k its index in the
sentence), so that a pattern speaks of roles and never of the words inside names: "联合医院"
holds no 联合, "托管中心" no 托管. Patterns are grouped by what they tell:

- formation: a trigger verb (签约, 揭牌, 成立, 加入, 托管 ...) and an alliance noun (医联体,
  联盟, 医共体, 分院, 对口支援 ...);
- modality: the clause before the trigger says the formation is planned, intended, recalled
  or renewed, not reported;
- roles: explicit cues of who leads (以A为核心, A牵头, A托管B, A为B授牌, B加入A…, B成为A的
  协作医院, A对口支援B) and who joins;
- structure: pairwise lists ("A和B、C和D分别签署").
"""

from __future__ import annotations

import re

#: one institution, and a coordinated list of them
ONE = r"〔\d+〕"
LIST = r"〔\d+〕(?:(?:、|和|及|与|以及|,|暨|同)〔\d+〕)*"
ID = re.compile(r"〔(\d+)〕")
#: characters a cue may skip over inside one clause (no other institution, no clause break)
_GAP = r"[^〔,。;:!?]"

TRIGGER = re.compile(
    r"签约|签订|签署|签下|授牌|挂牌|揭牌|揭幕|成立|加入|加盟|组建|组成|建立|结成|缔结|结为|结盟|携手|牵手|托管|接管"
    r"|共建|启动|纳入|吸纳|吸收|正式成为|成为(?:"
    + _GAP
    + r"){0,12}(?:成员|单位|分院|医院|联盟)|落户|合作办医"
    r"|举行(?:" + _GAP + r"){0,12}仪式|扩容|新增|正式启用|投入使用|实现联网|接入|签字"
)
#: a signing or unveiling named inside a longer trigger ("举行…签约仪式")
SIGNING = re.compile(r"签约|签订|签署|授牌|挂牌|揭牌")
#: triggers that need an alliance noun in the sentence to report a formation
WEAK_TRIGGER = re.compile(
    r"启动|建立|携手|牵手|共建|组成|落户|扩容|新增|吸收|举行|正式|投入|实现|接入"
)

ALLIANCE_NOUN = re.compile(
    r"医联体|医疗联合体|联合体|联盟|医共体|共同体|医疗集团|医院集团|健康集团|协作网|分院|院区|协作医院|合作医院"
    r"|指导医院|托管|接管|对口支援|对口帮扶|帮扶|支援|战略合作|合作协议|协作协议|合作框架|框架协议|合作办医"
    r"|紧密型|分中心|基地|协作单位|成员单位|结对|远程(?:会诊|医疗|医学|影像|心电)(?:诊断)?中心"
)

#: words that put a whole sentence in the future: "今年还将…组建A医疗集团"
PLAN_SENTENCE = re.compile(r"将|拟|计划(?!生育)|即将|准备|筹备|筹建|规划|打算|力争|争取|有望|预计")
#: the clause before a trigger says it has not happened (yet)
PLAN = re.compile(
    r"将|拟|计划(?!生育)|即将|准备|有望|预计|力争|争取|筹备|筹建|规划|打算|意向|希望|期待|期望|下一步|今后|未来|鼓励"
    r"|要求|应当|应|须|可以|探索"
)
INTENTION = re.compile(
    r"初步达成|达成(?:" + _GAP + r"){0,8}意向|意向书|备忘录|洽谈|磋商|商谈|对接会|探索建立"
)
HISTORY = re.compile(
    r"早在|此前|之前|曾经|曾于|曾与|曾是|以来|多年来|近年来|近几年|年前|周年|回顾|前身|成立于|创建于|始建于"
    r"|组建于|至今|先后与|相继与|原有|已有|历史|去年|前年|上年|的(?:精心|大力|全力)?(?:托管|帮扶|支持|指导|帮助|带领|支援)下"
)
#: what right after a trigger makes it history: "医联体成立五周年", "成立以来", "签约后"
HISTORY_AFTER = re.compile(
    r"[\d一二三四五六七八九十]+周年|以来|至今|[\d一二三四五六七八九十]+年来|下(?![属设辖])"
    r"|(?:仪式|大会|活动)?(?:结束|完成)?(?:后|之后|以后)(?![,])"
)
RENEWAL = re.compile(r"续签|续约|重新签订|再次签约")
#: 签约 / 托管 of things that are not alliances between medical institutions
NEGATIVE_DOMAIN = re.compile(
    # the lookahead (every first character of a match) only makes the search faster
    r"(?=[家签医养托幼招采中收并股更认物保食敬老福项专名院])(?:"
    r"家庭医生|签约服务|签约居民|签约率|签约医生|签约对象|医养结合|养老|托育|幼儿园|招聘|招标|采购|中标|收购"
    r"|并购|股权|更名|认证|物业|保洁|食堂|敬老院|老年公寓|福利院|项目(?:签约|合作协议|协议)"
    r"|(?:专家|名医|院士)工作(?:站|室))"
)
POLICY_TITLE = re.compile(
    r"(?:印发|关于).{0,60}(?:方案|通知|意见|办法|规划|细则|指南|要点)|实施方案|工作方案|指导意见|实施意见"
)
POLICY_HEADING = re.compile(
    r"(?m)^\s*[一二三四五六七八九十]+、\s*(?:工作目标|总体要求|指导思想|基本原则|重点任务|主要任务|保障措施"
    r"|组织实施|工作任务|实施步骤|主要目标|总体目标|建设目标|工作要求)"
)
#: a hospital named as a university's or college's affiliated hospital: 院校合作, no alliance
AFFILIATION = re.compile(
    r"(?:学院|大学)附属[^,。]{2,20}?医院(?:揭牌|挂牌)|共建(?:直属)?附属医院|教学医院(?:揭牌|挂牌)"
)
#: a signatory that is a government, naming an alliance: "A与X县人民政府共建医联体"
GOVERNMENT_PARTY = re.compile(
    r"(?:政府|县府|卫健委|卫健局|卫生局)"
    + _GAP
    + r"{0,12}?(?:与|和|同)(?P<a>"
    + ONE
    + r")|(?P<b>"
    + ONE
    + r")"
    + _GAP
    + r"{0,12}?(?:与|和|同)"
    + _GAP
    + r"{0,12}?(?:政府|县府|区)"
)
#: a regional medical centre built with a government is a construction project, not an alliance
REGIONAL_CENTRE = re.compile(
    # the lookahead (every first character of a match) only makes the search faster
    r"(?=[区华东西南北国])(?:"
    r"区域性?(?:[\u4e00-\u9fff]{0,6})(?:医疗|医学|病)中心|[华东西南北]{2}分中心"
    r"|国家[\u4e00-\u9fff]{0,8}(?:医学|病|医疗)中心)"
)
STRONG_ALLIANCE = re.compile(r"医联体|医疗联合体|联合体|联盟|医共体|共同体|医疗集团|托管")
#: parties that are not medical institutions: companies, governments, associations
COMPANY = re.compile(
    r"公司|股份|有限|科技|企业|集团有限|华为|移动|电信|联通|银行|保险|药业|地产|投资|控股"
)
GOVERNMENT = re.compile(
    r"政府|卫健委|卫生健康委|卫健局|卫生局|卫计委|卫生厅|管委会|协会|学会|基金会|学院(?!附属)"
)
PROJECT = re.compile(r"项目|工程|课题|基金")
#: a policy cited as the basis of what is reported: "按照县政府印发的…方案"
POLICY_CITED = re.compile(r"按照|根据|依据|落实|遵照|贯彻")
#: words every role cue holds one of: a sentence without any has no cue to read
ROLE_WORDS = re.compile(
    r"牵头|领衔|发起|倡议|核心|龙头|主体|依托|主导|总医院|总院|理事|委员|主席|盟主|牵头|托管|接管|授|颁|揭牌|挂牌"
    r"|加入|成为|作为|成员|分院|协作|合作|联盟|帮扶|支援|指导|扶持|派|给予|借助|接受|得到|发挥|利用|共享|引进|输出"
    r"|整合|联合|吸纳|纳入|覆盖|联网|互联|连通|接入|联入|获|基地|中心|工作站|院区|在"
)
#: the structure of an alliance being described: "由A牵头, 成员单位包括B、C"
STRUCTURE = re.compile(
    r"牵头|为核心|为龙头|为总医院|为总院|成员(?:单位|医院)?(?:包括|有|为|是)|理事长单位|发起"
)
#: a title that announces who formed what ("关于公布第一批城市医疗集团名单的通知") is no policy
LIST_NOTICE = re.compile(r"名单|公布|批复")
#: recruitment and procurement notices
NOTICE_TITLE = re.compile(r"招聘|招标|采购|中标|比选|询价|遴选公告|招募")
#: a meeting or a visit rather than a formation
MEETING = re.compile(
    r"召开|工作会|推进会|座谈会|研讨会|年会|论坛|调研|考察|参观|义诊|培训|讲座|交流会"
)

# ---------------------------------------------------------------- roles
#: explicit lead cues of one institution ("lead" group)
LEAD_UNARY = [
    re.compile(
        r"以(?P<lead>"
        + LIST
        + r")为(?:核心|龙头|牵头|主体|依托|总医院|总院|牵头医院|牵头单位|中心|主导"
        r"|龙头医院|核心医院|牵头方|发起单位)"
    ),
    re.compile(
        r"由(?P<lead>"
        + LIST
        + r")(?:等"
        + _GAP
        + r"{0,16}?)?(?:共同|联合)?(?:牵头|领衔|发起|主导|倡议"
        r"|为总医院|为总院|为龙头|为核心|作为牵头|担任牵头|任理事长)"
    ),
    re.compile(r"(?:发起人|发起单位|牵头人|牵头单位|盟主)[,:、]?(?P<lead>" + ONE + r")"),
    # "A将充分发挥其技术优势": the one whose strengths flow down
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")(?:将|要|会)?(?:充分|积极)?(?:发挥|利用|依托|输出|下沉)(?:其|自身|自己|本院)"
        + _GAP
        + r"{0,16}?(?:优势|优质资源|资源|技术|经验)"
    ),
    # whose strengths flow down: "充分发挥A的专业优势", "依托A的技术优势"
    re.compile(
        r"(?:发挥|依托|借助|利用|共享|引进|输出)(?P<lead>"
        + ONE
        + r")(?:的)?"
        + _GAP
        + r"{0,10}?(?:优势|优质资源|资源优势|技术|品牌|平台|专家团队)"
    ),
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")(?:与|和|联合|带领|携手|牵手|同)"
        + _GAP
        + r"{0,8}?(?:\d+|[一二三四五六七八九十两百]+"
        r"|多|数十|各)(?:家|所|个)"
        + _GAP
        + r"{0,14}?(?:医院|卫生院|医疗机构|医疗卫生机构|单位|卫生服务中心|成员)"
    ),
    re.compile(
        r"(?P<lead>"
        + LIST
        + r")(?:等?[两二三四五六七八九十\d]+家"
        + _GAP
        + r"{0,6}?)?(?:共同|联合|率先|主动)?"
        r"(?:牵头|领衔|发起成立|发起组建|发起|倡议成立)"
    ),
    re.compile(
        r"(?P<lead>" + LIST + r")(?:作为|为|任|担任|是|成为)(?:(?!副)" + _GAP + r"){0,20}?"
        r"(?:牵头单位|牵头医院|牵头机构|理事长单位|主任委员单位|主席单位|盟主单位|核心医院|龙头医院|总医院"
        r"|总院|牵头方|发起单位|发起人|轮值主席)"
    ),
]
#: what each pattern of LEAD_UNARY needs in a sentence, for :func:`.reading.read_cues` to skip it
#: where a sentence lacks it (most sentences, most patterns): every match of the pattern holds
#: one character of each string (tests/unit/extract/test_extract_cue_needs.py checks them)
LEAD_UNARY_NEEDS: tuple[tuple[str, ...], ...] = (
    ("以", "中主依发总核牵龙"),
    ("由",),
    ("发牵盟",),
    ("下依利发输", "其本自"),
    ("专优品平技资", "依借共利发引输"),
    ("个家所", "医单卫成"),
    ("倡发牵领",),
    ("主发总核牵理盟轮龙", "为任作成担是"),
)
#: explicit member cues of one institution ("mem" group)
MEMBER_UNARY = [
    re.compile(
        r"(?P<mem>"
        + LIST
        + r")(?:等"
        + _GAP
        + r"{0,10}?)?(?:正式|顺利|成功)?(?:作为|为|成为|列为|纳入|获评"
        r"|获授|被授予|获得|挂牌成为|挂牌为)"
        + _GAP
        + r"{0,14}?(?:成员单位|成员医院|成员|分院|协作单位"
        r"|联盟单位|理事单位|常务理事单位|副理事长单位|基层分院|区级分院|协作医院|合作医院|托管医院"
        r"|对口医院|医联体单位|指导医院|帮扶医院|受援医院|会员单位)"
    ),
    re.compile(r"(?P<mem>" + LIST + r")" + _GAP + r"{0,6}?(?:正式|成功|顺利|申请)?(?:加入|加盟)"),
    re.compile(r"(?:为|向|给)(?P<mem>" + LIST + r")" + _GAP + r"{0,10}?(?:授牌|颁发|颁授|授予)"),
    re.compile(r"(?:授予|颁发给|授牌给)(?P<mem>" + LIST + r")"),
    re.compile(r"(?:托管|接管|帮扶|支援|对口支援|对口帮扶)(?:了)?(?P<mem>" + LIST + r")"),
    re.compile(r"(?P<mem>" + LIST + r")(?:获|被)?(?:授牌|授予)"),
    re.compile(
        r"(?P<mem>"
        + LIST
        + r")(?:等)?"
        + _GAP
        + r"{0,12}?(?:接受|领取|获得|获颁)(?:了)?(?:授牌|牌匾|证书)"
    ),
    re.compile(
        r"(?P<mem>" + LIST + r")" + _GAP + r"{0,8}?(?:作为|为)(?:" + _GAP + r"){0,6}?成员单位代表"
    ),
    re.compile(r"(?P<mem>" + LIST + r")等" + _GAP + r"{0,12}?(?:成员|联盟单位|协作单位|分院)"),
    re.compile(r"成员(?:单位|医院)?(?:包括|有|为|是)(?::)?(?P<mem>" + LIST + r")"),
    # what it consists of: "集团由A、B和C组成" (its eponymous hospital still leads)
    re.compile(r"由(?P<mem>" + LIST + r")(?:等" + _GAP + r"{0,10}?)?(?:共同)?(?:组成|构成)"),
    re.compile(r"(?:整合|联合|吸纳|纳入|覆盖)(?P<mem>" + LIST + r")"),
    # who receives the support: "为B提供专家坐诊、业务培训等支持", "给予我院技术支持与指导"
    re.compile(
        r"为(?P<mem>"
        + LIST
        + r")(?:提供|带来)"
        + _GAP
        + r"{0,16}?(?:支持|指导|帮扶|支援|培训|坐诊)"
    ),
    re.compile(r"给予(?P<mem>" + LIST + r")" + _GAP + r"{0,12}?(?:支援|帮扶|支持|指导|扶持)"),
    # a network's sites: "首批与A、B实现联网", "A、B接入平台"
    re.compile(r"与(?P<mem>" + LIST + r")(?:实现|正式)?(?:联网|互联互通|连通)"),
    re.compile(r"(?P<mem>" + LIST + r")(?:等" + _GAP + r"{0,8}?)?(?:接入|联入)"),
]
#: what each pattern of MEMBER_UNARY needs in a sentence, for :func:`.reading.read_cues` to skip it
#: where a sentence lacks it (most sentences, most patterns): every match of the pattern holds
#: one character of each string (tests/unit/extract/test_extract_cue_needs.py checks them)
MEMBER_UNARY_NEEDS: tuple[tuple[str, ...], ...] = (
    ("为作列成挂纳获被",),
    ("加", "入盟"),
    ("为向给", "授颁"),
    ("授颁",),
    ("对帮托接支",),
    ("授",),
    ("授牌证", "接获领"),
    ("代", "位"),
    ("等", "分协成联"),
    ("员", "为包是有"),
    ("构组", "由"),
    ("吸整纳联覆",),
    ("为", "坐培帮指支"),
    ("给",),
    ("互联连", "与"),
    ("接联",),
)
#: explicit cues that say who leads whom, inside one template
DIRECTED = [
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")"
        + _GAP
        + r"{0,6}?(?:正式|全面|整体|委托)?(?:托管|接管)(?:了)?(?P<mem>"
        + LIST
        + r")"
    ),
    re.compile(
        r"(?P<mem>"
        + LIST
        + r")(?:由|交由|委托)(?P<lead>"
        + ONE
        + r")"
        + _GAP
        + r"{0,4}?(?:托管|接管"
        r"|管理|领办)"
    ),
    re.compile(
        r"(?P<lead>" + ONE + r")" + _GAP + r"{0,12}?(?:为|向|给)(?:包括)?(?P<mem>" + LIST + r")"
        r"(?:在内的" + _GAP + r"{0,10}?|" + _GAP + r"{0,10}?)(?:颁发|授予|授牌|揭牌|挂牌|颁授)"
    ),
    re.compile(
        r"(?P<mem>" + LIST + r")" + _GAP + r"{0,8}?(?:加入|加盟)(?:了|到)?(?P<lead>" + ONE + r")"
    ),
    re.compile(
        r"(?P<mem>"
        + LIST
        + r")"
        + _GAP
        + r"{0,10}?(?:成为|作为|挂牌成为|挂牌为|被确定为|获批|为)(?P<lead>"
        + ONE
        + r")(?:的)?"
        + _GAP
        + r"{0,14}?(?:成员|分院|协作|合作医院|联盟|医联体|指导医院|基地"
        r"|托管|帮扶)"
    ),
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")(?:将|会|还|也|长期|持续)?(?:派出|派驻|选派|委派)"
        + _GAP
        + r"{0,16}?(?:进驻|到|赴|前往|入驻|下沉到|下沉至)(?P<mem>"
        + LIST
        + r")"
    ),
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")(?:将|会|还|也|长期|持续)?"
        + _GAP
        + r"{0,4}?(?:派出|派驻|选派|对口支援"
        r"|对口帮扶|帮扶|支援|托管|指导|扶持)(?P<mem>" + LIST + r")"
    ),
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")"
        + _GAP
        + r"{0,8}?(?:对|为|向)(?P<mem>"
        + LIST
        + r")(?:进行|开展|提供|实施"
        r"|给予)?" + _GAP + r"{0,10}?(?:对口支援|对口帮扶|帮扶|支援|托管|指导|支持|扶持)"
    ),
    re.compile(
        r"(?P<mem>" + LIST + r")" + _GAP + r"{0,6}?(?:依托|借助|接受|得到)(?P<lead>" + ONE + r")"
    ),
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")(?:与〔\d+〕)?[^〔。;]{0,40}?给予(?P<mem>"
        + LIST
        + r")"
        + _GAP
        + r"{0,12}?(?:支援|帮扶|支持|指导|扶持)"
    ),
    # a delegation whose errand is support: "A副院长带队分别到B、C洽谈对口支援事宜"
    re.compile(
        r"(?P<lead>"
        + ONE
        + r")"
        + _GAP
        + r"{0,16}?(?:带队|率队|一行|组织专家)"
        + _GAP
        + r"{0,6}?(?:到|赴|前往|来到|深入)(?P<mem>"
        + LIST
        + r")(?:(?!学习|取经|考察学习)[^〔。;]){0,16}?"
        r"(?:对口支援|对口帮扶|帮扶|支援)"
    ),
]
#: what each pattern of DIRECTED needs in a sentence, for :func:`.reading.read_cues` to skip it
#: where a sentence lacks it (most sentences, most patterns): every match of the pattern holds
#: one character of each string (tests/unit/extract/test_extract_cue_needs.py checks them)
DIRECTED_NEEDS: tuple[tuple[str, ...], ...] = (
    ("托接",),
    ("托接管领", "交委由"),
    ("为向给", "挂授揭颁"),
    ("加", "入盟"),
    ("为作成挂获被",),
    ("委派选", "下入到前赴进"),
    ("对帮托扶指支派选",),
    ("对帮托扶指支", "为向对"),
    ("依借得接",),
    ("给",),
    ("对帮支", "一带率组"),
)
#: a sentence whose subject is a hospital's staff speaking: "A副院长介绍了…,表示将…为B提供技术支持".
#: Chinese drops the repeated subject, so a later support clause with no agent of its own is A's.
SPEAKER = re.compile(
    r"^[^〔。]{0,24}?〔(?P<k>\d+)〕(?:党委)?(?:副?院长|副?书记|副?主任|负责人|领导|专家|一行)"
)
#: a support clause whose giver is unwritten: "为B提供…支持", "给予B…指导"
SUPPORT_TO = re.compile(
    r"(?:为|给予)(?P<mem>"
    + LIST
    + r")(?:提供|带来)?"
    + _GAP
    + r"{0,16}?(?:支持|指导|帮扶|支援|扶持|培训)"
)
#: the support clause has its own giver, or is what the subject receives
OTHER_GIVER = re.compile(r"(?:依托|借助|感谢|在〔\d+〕的|由〔\d+〕|得到|接受)[^。]{0,30}$")
#: a named alliance right after its lead: 开封市中心医院胸痛联盟, 同济医院肿瘤科专科医联体
NAMED_ALLIANCE = re.compile(
    r"(?<![与和及、〕·同跟])(?P<lead>"
    + ONE
    + r")(?:(?!加入|成为|签|授|揭|挂|携手|牵手|联合|与|和|举行|召开|成立|建立"
    r"|组建|共建|建成|开展|进行|推进|参加|出席|启动|构建|打造|建设|推动|加强|深化|的|院长|书记|主任|党委|副|专家|团队"
    r"|代表|领导|一行|[“\"「])"
    + _GAP
    + r"){0,12}?(?:专科联盟|专病联盟|科联盟|联盟|科联体|专科医联体|医联体|医共体|医疗集团|集团|协作网)"
)
#: a branch plaque at its host: "A分院揭牌仪式在B举行" (A's parent leads, B joins)
BRANCH_AT_HOST = re.compile(
    r"(?P<branch>"
    + LIST
    + r")"
    + _GAP
    + r"{0,10}?(?:揭牌|挂牌|授牌|成立|签约)"
    + _GAP
    + r"{0,10}?在(?P<host>"
    + LIST
    + r")"
    + _GAP
    + r"{0,4}?(?:举行|举办|隆重举行|正式举行|召开|进行)"
)
#: the same, the host first: "A分院在B挂牌", "A分院落户B揭牌"
BRANCH_UNVEILED_AT_HOST = re.compile(
    r"(?P<branch>"
    + LIST
    + r")"
    + _GAP
    + r"{0,6}?(?:正式|顺利)?(?:在|于|落户)(?P<host>"
    + LIST
    + r")"
    + _GAP
    + r"{0,4}?(?:揭牌|挂牌|授牌|成立)"
)
#: an outpost of one hospital opened at another: "A九江基地在B揭牌", "A远程会诊中心落户B"
OUTPOST_AT_HOST = re.compile(
    r"(?P<lead>"
    + ONE
    + r")"
    + _GAP
    + r"{0,10}?(?:基地|分中心|工作站|分院|院区|协作中心|专科中心)"
    + _GAP
    + r"{0,6}?(?:在|落户|落地|设在|入驻)(?P<host>"
    + ONE
    + r")"
    + _GAP
    + r"{0,4}?(?:揭牌|挂牌|授牌|成立|落户"
    r"|举行|启用)?"
)
#: what is unveiled or founded right after its name: "“A集团B医院”正式揭牌"
UNVEILED = r"(?:正式|隆重|顺利)?(?:揭牌|挂牌|授牌|成立|签约|启用)"
#: institutions named as the earlier ones: "继日前与A、B签署协议后", "继A之后", "先后与A、B签署"
BACKGROUND = re.compile(
    r"继(?:日前|此前|之前)?(?:与)?[^〔。,]{0,8}?(?P<a>"
    + LIST
    + r")(?:等)?[^〔。]{0,24}?(?:之后|以后|后)"
    r"|(?:先后|相继|曾经?)(?:与|和)(?P<b>" + LIST + r")"
)
#: where an alliance is founded: "西北呼吸危重症联盟在西京医院成立" (its host, often its lead)
FOUNDED_AT = re.compile(
    r"(?:联盟|医联体|联合体)(?:成立大会)?"
    + _GAP
    + r"{0,4}?在(?P<venue>"
    + ONE
    + r")"
    + _GAP
    + r"{0,4}?(?:成立|召开|举行)"
)
#: the venue of a ceremony: "在B举行" (not a role by itself)
VENUE = re.compile(
    r"在(?P<venue>" + ONE + r")" + _GAP + r"{0,12}?(?:举行|举办|召开|进行|完成|成立)"
)
#: "A与B签约", "A正式与B携手": the two parties of an agreement, in their written order
PARTIES = re.compile(
    r"(?P<a>"
    + ONE
    + r")(?:"
    + _GAP
    + r"{0,4}?(?:与|和|同)|(?<![与和同为对向括]〔\d〕)(?<![与和同为对向括]〔\d\d〕)、)(?P<b>"
    + ONE
    + r")(?!、〔)"
)
#: pairwise lists: "由A和B、C和D…分别签署"
PAIRWISE = re.compile(r"(?:" + ONE + r"(?:和|与|同)" + ONE + r"(?:、|,|;)?){2,}")
PAIR_IN_LIST = re.compile(r"(?P<a>" + ONE + r")(?:和|与|同)(?P<b>" + ONE + r")")
#: members counted, not named: "与147家…签订", "15家…联盟单位"
COUNTED_MEMBERS = re.compile(
    r"(?:与|和|联合|带领|携手|为|包括|共|首批|涵盖|覆盖)?"
    + _GAP
    + r"{0,6}?(?:\d+|[一二三四五六七八九十两百]+|多|数十)"
    r"(?:家|所|个)" + _GAP + r"{0,14}?(?:医院|卫生院|医疗机构|医疗卫生机构|单位|卫生服务中心|成员)"
)
