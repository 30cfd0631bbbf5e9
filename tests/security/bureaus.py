"""Notify as a bureau meets it, for the matrices: a new bureau with its key, and a demo
article that makes the pipeline alert the subscriptions that name its lead."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tools.harness import OPERATOR_TOKEN, ROOT


def new_bureau(client: httpx.Client, notify: str, name: str) -> dict[str, str]:
    """A bureau created by the operator: its ``id``, ``api_key`` and ``key_id``."""
    answer = client.post(
        notify + "/v1/bureaus",
        json={"name": name},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    answer.raise_for_status()
    created: dict[str, str] = answer.json()
    return created


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def demo_article(lead: str) -> dict[str, Any]:
    """The demo article whose alliance ``lead`` leads, at a URL of this run's own."""
    for line in (ROOT / "demo" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        article: dict[str, Any] = json.loads(line)
        if lead in article["body"]:
            article["url"] += f"?run={uuid.uuid4().hex}"
            return article
    raise AssertionError(f"no demo article names {lead}")
