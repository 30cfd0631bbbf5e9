"""A running service's routes, read from its ``/openapi.json``: each operation with its
path and query parameters, and a small request body its schema accepts, so that a matrix
covers a route as soon as the route exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    path_params: dict[str, dict[str, Any]]
    query_params: dict[str, dict[str, Any]]
    body: dict[str, Any] | None  # the JSON schema of its body, if it takes one
    secured: bool  # the document says it needs a bearer token

    @property
    def name(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    def url(self, values: dict[str, str]) -> str:
        """The path with each parameter replaced by ``values[name]``."""
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", values[name])
        return path


def read_spec(base_url: str) -> dict[str, Any]:
    answer = httpx.get(base_url + "/openapi.json", timeout=30)
    answer.raise_for_status()
    spec: dict[str, Any] = answer.json()
    return spec


def operations(service: str, spec: dict[str, Any]) -> list[Operation]:
    found: list[Operation] = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            content = op.get("requestBody", {}).get("content", {})
            media = content.get("application/json") or next(iter(content.values()), None)
            found.append(
                Operation(
                    service=service,
                    method=method.upper(),
                    path=path,
                    path_params={
                        p["name"]: p.get("schema", {}) for p in params if p["in"] == "path"
                    },
                    query_params={
                        p["name"]: p.get("schema", {}) for p in params if p["in"] == "query"
                    },
                    body=media.get("schema", {}) if media is not None else None,
                    secured=bool(op.get("security")),
                )
            )
    return found


def example(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> Any:
    """A small value ``schema`` accepts: required properties only, lower bounds, the
    first of an enum or of a union's non-null members."""
    if depth > 8:
        return None
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return example(spec["components"]["schemas"][name], spec, depth + 1)
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            members = [m for m in schema[union] if m.get("type") != "null"]
            return example(members[0], spec, depth + 1) if members else None
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            name: example(properties.get(name, {}), spec, depth + 1)
            for name in schema.get("required", [])
        }
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example(schema.get("items", {}), spec, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    if kind == "string":
        if schema.get("format") == "date":
            return "2024-01-01"
        if schema.get("format") == "date-time":
            return "2024-01-01T00:00:00Z"
        return "x" * max(1, int(schema.get("minLength", 1)))
    return None


def plausible(schema: dict[str, Any], spec: dict[str, Any], name: str) -> str:
    """A path parameter's value that passes its schema (auth, not validation, answers)."""
    value = example(schema, spec)
    if isinstance(value, int):
        return str(value)
    prefix = name.removesuffix("_id")[:3]
    return f"{prefix}_probe0123456789"
