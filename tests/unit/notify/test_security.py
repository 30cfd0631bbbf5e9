from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notify.domain.security import (
    dingtalk_signed_url,
    issue_api_key,
    key_matches,
    key_prefix,
    new_webhook_secret,
    webhook_headers,
)


def test_api_keys_are_shown_once_and_kept_as_a_hash() -> None:
    key = issue_api_key()
    assert key.plaintext.startswith(f"aw_{key.prefix}_")
    assert key.digest != key.plaintext and len(key.digest) == 64
    assert key_prefix(key.plaintext) == key.prefix
    assert key_matches(key.plaintext, key.digest)
    assert not key_matches(key.plaintext + "x", key.digest)
    assert key_prefix("Bearer nonsense") is None
    assert issue_api_key().plaintext != key.plaintext


def test_webhook_signature_verifies_with_the_reference_library() -> None:
    secret = new_webhook_secret()
    body = '{"type":"alliance.created","alliance":{"id":"al-1","名称":"骨科联盟"}}'.encode()
    headers = webhook_headers(secret, "dlv_1", int(time.time()), body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["alliance"]["id"] == "al-1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"al-1", b"al-2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)


def test_dingtalk_url_is_signed_with_timestamp_and_sign() -> None:
    url = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=abc", "SECxyz", 1714550400000
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["access_token"] == "abc" and query["timestamp"] == "1714550400000"
    expected = base64.b64encode(
        hmac.new(b"SECxyz", b"1714550400000\nSECxyz", hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == expected
