"""Runs the whole system on one machine: the local Kafka broker and the four services.

    python -m tools.stack up       # start in the background, return once all are ready
    python -m tools.stack run      # up, push the demo articles, wait; Ctrl-C stops all
    python -m tools.stack down     # stop everything this checkout started
    python -m tools.stack status   # which services run, where, and whether they are ready

State (pid files, logs, SQLite files, the broker's data) lives in ``.run/`` (``AW_RUN_DIR``
to choose another directory). ``up`` records the ports and URLs it used in
``.run/stack.json``, so ``status`` and ``down`` find services started on other ports than
the defaults without the variables that chose them.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic_settings import BaseSettings

from services.common.cli import settings_of
from services.extract.config import ExtractSettings
from services.ingest.config import IngestSettings
from services.notify.config import NotifySettings
from services.registry.config import RegistrySettings

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(os.environ.get("AW_RUN_DIR") or ROOT / ".run").resolve()
ENV_FILE = ROOT / ".env"
DEMO = ROOT / "demo" / "articles.jsonl"
#: What ``up`` started, where: read by ``status`` and ``down``.
STACK_FILE = RUN / "stack.json"
DEFAULT_KAFKA = "127.0.0.1:9092"


def _shown(path: Path) -> str:
    """A path as the operator would type it: relative to the checkout when inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def settings_of_field(settings: type[BaseSettings], field: str) -> tuple[str, ...]:
    """The variables that set ``settings``' field ``field``, the preferred one first."""
    index = list(settings.model_fields).index(field)
    return settings_of(settings)[index].names


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    settings: type[BaseSettings]

    @property
    def port_setting(self) -> str:
        return settings_of_field(self.settings, "port")[0]

    @property
    def default_port(self) -> int:
        return int(self.settings.model_fields["port"].default)

    @property
    def database_setting(self) -> str | None:
        if "database_url" not in self.settings.model_fields:
            return None
        return settings_of_field(self.settings, "database_url")[0]

    @property
    def port(self) -> int:
        """The port ``up`` recorded while the service runs, else the one its settings give."""
        recorded = _recorded().get("services", {}).get(self.name) or {}
        pid = _running_pid(self.name)
        if pid is not None and recorded.get("pid") == pid:
            return int(recorded["port"])
        return int(_setting(self.port_setting, str(self.default_port)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return RUN / f"{self.name}.log"


SERVICES = (
    ServiceSpec("ingest", IngestSettings),
    ServiceSpec("registry", RegistrySettings),
    ServiceSpec("notify", NotifySettings),
    ServiceSpec("extract", ExtractSettings),
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
    "NOTIFY_UNSUBSCRIBE_SECRET": ("notify unsubscribe link key", _token),
}


def ensure_env_file() -> None:
    """Write a git-ignored .env with generated secrets, adding any it lacks (and the
    environment does not set); say which."""
    present = _dotenv()
    missing = [
        name for name in GENERATED_SECRETS if name not in present and not os.environ.get(name)
    ]
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


# --- what `up` started, recorded for `status` and `down` ----------------------------------


def _recorded() -> dict[str, Any]:
    """The record ``up`` wrote (``.run/stack.json``), or nothing."""
    try:
        data = json.loads(STACK_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record() -> dict[str, Any]:
    """Write ``.run/stack.json``: the ports, URLs, pids and logs of what runs now."""
    registry = SERVICES[1].url
    data = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_dir": str(RUN),
        "kafka": {
            "bootstrap_servers": _kafka_bootstrap(),
            "local": _uses_local_kafka(),
            "dir": str(_kafka_dir()),
        },
        "topic_prefix": _setting("TOPIC_PREFIX", ""),
        "services": {
            spec.name: {
                "port": spec.port,
                "url": spec.url,
                "docs": spec.url + "/docs",
                "pid": _running_pid(spec.name),
                "log": str(spec.log),
            }
            for spec in SERVICES
        },
        "dashboard": registry + "/",
        "portal": SERVICES[2].url + "/portal/",
        "env_file": str(ENV_FILE),
    }
    STACK_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data


# --- Kafka -------------------------------------------------------------------------------


def _kafka_dir() -> Path:
    return RUN / "kafka"


def _kafka_bootstrap() -> str:
    """The broker ``up`` recorded while our local one runs, else the settings' one."""
    recorded = _recorded().get("kafka", {})
    if recorded.get("local") and (_kafka_dir() / "kafka.pid").exists():
        return str(recorded["bootstrap_servers"])
    return _setting("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)


def _uses_local_kafka() -> bool:
    """Start our own broker unless the settings point at another one."""
    host, _, port = _kafka_bootstrap().partition(",")[0].rpartition(":")
    return host in ("127.0.0.1", "localhost") and bool(port)


def _kafka_answers(timeout: float = 2) -> bool:
    host, _, port = _kafka_bootstrap().partition(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


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


# --- the services ------------------------------------------------------------------------


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
    # A service just started may still show our command line, or none (forked, not yet
    # exec'd): only another program's command line means that the pid was reused.
    command = cmdline.read_bytes() if cmdline.exists() else b""
    if command and not any(word in command for word in (b"services.", b"tools.stack")):
        path.unlink(missing_ok=True)  # the pid was reused by something else
        return None
    return pid


def _service_env(spec: ServiceSpec) -> dict[str, str]:
    """The service's environment: ours, with its SQLite file in the run directory unless
    its database is set, and its port as chosen."""
    env = dict(os.environ)
    env[spec.port_setting] = str(spec.port)
    env["KAFKA_BOOTSTRAP_SERVERS"] = _kafka_bootstrap()
    database = spec.database_setting
    if database and not _setting(database, ""):
        env[database] = f"sqlite:///{RUN / (spec.name + '.db')}"
    return env


def start_service(spec: ServiceSpec) -> None:
    if _running_pid(spec.name) is not None:
        say(f"{spec.name} already running on {spec.url}")
        return
    log = spec.log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{spec.name}"],
        cwd=ROOT,
        env=_service_env(spec),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the terminal reaches only us; we stop them
    )
    _pid_file(spec.name).write_text(str(process.pid))
    say(f"started {spec.name} (pid {process.pid}) on {spec.url}, log {_shown(spec.log)}")


def wait_ready(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = list(SERVICES)
    while pending and time.monotonic() < deadline:
        for spec in list(pending):
            if _running_pid(spec.name) is None:
                raise SystemExit(f"{spec.name} exited; see {_shown(spec.log)}")
            try:
                if httpx.get(spec.url + "/readyz", timeout=2).status_code == 200:
                    say(f"{spec.name} ready")
                    pending.remove(spec)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        names = ", ".join(s.name for s in pending)
        raise SystemExit(f"not ready after {timeout:.0f}s: {names}; see {_shown(RUN)}/*.log")


def summary() -> list[str]:
    """Where everything is: each service, the dashboard, the API docs, tokens and logs."""
    present = _dotenv()
    registry = SERVICES[1].url
    lines = ["Alliance Watch is running:"]
    for spec in SERVICES:
        lines.append(f"  {spec.name:9} {spec.url:24} API docs {spec.url}/docs")
    lines += [
        f"  dashboard {registry}/",
        f"  portal    {SERVICES[2].url}/portal/ (bureaus sign in with their API key)",
        f"  kafka     {_kafka_bootstrap()}"
        + (f" (local broker, data in {_shown(_kafka_dir())})" if _uses_local_kafka() else ""),
    ]
    for name, (what, _) in GENERATED_SECRETS.items():
        # The environment's value wins over the file's, as in the services' settings.
        where = "the environment" if os.environ.get(name) else _shown(ENV_FILE)
        if name in present or os.environ.get(name):
            lines.append(f"  {what:24} {name} in {where}")
    lines += [
        f"  logs      {_shown(RUN)}/<service>.log (JSON lines), "
        f"the broker's in {_shown(_kafka_dir())}/kafka.log",
        "  metrics   /metrics on every service; health /healthz, readiness /readyz",
        f"  recorded  in {_shown(STACK_FILE)}: `make status` and `make down` read it",
    ]
    return lines


def up() -> None:
    RUN.mkdir(parents=True, exist_ok=True)
    ensure_env_file()
    started = time.monotonic()
    start_kafka()
    for spec in SERVICES:
        start_service(spec)
    record()
    try:
        wait_ready()
    finally:
        record()
    say(f"all services ready in {time.monotonic() - started:.1f}s")
    for line in summary():
        say(line)


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
    STACK_FILE.unlink(missing_ok=True)


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
    """Say which services run, where, and whether they are ready; 0 when all are."""
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
        say(f"{spec.name:9} {spec.url:24} {state}")
    if _uses_local_kafka():
        running = (_kafka_dir() / "kafka.pid").exists()
        kafka_state = (
            ("answering" if _kafka_answers() else "not answering") if running else "stopped"
        )
    else:
        kafka_state = "answering" if _kafka_answers() else "not answering (an external broker)"
    say(f"{'kafka':9} {_kafka_bootstrap():24} {kafka_state}")
    if STACK_FILE.exists():
        say(f"(ports as recorded by `make up` in {_shown(STACK_FILE)})")
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
        say(f"the demo articles gave {registry_summary(SERVICES[1].url)[1:-1]}")
        say("Press Ctrl-C to stop.")
        while not stopping:
            time.sleep(0.5)
            for spec in SERVICES:
                if _running_pid(spec.name) is None:
                    say(f"{spec.name} stopped unexpectedly; see {_shown(spec.log)}")
                    stopping = True
    finally:
        say("stopping ...")
        down()


COMMANDS = {
    "up": "start the broker (unless KAFKA_BOOTSTRAP_SERVERS names another) and the four "
    "services in the background; return once all are ready, saying where everything is",
    "down": "stop what `up` started (the ports as it recorded them), leaving no process behind",
    "run": "`up`, push the demo articles, and wait; Ctrl-C stops everything",
    "status": "which services run, on which ports, and whether they are ready (exit 1 if any "
    "is not)",
    "demo": "push the demo articles (demo/articles.jsonl) to the running ingest",
}


def _settings_help() -> str:
    lines = ["settings (read from the environment, then .env; the default after '='):"]
    for spec in SERVICES:
        lines.append(f"  {spec.port_setting}={spec.default_port}")
        lines.append(f"      the {spec.name} service's port")
        if spec.database_setting:
            lines.append(f"  {spec.database_setting}=(empty)")
            lines.append(f"      the {spec.name} database; empty: sqlite in the run directory")
    lines += [
        f"  KAFKA_BOOTSTRAP_SERVERS={DEFAULT_KAFKA}",
        "      a loopback address: a local broker on that port, data in <run dir>/kafka",
        "  KAFKA_PARTITIONS=6",
        "      partitions of each topic created",
        "  TOPIC_PREFIX=(empty)",
        "      prefix of every topic name",
    ]
    for name, (what, _) in GENERATED_SECRETS.items():
        lines.append(f"  {name}=(generated into .env on first use)")
        lines.append(f"      the {what}")
    lines += [
        f"  AW_RUN_DIR={_shown(ROOT / '.run')}",
        "      pid files, logs, SQLite files, the broker's data and stack.json",
        "",
        "Every service reads many more settings: `python -m services.<name> --help`.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    width = max(len(c) for c in COMMANDS)
    listing = "\n".join(
        textwrap.fill(
            text, 88, initial_indent=f"  {c:<{width}}  ", subsequent_indent=" " * (width + 4)
        )
        for c, text in COMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m tools.stack",
        description=__doc__,
        epilog=f"commands:\n{listing}\n\n{_settings_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS)
    )
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
