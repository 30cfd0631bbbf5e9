"""Runs the whole system on one machine: the local Kafka broker and the four services.

    python -m tools.stack up       # start in the background, return once all are ready
    python -m tools.stack run      # up, push the demo articles, wait; Ctrl-C stops all
    python -m tools.stack down     # stop everything this checkout started
    python -m tools.stack status

State (pid files, logs, SQLite files, the broker's data) lives in ``.run/``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / ".run"
ENV_FILE = ROOT / ".env"
DEMO = ROOT / "demo" / "articles.jsonl"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port_setting: str
    default_port: int

    @property
    def port(self) -> int:
        return int(_setting(self.port_setting, str(self.default_port)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    ServiceSpec("ingest", "INGEST_PORT", 8001),
    ServiceSpec("registry", "REGISTRY_PORT", 8002),
    ServiceSpec("notify", "NOTIFY_PORT", 8003),
    ServiceSpec("extract", "EXTRACT_PORT", 8004),
)


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def _dotenv() -> dict[str, str]:
    values: dict[str, str] = {}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values


def _setting(name: str, default: str) -> str:
    return os.environ.get(name) or _dotenv().get(name) or default


def _token() -> str:
    return secrets.token_urlsafe(24)


def _sealing_key() -> str:
    """A key for NOTIFY_SECRETS_KEY: 32 random bytes, url-safe base64 (Fernet's form)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


#: Secrets `make run` / `make up` generate on first use: what they are for, how made.
GENERATED_SECRETS: dict[str, tuple[str, Callable[[], str]]] = {
    "INGEST_API_TOKENS": ("crawler token", _token),
    "NOTIFY_OPERATOR_TOKEN": ("notify operator token", _token),
    "REGISTRY_OPERATOR_TOKEN": ("registry operator token", _token),
    "NOTIFY_SECRETS_KEY": ("notify secrets key", _sealing_key),
}


def ensure_env_file() -> None:
    """Write a git-ignored .env with generated secrets, adding any it lacks; say which."""
    present = _dotenv()
    missing = [name for name in GENERATED_SECRETS if name not in present]
    if not missing:
        return
    lines = []
    if not ENV_FILE.exists():
        lines += [
            "# Written by `make run` / `make up` on first use; edit freely. Never commit it.",
            "APP_ENV=development",
        ]
    generated = {name: GENERATED_SECRETS[name][1]() for name in missing}
    lines += [f"{name}={value}" for name, value in generated.items()]
    with ENV_FILE.open("a", encoding="utf-8") as env:
        env.write("\n".join(lines) + "\n")
    ENV_FILE.chmod(0o600)
    say(f"wrote new secrets to {ENV_FILE.name}:")
    for name, value in generated.items():
        say(f"  {GENERATED_SECRETS[name][0]:24} {name}={value}")


def _kafka_dir() -> Path:
    return RUN / "kafka"


def _kafka_bootstrap() -> str:
    return _setting("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def _uses_local_kafka() -> bool:
    """Start our own broker unless the settings point at another one."""
    host, _, port = _kafka_bootstrap().partition(",")[0].rpartition(":")
    return host in ("127.0.0.1", "localhost") and bool(port)


def start_kafka() -> None:
    if not _uses_local_kafka():
        say(f"using the existing Kafka at {_kafka_bootstrap()}")
    else:
        port = _kafka_bootstrap().split(",")[0].rpartition(":")[2]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.localkafka",
                "start",
                "--dir",
                str(_kafka_dir()),
                "--port",
                port,
            ],
            cwd=ROOT,
            check=True,
        )
    partitions = _setting("KAFKA_PARTITIONS", "6")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.topics",
            "--bootstrap",
            _kafka_bootstrap(),
            "--partitions",
            partitions,
            "--prefix",
            _setting("TOPIC_PREFIX", ""),
        ],
        cwd=ROOT,
        check=True,
    )


def _pid_file(service: str) -> Path:
    return RUN / f"{service}.pid"


def _running_pid(service: str) -> int | None:
    path = _pid_file(service)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"services." not in cmdline.read_bytes():
        path.unlink(missing_ok=True)  # the pid was reused by something else
        return None
    return pid


