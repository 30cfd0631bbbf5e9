"""The event types as people read them: one Chinese name and one colour for each type, the
same in the dashboard, its exports and the alerts (the codes of ``EventType`` are for
machines)."""

from __future__ import annotations

from services.common.contracts import EventType

#: The Chinese name of each type, in the order the dashboard lists them.
TYPE_LABELS: dict[EventType, str] = {
    EventType.specialty_alliance: "专科联盟",
    EventType.tight_consortium: "紧密型医联体",
    EventType.consortium: "医联体",
    EventType.medical_group: "医疗集团",
    EventType.county_community: "县域医共体",
    EventType.remote_network: "远程医疗协作网",
    EventType.trusteeship: "托管",
    EventType.other: "其他协作",
}

#: The colour of each type in every chart, whatever the filters leave in view.
TYPE_COLOURS: dict[EventType, str] = {
    EventType.specialty_alliance: "#5470c6",
    EventType.tight_consortium: "#91cc75",
    EventType.consortium: "#fac858",
    EventType.medical_group: "#ee6666",
    EventType.county_community: "#73c0de",
    EventType.remote_network: "#3ba272",
    EventType.trusteeship: "#fc8452",
    EventType.other: "#9a60b4",
}


def type_label(event_type: EventType | str) -> str:
    """专科联盟 for ``specialty_alliance``; an unknown code as it is."""
    try:
        return TYPE_LABELS[EventType(event_type)]
    except ValueError:
        return str(event_type)


def type_colour(event_type: EventType | str) -> str:
    try:
        return TYPE_COLOURS[EventType(event_type)]
    except ValueError:
        return "#8c8c8c"
