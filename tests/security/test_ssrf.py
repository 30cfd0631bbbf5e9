"""SSRF against the running notify, through its API as a bureau uses it.

Every form of an inward URL (literal, numeric, IPv4-mapped, a name that resolves inward,
another scheme, userinfo and parser tricks) is refused when a webhook or robot
subscription names it, with 422 and the reason: on a notify with the default allow-list
(none, started beside the stack), on the stack's own (127.0.0.1/32 open) and on one whose
allow-list opens everything (0.0.0.0/0 and ::/0), which still never opens link-local or
metadata addresses; production refuses such an allow-list at start-up. A redirect from an
endpoint is never followed, and one towards a refused address fails the delivery at its
first attempt, with the reason. Every request stays on loopback: no name here needs DNS.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.notify.config import NotifySettings
from services.notify.domain.ssrf import classify, is_loopback_name
from tests.security.bureaus import bearer, demo_article, new_bureau
from tests.security.tally import Tally
from tools.harness import ServiceProcess, Stack
from tools.localkafka import free_port

#: A bound on the pipeline taking an article to its deliveries, not a measure of it.
DELIVERY_TIMEOUT_SECONDS = 90
ROBOTS = ("dingtalk", "wecom")
PRODUCTION_TOKEN = secrets.token_urlsafe(32)

#: (url, a word its refusal says): hosts written as addresses.
LITERAL = [
    ("http://127.0.0.1/hook", "127.0.0.1 (loopback)"),
    ("http://127.0.0.1:8003/v1/bureaus", "loopback"),
    ("http://127.255.255.254/", "loopback"),
    ("http://[::1]/hook", "::1 (loopback)"),
    ("http://[::1]:8003/", "loopback"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata service"),
    ("http://169.254.170.2/v2/credentials", "cloud metadata service"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata service"),
    ("http://[fd00:ec2::254]/", "cloud metadata service"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25lo]/", "scoped"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0.0.0.0:8003/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "reserved"),
]
#: Numbers as the resolver (inet_aton) reads them.
NUMERIC = [
    ("http://2130706433/", "2130706433 is 127.0.0.1 (loopback)"),
    ("http://0177.0.0.1/", "is 127.0.0.1 (loopback)"),
    ("http://0x7f000001/", "is 127.0.0.1 (loopback)"),
    ("http://0X7F000001/", "is 127.0.0.1 (loopback)"),
    ("http://017700000001/", "is 127.0.0.1 (loopback)"),
    ("http://127.1/", "is 127.0.0.1 (loopback)"),
    ("http://127.0.1/", "is 127.0.0.1 (loopback)"),
    ("http://0x7f.1/", "is 127.0.0.1 (loopback)"),
    ("http://0x7f.0.0.01/", "is 127.0.0.1 (loopback)"),
    ("http://0177.0x0.0.1/", "is 127.0.0.1 (loopback)"),
    ("http://127.000.000.001/", "is 127.0.0.1 (loopback)"),
    ("http://127.0.0.1./", "127.0.0.1 (loopback)"),
    ("http://0/", "is 0.0.0.0 (unspecified)"),
    ("http://00000/", "is 0.0.0.0 (unspecified)"),
    ("http://0x0/", "is 0.0.0.0 (unspecified)"),
    ("http://2852039166/", "is 169.254.169.254 (cloud metadata service)"),
    ("http://0xa9fea9fe/", "is 169.254.169.254 (cloud metadata service)"),
    ("http://0251.0376.0251.0376/", "is 169.254.169.254 (cloud metadata service)"),
    ("http://3232235521/", "is 192.168.0.1 (private)"),
    ("http://0300.0250.0.1/", "is 192.168.0.1 (private)"),
    ("http://10.1/", "is 10.0.0.1 (private)"),
    ("http://1.2.3.256/", "not a valid IP address"),
    ("http://08.0.0.1/", "not a valid IP address"),
]
#: IPv6 addresses that carry an IPv4 one.
MAPPED = [
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped"),
    ("http://[::ffff:a9fe:a9fe]/", "IPv4-mapped"),
    ("http://[::ffff:10.0.0.1]/", "IPv4-mapped"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[64:ff9b::7f00:1]/", "NAT64"),
    ("http://[2002:7f00:1::]/", "6to4"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "Teredo"),
]
#: Names: loopback by definition (no lookup), and names IDNA turns into an address or
#: into localhost (the resolver reads them without asking DNS).
NAMES = [
    ("http://localhost/", "localhost is 127.0.0.1 (loopback)"),
    ("http://localhost:8003/v1/bureaus", "loopback"),
    ("http://LOCALHOST./", "loopback"),
    ("http://localhost.localdomain/", "loopback"),
    ("http://api.localhost/", "loopback"),
    ("http://１２７.０.０.１/", "resolves to 127.0.0.1 (loopback)"),
    ("http://127。0。0。1/", "resolves to 127.0.0.1 (loopback)"),
    ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "resolves to 127.0.0.1 (loopback)"),
]
#: Other schemes, userinfo, and hosts other parsers read as another host.
FORMS = [
    ("file:///etc/passwd", "http(s)"),
    ("gopher://127.0.0.1:6379/_INFO", "http(s)"),
    ("ftp://127.0.0.1/", "http(s)"),
    ("dict://127.0.0.1:11211/stat", "http(s)"),
    ("ldap://127.0.0.1/", "http(s)"),
    ("//127.0.0.1/hook", "http(s)"),
    ("http:/127.0.0.1/hook", "http(s)"),
    ("http://example.com@127.0.0.1/", "credentials"),
    ("http://example.com:443@127.0.0.1/", "credentials"),
    ("http://127.0.0.1:80\\@example.com/", "credentials"),
    ("http://user:pass@hooks.example.cn/", "credentials"),
    ("http://%6c%6fcalhost/", "not a host name"),
    ("http://%31%32%37.0.0.1/", "not a host name"),
    ("http://127.0.0.1\\.example.com/", "not a host name"),
    ("http://127.0.0.1%00.example.com/", "not a host name"),
    ("http://127.0.0.1:99999/", "port"),
    ("http://127.0.0.1:0/", "port"),
    ("https://hooks.example.cn:abc/", "port"),
]

#: Refused even with 127.0.0.1/32 open (the stack's allow-list): the rest of loopback,
#: the open address written otherwise, and everything else inward.
LOOPBACK_OPEN = [
    ("http://127.0.0.2/", "127.0.0.2 (loopback)"),
    ("http://127.1/", "write 127.0.0.1"),
    ("http://2130706433/", "write 127.0.0.1"),
    ("http://0x7f000001/", "write 127.0.0.1"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
    ("http://[::1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://10.0.0.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata service"),
    ("http://[fe80::1]/", "link-local"),
]
#: Refused with everything open (0.0.0.0/0 and ::/0): no allow-list opens these.
NEVER_OPENED = [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata service"),
    ("http://169.254.170.2/v2/credentials", "cloud metadata service"),
    ("http://100.100.100.200/", "cloud metadata service"),
    ("http://169.254.0.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::abcd:1]:8080/", "link-local"),
    ("http://[fd00:ec2::254]/", "cloud metadata service"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped"),
    ("http://[::ffff:a9fe:a9fe]/", "IPv4-mapped"),
    ("http://2852039166/", "169.254.169.254 (cloud metadata service)"),
    ("http://0xa9fea9fe/", "169.254.169.254 (cloud metadata service)"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4"),
]
NEVER_OPENED_ADDRESSES = [
    "169.254.169.254",
    "169.254.170.2",
    "169.254.0.1",
    "100.100.100.200",
    "fe80::1",
    "fd00:ec2::254",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
]
WIDE_ALLOW_LISTS = [
    "0.0.0.0/0",
    "::/0",
    "0.0.0.0/0,::/0",
    "0.0.0.0/1,128.0.0.0/1",
    "169.0.0.0/8",
    "fe80::/9",
    "::ffff:0:0/96",
]
LINK_LOCAL_ONLY = [
    "169.254.0.0/16",
    "169.254.169.254/32",
    "fe80::/10",
    "fe80::/64",
    "100.100.100.200/32",
]
WIDER_THAN_PRIVATE = [
    "0.0.0.0/0",
    "::/0",
    "127.0.0.1/32",
    "100.64.0.0/10",
    "8.8.8.0/24",
    "10.0.0.0/7",
    "192.168.0.0/15",
    "fc00::/6",
]
PRIVATE = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "10.20.0.0/16,fd12:3456::/48",
]


def hosts_names() -> list[tuple[str, str]]:
    """Names the hosts file gives an address the guard refuses (a machine's own name
    usually): each resolves inward with no DNS query."""
    found: list[tuple[str, str]] = []
    try:
        lines = Path("/etc/hosts").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    seen: set[str] = set()
    for line in lines:
        for name in line.split("#", 1)[0].split()[1:]:
            if is_loopback_name(name) or name in seen:
                continue
            seen.add(name)
            try:
                address = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)[0][4][0]
            except OSError:
                continue
            if not classify(address).allowed:
                found.append((f"http://{name}/hook", f"{name} resolves to"))
    return found


def notify_beside(stack: Stack, workdir: Path, name: str, **env: str) -> ServiceProcess:
    """Another notify process on the stack's broker, with its own port, database and
    consumer group, and ``env`` over the stack's settings."""
    port = free_port()
    settings = {
        **stack["notify"].env,
        "NOTIFY_PORT": str(port),
        "NOTIFY_DATABASE_URL": f"sqlite:///{workdir / name}.db",
        "NOTIFY_GROUP_ID": f"{stack.topic_prefix}notify-{name}",
        **env,
    }
    return ServiceProcess("notify", port, workdir / f"notify-{name}.log", settings)