def start_service(spec: ServiceSpec) -> None:
    if _running_pid(spec.name) is not None:
        say(f"{spec.name} already running")
        return
    log = (RUN / f"{spec.name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{spec.name}"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the terminal reaches only us; we stop them
    )
    _pid_file(spec.name).write_text(str(process.pid))
    say(f"started {spec.name} (pid {process.pid}) on {spec.url}, log .run/{spec.name}.log")


def wait_ready(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = list(SERVICES)
    while pending and time.monotonic() < deadline:
        for spec in list(pending):
            if _running_pid(spec.name) is None:
                raise SystemExit(f"{spec.name} exited; see .run/{spec.name}.log")
            try:
                if httpx.get(spec.url + "/readyz", timeout=2).status_code == 200:
                    say(f"{spec.name} ready")
                    pending.remove(spec)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        names = ", ".join(s.name for s in pending)
        raise SystemExit(f"not ready after {timeout:.0f}s: {names}; see .run/*.log")


def up() -> None:
    RUN.mkdir(exist_ok=True)
    ensure_env_file()
    started = time.monotonic()
    start_kafka()
    for spec in SERVICES:
        start_service(spec)
    wait_ready()
    say(f"all services ready in {time.monotonic() - started:.1f}s")


def down() -> None:
    for spec in SERVICES:
        pid = _running_pid(spec.name)
        if pid is None:
            continue
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, 25):
            say(f"{spec.name} did not stop in time; killing it")
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
        _pid_file(spec.name).unlink(missing_ok=True)
        say(f"stopped {spec.name}")
    if _uses_local_kafka() and (_kafka_dir() / "kafka.pid").exists():
        subprocess.run(
            [sys.executable, "-m", "tools.localkafka", "stop", "--dir", str(_kafka_dir())],
            cwd=ROOT,
            check=False,
        )


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A child we started in this process must be reaped, or it lingers as a zombie.
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def status() -> int:
    code = 0
    for spec in SERVICES:
        pid = _running_pid(spec.name)
        state = "stopped"
        if pid is not None:
            try:
                answer = httpx.get(spec.url + "/readyz", timeout=2)
                state = f"pid {pid}, " + ("ready" if answer.status_code == 200 else "not ready")
            except httpx.HTTPError:
                state = f"pid {pid}, not answering"
        if "ready" not in state or "not" in state:
            code = 1
        say(f"{spec.name:9} {state}")
    return code


def push_demo() -> None:
    token = _setting("INGEST_API_TOKENS", "").split(",")[0]
    ingest = SERVICES[0].url
    lines = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line]
    answer = httpx.post(
        ingest + "/v1/articles/batch",
        json=lines,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    answer.raise_for_status()
    result = answer.json()
    say(
        f"pushed {len(lines)} demo articles: {result['accepted']} accepted, "
        f"{result['duplicates']} already known, {result['rejected']} rejected"
    )


def registry_summary(registry: str, wait: float = 20) -> str:
    """How many alliances the demo articles gave, once the pipeline has caught up."""
    deadline = time.monotonic() + wait
    count = 0
    while time.monotonic() < deadline:
        try:
            count = len(httpx.get(registry + "/v1/alliances", timeout=5).json()["items"])
        except (httpx.HTTPError, KeyError, ValueError):
            count = 0
        if count >= 4:
            break
        time.sleep(0.5)
    return f"({count} alliances so far)"


def run() -> None:
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        up()
        push_demo()
        ingest, registry, notify = (s.url for s in SERVICES[:3])
        say("Alliance Watch is running:")
        say(f"  ingest    {ingest}/docs   (POST /v1/articles with the crawler token in .env)")
        say(f"  registry  {registry}/docs   dashboard {registry}/   {registry_summary(registry)}")
        say(f"  notify    {notify}/docs")
        say("  metrics   /metrics on every service; logs in .run/*.log")
        say("Press Ctrl-C to stop.")
        while not stopping:
            time.sleep(0.5)
            for spec in SERVICES:
                if _running_pid(spec.name) is None:
                    say(f"{spec.name} stopped unexpectedly; see .run/{spec.name}.log")
                    stopping = True
    finally:
        say("stopping ...")
        down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "run", "status", "demo"])
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.command == "up":
        up()
    elif args.command == "down":
        down()
    elif args.command == "run":
        run()
    elif args.command == "demo":
        push_demo()
    else:
        return status()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
