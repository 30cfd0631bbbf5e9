"""/v1/network: institutions linked by the alliances they share, as JSON or GraphML."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Query, Response

from services.common.contracts import EventType
from services.registry.adapters.queries import AllianceView
from services.registry.entrypoints.api.deps import Filters, Queries
from services.registry.entrypoints.api.schemas import NetworkEdge, NetworkNode, NetworkPublic

router = APIRouter(prefix="/v1/network", tags=["exports"])
MAX_ALLIANCES = 20_000


def build_network(views: list[AllianceView], truncated: bool) -> NetworkPublic:
    """Nodes are institutions; an edge joins each lead to each member of an alliance
    (or every pair, when an alliance names no lead)."""
    nodes: dict[str, NetworkNode] = {}
    counts: dict[str, int] = defaultdict(int)
    edges: dict[tuple[str, str], tuple[list[str], list[EventType]]] = {}
    for view in views:
        a = view.alliance
        for inst in (*a.lead, *a.members):
            counts[inst.id] += 1
            nodes[inst.id] = NetworkNode(
                id=inst.id,
                name=inst.name,
                province=inst.province,
                city=inst.city,
                county=inst.county,
                alliance_count=0,
            )
        if a.lead:
            pairs = [(lead.id, m.id) for lead in a.lead for m in a.members]
            pairs += [(x.id, y.id) for i, x in enumerate(a.lead) for y in a.lead[i + 1 :]]
        else:
            pairs = [(x.id, y.id) for i, x in enumerate(a.members) for y in a.members[i + 1 :]]
        for source, target in pairs:
            ids, types = edges.setdefault((source, target), ([], []))
            ids.append(a.id)
            if a.type not in types:
                types.append(a.type)
    return NetworkPublic(
        nodes=[n.model_copy(update={"alliance_count": counts[i]}) for i, n in nodes.items()],
        edges=[
            NetworkEdge(source=s, target=t, weight=len(ids), alliance_ids=ids, types=types)
            for (s, t), (ids, types) in edges.items()
        ],
        alliance_count=len(views),
        truncated=truncated,
    )


def to_graphml(network: NetworkPublic) -> bytes:
    root = ET.Element("graphml", xmlns="http://graphml.graphdrawing.org/xmlns")
    for key, target, name, kind in (
        ("name", "node", "name", "string"),
        ("province", "node", "province", "string"),
        ("city", "node", "city", "string"),
        ("county", "node", "county", "string"),
        ("alliance_count", "node", "alliance_count", "int"),
        ("weight", "edge", "weight", "int"),
        ("alliances", "edge", "alliances", "string"),
        ("types", "edge", "types", "string"),
    ):
        ET.SubElement(
            root, "key", id=key, attrib={"for": target, "attr.name": name, "attr.type": kind}
        )
    graph = ET.SubElement(root, "graph", id="alliances", edgedefault="undirected")
    for node in network.nodes:
        element = ET.SubElement(graph, "node", id=node.id)
        for key, value in (
            ("name", node.name),
            ("province", node.province),
            ("city", node.city),
            ("county", node.county),
            ("alliance_count", str(node.alliance_count)),
        ):
            if value is not None:
                ET.SubElement(element, "data", key=key).text = value
    for number, edge in enumerate(network.edges):
        element = ET.SubElement(
            graph, "edge", id=f"e{number}", source=edge.source, target=edge.target
        )
        ET.SubElement(element, "data", key="weight").text = str(edge.weight)
        ET.SubElement(element, "data", key="alliances").text = " ".join(edge.alliance_ids)
        ET.SubElement(element, "data", key="types").text = " ".join(t.value for t in edge.types)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _network(queries: Queries, filters: Filters, limit: int) -> NetworkPublic:
    views = list(queries.iter_alliances(filters, maximum=limit + 1))
    return build_network(views[:limit], truncated=len(views) > limit)


@router.get("", response_model=NetworkPublic)
def network_json(
    queries: Queries,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_ALLIANCES)] = 5000,
) -> NetworkPublic:
    """Nodes and edges over the alliances matching the filters (at most `limit`)."""
    return _network(queries, filters, limit)


@router.get(
    ".graphml",
    response_class=Response,
    responses={200: {"content": {"application/graphml+xml": {}}}},
)
def network_graphml(
    queries: Queries,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_ALLIANCES)] = 5000,
) -> Response:
    """The same network as GraphML, for Gephi, Cytoscape or networkx."""
    return Response(
        to_graphml(_network(queries, filters, limit)),
        media_type="application/graphml+xml",
        headers={"Content-Disposition": 'attachment; filename="alliances.graphml"'},
    )