@pytest.fixture(scope="module")
def notifies(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    """Beside the stack's notify (127.0.0.1/32 open): one with the default allow-list
    (none), one with everything open, and one in production with everything open, which
    must refuse to start."""
    workdir = tmp_path_factory.mktemp("ssrf")
    processes = {
        "default": notify_beside(stack, workdir, "default", NOTIFY_ALLOWED_NETWORKS=""),
        "open": notify_beside(stack, workdir, "open", NOTIFY_ALLOWED_NETWORKS="0.0.0.0/0,::/0"),
        "production": notify_beside(
            stack,
            workdir,
            "production",
            APP_ENV="production",
            NOTIFY_OPERATOR_TOKEN=PRODUCTION_TOKEN,
            NOTIFY_ALLOWED_NETWORKS="0.0.0.0/0",
        ),
    }
    try:
        for process in processes.values():
            process.start(workdir)
        processes["default"].wait_ready()
        processes["open"].wait_ready()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def subscription(channel: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"name": f"ssrf {uuid.uuid4().hex[:8]}", "channel": channel, "url": url, **fields}


def refused_saying(answer: httpx.Response, word: str) -> str | None:
    if answer.status_code != 422:
        return f"answered {answer.status_code}: {answer.text[:200]}"
    detail = json.dumps(answer.json().get("detail"), ensure_ascii=False)
    return None if word in detail else f"the reason does not say {word!r}: {detail[:300]}"


def created(answer: httpx.Response) -> str | None:
    return (
        None if answer.status_code == 201 else f"answered {answer.status_code}: {answer.text[:200]}"
    )


def try_forms(
    tally: Tally,
    client: httpx.Client,
    notify: str,
    auth: dict[str, str],
    cases: list[tuple[str, str]],
    label: str,
) -> None:
    """Each URL as a webhook and as a robot subscription: 422 with the reason."""
    for n, (url, word) in enumerate(cases):
        for channel in ("webhook", ROBOTS[n % 2]):
            body = subscription(channel, url, enabled=False)
            answer = client.post(notify + "/v1/subscriptions", json=body, headers=auth)
            tally.check(f"{label} {channel} {url!r}", refused_saying(answer, word))


def test_every_form_of_an_inward_url_is_refused_when_subscribing(
    notifies: dict[str, ServiceProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/SSRF forms")
    notify = notifies["default"].url
    with httpx.Client(timeout=30) as client:
        auth = bearer(new_bureau(client, notify, "SSRF 测试卫健委")["api_key"])
        groups = {
            "literal": LITERAL,
            "numeric": NUMERIC,
            "mapped": MAPPED,
            "name": NAMES + hosts_names(),
            "form": FORMS,
        }
        for label, cases in groups.items():
            try_forms(tally, client, notify, auth, cases, label)
        stored = client.get(notify + "/v1/subscriptions", headers=auth).json()["items"]
        tally.check("nothing was stored", None if stored == [] else f"{len(stored)} stored")
    tally.report(capsys)


def test_allow_lists_open_what_they_list_and_never_link_local(
    stack: Stack, notifies: dict[str, ServiceProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/SSRF allow-lists")
    with httpx.Client(timeout=30) as client:
        # The stack's notify opens 127.0.0.1/32: that address, written so, and no other.
        notify = stack["notify"].url
        auth = bearer(new_bureau(client, notify, "白名单测试卫健委")["api_key"])
        control = client.post(
            notify + "/v1/subscriptions",
            json=subscription("webhook", "http://127.0.0.1:9/hook", enabled=False),
            headers=auth,
        )
        tally.check("127.0.0.1/32 open: 127.0.0.1 accepted", created(control))
        try_forms(tally, client, notify, auth, LOOPBACK_OPEN, "127.0.0.1/32 open:")
        if control.status_code == 201:
            url = notify + f"/v1/subscriptions/{control.json()['id']}"
            for target, word in LOOPBACK_OPEN:
                answer = client.patch(url, json={"url": target}, headers=auth)
                tally.check(f"127.0.0.1/32 open: PATCH to {target!r}", refused_saying(answer, word))
            kept = client.get(url, headers=auth).json()["url"]
            tally.check(
                "the PATCHed url is unchanged", None if kept == "http://127.0.0.1:9/hook" else kept
            )

        # Everything open: still no link-local, no metadata service, in no form.
        notify = notifies["open"].url
        auth = bearer(new_bureau(client, notify, "全开放测试卫健委")["api_key"])
        for url in ("http://10.0.0.1/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/hook"):
            answer = client.post(
                notify + "/v1/subscriptions",
                json=subscription("webhook", url, enabled=False),
                headers=auth,
            )
            tally.check(f"everything open: {url} accepted", created(answer))
        try_forms(tally, client, notify, auth, NEVER_OPENED, "everything open:")

    # The settings themselves, as every process reads them.
    base = {
        "APP_ENV": "test",
        "NOTIFY_OPERATOR_TOKEN": PRODUCTION_TOKEN,
        "NOTIFY_SECRETS_KEY": stack.env["NOTIFY_SECRETS_KEY"],
        "NOTIFY_UNSUBSCRIBE_SECRET": stack.env["NOTIFY_UNSUBSCRIBE_SECRET"],
    }
    for networks in WIDE_ALLOW_LISTS:
        opened = settings(base, NOTIFY_ALLOWED_NETWORKS=networks)
        for address in NEVER_OPENED_ADDRESSES:
            verdict = classify(ipaddress.ip_address(address), opened.allowed)
            problem = f"opened: {verdict.reason}" if verdict.allowed else None
            tally.check(f"NOTIFY_ALLOWED_NETWORKS={networks}: {address}", problem)
    for networks in LINK_LOCAL_ONLY:
        tally.check(
            f"NOTIFY_ALLOWED_NETWORKS={networks} refused",
            refusal(base, "link-local", NOTIFY_ALLOWED_NETWORKS=networks),
        )
    for networks in WIDER_THAN_PRIVATE:
        problem = refusal(
            base,
            "wider than the private ranges",
            APP_ENV="production",
            NOTIFY_ALLOWED_NETWORKS=networks,
        )
        tally.check(f"production NOTIFY_ALLOWED_NETWORKS={networks} refused", problem)
    for networks in PRIVATE:
        try:
            settings(base, APP_ENV="production", NOTIFY_ALLOWED_NETWORKS=networks)
            problem = None
        except ValueError as exc:
            problem = f"refused: {exc}"
        tally.check(f"production NOTIFY_ALLOWED_NETWORKS={networks} accepted", problem)

    # And the process: production with everything open does not start, and says why.
    production = notifies["production"]
    assert production.process is not None
    try:
        code: int | None = production.process.wait(60)
    except subprocess.TimeoutExpired:
        code = None
    log = production.log_tail(20_000)
    tally.check(
        "production with 0.0.0.0/0 exits", None if code not in (None, 0) else f"exit code {code}"
    )
    said = "NOTIFY_ALLOWED_NETWORKS: 0.0.0.0/0 is wider than the private ranges" in log
    tally.check("production says why it does not start", None if said else log[-500:])
    tally.check(
        "production echoes no token", None if PRODUCTION_TOKEN[:8] not in log else "it does"
    )
    tally.report(capsys)


def settings(base: dict[str, str], **env: str) -> NotifySettings:
    values = {**base, "NOTIFY_DATABASE_URL": "sqlite://", **env}
    return NotifySettings(_env_file=None, **values)  # type: ignore[call-arg]


def refusal(base: dict[str, str], words: str, **env: str) -> str | None:
    try:
        settings(base, **env)
    except ValueError as exc:
        return None if words in str(exc) else f"refused, not saying {words!r}: {exc}"
    return "accepted"


class Endpoint:
    """An HTTP endpoint on a loopback address: records each request's path, answers the
    paths of ``redirects`` with (status, Location) and any other with 200 ``{}``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.redirects: dict[str, tuple[int, str]] = {}
        self.hits: list[str] = []
        lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    endpoint.hits.append(self.path)
                redirect = endpoint.redirects.get(self.path)
                if redirect is not None:
                    self.send_response(redirect[0])
                    self.send_header("Location", redirect[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = answer  # the names http.server calls

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def first_deliveries(
    client: httpx.Client, notify: str, auth: dict[str, str], subscriptions: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The first delivery of each subscription (by name), once each has been tried."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(found) < len(subscriptions):
        for name, sub_id in subscriptions.items():
            if name in found:
                continue
            items = client.get(
                notify + "/v1/deliveries", params={"subscription_id": sub_id}, headers=auth
            ).json()["items"]
            if items and items[-1]["attempts"] >= 1:
                found[name] = client.get(
                    notify + f"/v1/deliveries/{items[-1]['id']}", headers=auth
                ).json()
        time.sleep(0.3)
    return found


def test_redirects_are_never_followed_and_inward_ones_fail_at_once(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/SSRF redirects")
    lead = "西安市红会医院"
    notify = stack["notify"].url
    with Endpoint() as endpoint, Endpoint("127.0.0.2") as refused, Endpoint() as other:
        stolen = "/stolen"
        # (path, channel, status, Location, a word of the reason when the guard refuses
        # the Location: the delivery then fails at once; None: not followed, retried).
        cases = [
            (
                "/metadata",
                "webhook",
                307,
                "http://169.254.169.254/latest/meta-data/iam/",
                "cloud metadata service",
            ),
            (
                "/metadata-robot",
                "wecom",
                302,
                "http://169.254.169.254/latest/meta-data/",
                "cloud metadata service",
            ),
            ("/loopback-elsewhere", "webhook", 302, refused.url(stolen), "127.0.0.2 (loopback)"),
            ("/loopback-robot", "dingtalk", 307, refused.url(stolen), "127.0.0.2 (loopback)"),
            (
                "/mapped",
                "webhook",
                308,
                f"http://[::ffff:127.0.0.1]:{other.port}{stolen}",
                "IPv4-mapped",
            ),
            (
                "/numeric",
                "webhook",
                301,
                f"http://2130706433:{other.port}{stolen}",
                "write 127.0.0.1",
            ),
            ("/link-local", "webhook", 307, "http://[fe80::1]/", "link-local"),
            ("/allowed-elsewhere", "webhook", 302, other.url(stolen), None),
            ("/relative", "webhook", 303, stolen, None),
        ]
        endpoint.redirects = {path: (status, location) for path, _, status, location, _ in cases}
        with httpx.Client(timeout=30) as client:
            auth = bearer(new_bureau(client, notify, "重定向测试卫健委")["api_key"])
            subscriptions: dict[str, str] = {}
            for path, channel in [("/ok", "webhook"), *((c[0], c[1]) for c in cases)]:
                body = subscription(channel, endpoint.url(path), filters={"institutions": [lead]})
                answer = client.post(notify + "/v1/subscriptions", json=body, headers=auth)
                tally.check(f"subscribed {path}", created(answer))
                if answer.status_code == 201:
                    subscriptions[path] = answer.json()["id"]
            pushed = stack.push(demo_article(lead))
            tally.check("article pushed", None if pushed.status_code == 202 else pushed.text)
            found = first_deliveries(client, notify, auth, subscriptions)
            ok = found.get("/ok")
            tally.check(
                "the control endpoint got its alert",
                None if ok and ok["status"] == "delivered" else str(ok),
            )
            for path, _, status, location, word in cases:
                delivery = found.get(path)
                if delivery is None:
                    tally.check(path, "no delivery was tried")
                    continue
                first = delivery["log"][0]
                problem = None
                if first["status_code"] != status:
                    problem = f"first attempt {first['status_code']}, not {status}"
                elif f"redirect to {location} not followed" not in (first["error"] or ""):
                    problem = f"error: {first['error']}"
                elif word is not None and not (
                    delivery["status"] == "failed"
                    and delivery["next_attempt_at"] is None
                    and word in first["error"]
                ):
                    problem = (
                        f"not failed at once with its reason: {delivery['status']} {first['error']}"
                    )
                elif word is None and delivery["next_attempt_at"] is None:
                    problem = f"an allowed endpoint's redirect is not retried: {delivery['status']}"
                tally.check(f"{path} ({status} to {location})", problem)
        time.sleep(1)  # a follow would have happened by now
        followed = [*refused.hits, *other.hits, *(h for h in endpoint.hits if h == stolen)]
        tally.check("no redirect was followed", f"requested: {followed}" if followed else None)
    tally.report(capsys)
