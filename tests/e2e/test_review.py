"""An analyst corrects the registry on the real stack, and bureaus hear of it once.

Two seed articles are pushed; the bureau's receiver gets their alliances. An analyst swaps
one alliance's lead and member: the receiver gets one ``alliance.updated`` carrying the
corrected lead, and a replay of every article through the extractor leaves the correction
in place. The analyst rejects the other alliance: the receiver gets one
``alliance.retracted``. The history names the analyst for both actions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx

from tests.e2e.test_alerts import seed_articles, wait_for_quiet
from tools.harness import OPERATOR_TOKEN, Stack, WebhookReceiver


def issue_analyst(pipeline: Stack, name: str) -> dict[str, str]:
    answer = httpx.post(
        pipeline["registry"].url + "/v1/analysts",
        json={"name": name},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['api_key']}"}


def names(institutions: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in institutions]


def replay(pipeline: Stack) -> None:
    """``python -m services.extract replay`` as an operator runs it, against this stack."""
    env = {**os.environ, **pipeline["extract"].env}
    done = subprocess.run(
        [sys.executable, "-m", "services.extract", "replay", "--restart"],
        cwd=pipeline.workdir,  # away from the checkout's .env, as the services run
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_correction_and_a_rejection_reach_the_bureau_once(pipeline: Stack) -> None:
    articles = seed_articles()[:2]
    registry = pipeline["registry"].url
    with WebhookReceiver() as receiver:
        bureau = pipeline.create_bureau("国家卫生健康委员会")
        created = pipeline.subscribe(bureau, "everything", receiver.url("everything"), {})
        receiver.secrets["everything"] = created["secret"]
        for article in articles:
            assert pipeline.push(article).status_code == 202
        wait_for_quiet(receiver, at_least=2)
        alliances = pipeline.alliances()
        assert len(alliances) == len(receiver.snapshot()) >= 2

        analyst = issue_analyst(pipeline, "王审核")
        queue = httpx.get(f"{registry}/v1/review/queue", headers=analyst, timeout=10).json()
        assert {a["id"] for a in queue["items"]} == {a["id"] for a in alliances}

        # The extractor's roles, swapped by the analyst (lead <-> first member).
        swapped = next(a for a in alliances if a["lead"] and a["members"])
        old_lead, old_member = names(swapped["lead"])[0], names(swapped["members"])[0]
        corrected_members = [old_lead] + names(swapped["members"])[1:]
        answer = httpx.post(
            f"{registry}/v1/alliances/{swapped['id']}/review",
            json={
                "action": "correct",
                "changes": {"lead": [old_member], "members": corrected_members},
                "note": "牵头与成员颠倒",
            },
            headers=analyst,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert names(answer.json()["lead"]) == [old_member]
        wait_for_quiet(receiver, at_least=len(alliances) + 1)

        replay(pipeline)
        time.sleep(5)  # the replayed extractions reach the registry, which keeps the correction
        after_replay = httpx.get(f"{registry}/v1/alliances/{swapped['id']}", timeout=10).json()
        assert names(after_replay["lead"]) == [old_member]
        assert old_lead in names(after_replay["members"])

        rejected = next(a for a in alliances if a["id"] != swapped["id"])
        answer = httpx.post(
            f"{registry}/v1/alliances/{rejected['id']}/review",
            json={"action": "reject", "note": "不是医联体组建"},
            headers=analyst,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        wait_for_quiet(receiver, at_least=len(alliances) + 2)
        listed = {a["id"] for a in pipeline.alliances()}
        arrived = receiver.snapshot()

    assert rejected["id"] not in listed, "a rejected alliance is hidden from the list"
    assert all(w.valid_signature for w in arrived)
    kinds = Counter((w.payload["type"], w.payload["alliance"]["id"]) for w in arrived)
    assert kinds[("alliance.updated", swapped["id"])] == 1
    assert kinds[("alliance.retracted", rejected["id"])] == 1
    assert sum(1 for kind, _ in kinds if kind == "alliance.retracted") == 1
    update = next(w for w in arrived if w.payload["type"] == "alliance.updated")
    assert names(update.payload["alliance"]["lead"]) == [old_member]

    for alliance_id, action in ((swapped["id"], "correct"), (rejected["id"], "reject")):
        history = httpx.get(
            f"{registry}/v1/alliances/{alliance_id}/history", headers=analyst, timeout=10
        ).json()
        assert [(h["action"], h["analyst_name"]) for h in history] == [(action, "王审核")]
