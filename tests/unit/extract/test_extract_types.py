from services.common.contracts import EventType
from services.extract.extraction.types import (
    alliance_specialty,
    cooperation_items,
    detect_type,
    hospital_specialty,
)


def test_event_types() -> None:
    assert detect_type("携手建立骨科专科联盟") is EventType.specialty_alliance
    assert detect_type("建立紧密型医联体的挂牌仪式") is EventType.tight_consortium
    assert detect_type("举行医联体签约仪式") is EventType.consortium
    assert detect_type("城市医疗集团正式挂牌成立") is EventType.medical_group
    assert detect_type("分别举行了医共体分院揭牌仪式") is EventType.county_community
    assert detect_type("颁发了远程医疗协作医院牌匾") is EventType.remote_network
    assert detect_type("市人民医院托管襄汾县人民医院") is EventType.trusteeship
    assert detect_type("签订了对口帮扶协议") is EventType.other
    assert detect_type("召开了学术会议") is None


def test_a_specialtys_consortium_written_in_full_is_a_specialty_alliance() -> None:
    assert detect_type("肿瘤科医联体成员单位揭牌") is EventType.specialty_alliance
    assert detect_type("肿瘤科医疗联合体成员单位揭牌") is EventType.specialty_alliance


def test_state_of_trusteeship_is_not_trusteeship() -> None:
    assert detect_type("在省人民医院的精心托管下,医疗技术全面提升") is None


def test_specialty_from_alliance_name() -> None:
    assert alliance_specialty("骨科专科联盟签约") == "骨科"
    assert alliance_specialty("关节与运动医学科专科联盟") == "关节与运动医学"
    assert alliance_specialty("共同组成脑病创新联盟") == "脑病"
    assert alliance_specialty("成立“永宁县眼科联盟”") == "眼科"
    assert alliance_specialty("胸痛救治联盟") == "胸痛"
    assert alliance_specialty("紧密型专科联盟合作") is None


def test_specialist_hospital() -> None:
    assert hospital_specialty("天津市肿瘤医院") == "肿瘤"
    assert hospital_specialty("湖南省儿童医院") == "儿科"
    assert hospital_specialty("复旦大学附属儿科医院") == "儿科"
    assert hospital_specialty("湖南省脑科医院") == "神经"
    assert hospital_specialty("武汉亚洲心脏病医院") == "心血管"
    assert hospital_specialty("桂林市中西医结合医院") is None


def test_cooperation_items() -> None:
    items = cooperation_items(
        "双方将在人员双向流动、病人双向转诊、医疗资源共享等方面合作,开展远程会诊"
    )
    assert items[:4] == ("人员双向流动", "双向转诊", "资源共享", "远程会诊")
