"""The subscription form: read from a posted body into the API's own models (so a form
is checked exactly as a JSON request is), drawn back with its values and any errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from services.common.contracts import EventType
from services.common.labels import TYPE_LABELS
from services.common.web_sessions import Form, one
from services.notify.domain.models import Channel, FiltersIn, SubscriptionPublic
from services.notify.entrypoints.portal.views import CHANNELS, _template, e

_SEPARATORS = re.compile(r"[、,，;；\n\r]+")

FIELD_LABELS = {
    "name": "订阅名称",
    "channel": "接收方式",
    "url": "接收地址",
    "secret": "密钥",
    "filters": "筛选条件",
    "provinces": "省份",
    "cities": "城市",
    "counties": "区县",
    "types": "类型",
    "specialties": "专科",
    "institutions": "机构",
    "min_confidence": "最低置信度",
}
#: What the API's checks say, as a bureau reads it.
MESSAGES = [
    ("mailto", "电子邮件的接收地址应为 mailto:officer@example.gov.cn，多个收件人用英文逗号分隔"),
    ("not an e-mail address", "电子邮件地址格式不正确"),
    ("absolute http(s) URL", "应为以 http:// 或 https:// 开头的完整网址"),
    ("credentials in the url", "网址中不能包含用户名或口令，请使用签名密钥"),
    ("whsec_", "Webhook 签名密钥应以 whsec_ 开头，后接 Base64 编码的 24–64 字节密钥"),
    ("takes no secret", "此接收方式不需要密钥，请留空"),
    ("host", "网址中的主机名不正确"),
    ("port", "网址中的端口应为 1–65535"),
    ("at least 1 character", "不能为空"),
    ("at most", "过长或过多"),
    ("less than or equal", "应在 0 到 1 之间"),
    ("greater than or equal", "应在 0 到 1 之间"),
    ("valid number", "应为数字"),
    ("Input should be", "取值不在可选范围内"),
]


def split(text: str) -> list[str]:
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


def filters_of(form: Form) -> dict[str, object]:
    """The filters as the API takes them (validated by Filters after)."""
    confidence = one(form, "min_confidence") or "0"
    return {
        "provinces": [v.strip() for v in form.get("provinces", []) if v.strip()],
        "cities": [v.strip() for v in form.get("cities", []) if v.strip()],
        "counties": [v.strip() for v in form.get("counties", []) if v.strip()],
        "types": [v for v in form.get("types", []) if v],
        "specialties": split(one(form, "specialties")),
        "institutions": split(one(form, "institutions")),
        "min_confidence": confidence,
    }


def translate(text: str) -> str:
    for needle, chinese in MESSAGES:
        if needle in text:
            return chinese
    return "格式不正确"


def errors_of(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        names = [str(p) for p in error["loc"] if isinstance(p, str)]
        label = next((FIELD_LABELS[n] for n in reversed(names) if n in FIELD_LABELS), "表单")
        if error["type"] == "unknown_place":
            # The gazetteer's nearest names are worth more than a translation of the rest.
            ctx = error.get("ctx") or {}
            nearest = "、".join(ctx.get("suggestions") or [])
            message = f"“{ctx.get('word', '')}”不是行政区划表中的地名"
            out.append(f"{label}：{message}" + (f"，相近的有：{nearest}" if nearest else ""))
            continue
        out.append(f"{label}：{translate(str(error['msg']))}")
    return out


@dataclass
class FormValues:
    """What the form shows: a subscription's, or what was just posted."""

    name: str = ""
    channel: Channel | None = None
    url: str = ""
    provinces: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    counties: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    specialties: str = ""
    institutions: str = ""
    min_confidence: str = "0"

    @classmethod
    def of(cls, sub: SubscriptionPublic) -> FormValues:
        f = sub.filters
        return cls(
            name=sub.name,
            channel=sub.channel,
            url=sub.url,
            provinces=list(f.provinces),
            cities=list(f.cities),
            counties=list(f.counties),
            types=[t.value for t in f.types],
            specialties="、".join(f.specialties),
            institutions="\n".join(f.institutions),
            min_confidence=f"{f.min_confidence:g}",
        )

    @classmethod
    def posted(cls, form: Form, channel: Channel | None) -> FormValues:
        filters = filters_of(form)
        return cls(
            name=one(form, "name"),
            channel=channel,
            url=one(form, "url"),
            provinces=list(filters["provinces"]),  # type: ignore[call-overload]
            cities=list(filters["cities"]),  # type: ignore[call-overload]
            counties=list(filters["counties"]),  # type: ignore[call-overload]
            types=list(filters["types"]),  # type: ignore[call-overload]
            specialties=one(form, "specialties"),
            institutions=(form.get("institutions") or [""])[0],
            min_confidence=one(form, "min_confidence") or "0",
        )


def _chip(kind: str, label: str, value: str) -> str:
    return (
        f'<li class="chip" data-kind="{e(kind)}">{e(label)}：{e(value)}'
        f'<input type="hidden" name="{e(kind)}" value="{e(value)}">'
        '<button type="button" class="remove" aria-label="移除">×</button></li>'
    )


def render_form(
    values: FormValues, *, action: str, cancel: str, csrf: str, errors: list[str], creating: bool
) -> str:
    chips = [
        *(_chip("provinces", "省", v) for v in values.provinces),
        *(_chip("cities", "市", v) for v in values.cities),
        *(_chip("counties", "区县", v) for v in values.counties),
    ]
    types = "".join(
        f'<label class="check"><input type="checkbox" name="types" value="{e(t.value)}"'
        f"{' checked' if t.value in values.types else ''}> {e(TYPE_LABELS[t])}</label>"
        for t in EventType
    )
    if creating:
        options = "".join(
            f'<option value="{e(c.value)}"{" selected" if values.channel is c else ""}>'
            f"{e(label)}</option>"
            for c, label in CHANNELS.items()
        )
        channel_field = (
            f'<label>接收方式 <select name="channel" id="channel">{options}</select></label>'
        )
        secret_label = "密钥（可选）"
        secret_placeholder = "钉钉机器人加签密钥 SEC…；Webhook 留空将自动生成"
    else:
        assert values.channel is not None
        channel_field = f"<p>接收方式：{e(CHANNELS[values.channel])}</p>"
        secret_label = "更换密钥（留空则不变）"
        secret_placeholder = "留空则不变"
    problems = ""
    if errors:
        items = "".join(f"<li>{e(x)}</li>" for x in errors)
        problems = f'<div class="error" role="alert" id="form-errors"><p>请修改以下内容：</p><ul>{items}</ul></div>'
    return _template("form.html").substitute(
        heading="新建订阅" if creating else f"编辑订阅「{e(values.name)}」",
        errors=problems,
        action=e(action),
        csrf=e(csrf),
        name=e(values.name),
        channel_field=channel_field,
        url=e(values.url),
        secret_label=secret_label,
        secret_placeholder=e(secret_placeholder),
        regions="".join(chips),
        types=types,
        specialties=e(values.specialties),
        institutions=e(values.institutions),
        min_confidence=e(values.min_confidence),
        submit="创建订阅" if creating else "保存修改",
        cancel=e(cancel),
    )


def channel_of(form: Form) -> Channel | None:
    try:
        return Channel(one(form, "channel"))
    except ValueError:
        return None


def filters_model(form: Form) -> FiltersIn:
    """The filters as a bureau sends them: place words checked against the gazetteer."""
    return FiltersIn.model_validate(filters_of(form))
