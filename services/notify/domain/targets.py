"""The forms a channel's target and secret may take, checked before anything is stored.

Each channel's entry in ``services.notify.channels`` says which of these rules apply to
it; they are pure and raise ValueError with words a bureau can act on.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from urllib.parse import urlsplit

WEBHOOK_SECRET_PREFIX = "whsec_"
EMAIL_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
#: The ASCII characters of a host name; other scripts are left to IDNA and the resolver.
_HOST_ASCII = frozenset(string.ascii_letters + string.digits + "-_.")
#: The most addresses one e-mail subscription sends to.
MAX_RECIPIENTS = 20


def http_target(url: str) -> str:
    """An absolute http(s) URL with a plain host and a real port, without credentials."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the url must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError("credentials in the url are not accepted; use the signing secret")
    host = parts.hostname
    if ":" not in host and any(c.isascii() and c not in _HOST_ASCII for c in host):
        # %-escapes, backslashes and the like: parsers disagree on such hosts (a browser
        # reads http://%6c%6fcalhost/ as localhost, http://127.0.0.1\.x/ as 127.0.0.1).
        raise ValueError(f"the url's host {host!r} is not a host name or an IP address")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("the url's port is not a number from 1 to 65535")
    return url


def email_recipients(url: str) -> list[str]:
    body = url.split(":", 1)[1] if ":" in url else url
    body = body.split("?", 1)[0]
    return [a.strip() for a in body.split(",") if a.strip()]


def mailto_target(url: str) -> str:
    """``mailto:`` with 1 to 20 comma-separated addresses."""
    url = url.strip()
    if not url.lower().startswith("mailto:"):
        raise ValueError("an e-mail subscription's url is mailto:officer@example.gov.cn")
    addresses = email_recipients(url)
    if not addresses or len(addresses) > MAX_RECIPIENTS:
        raise ValueError(f"mailto: needs 1 to {MAX_RECIPIENTS} comma-separated addresses")
    for address in addresses:
        if not EMAIL_ADDRESS.match(address):
            raise ValueError(f"not an e-mail address: {address!r}")
    return url


def webhook_secret(secret: str) -> str:
    """A Standard Webhooks key: ``whsec_`` and 24 to 64 bytes of base64."""
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(WEBHOOK_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret holds 24 to 64 bytes of key")
    return secret


def any_secret(secret: str) -> str:
    """A secret the receiving platform issued (a robot's SEC... key): taken as it is."""
    return secret
