"""A real Apache Kafka broker for tests and ``make run``, started natively from its jars.

The jars come from Maven Central: ``tools/kafka/pom.xml`` names ``kafka_2.13`` and a logging
binding, and :func:`install` has Maven copy them, with everything they depend on, into
``.cache/kafka/<version>/libs/``. Nothing else is downloaded and no Kafka distribution
archive is used.

:class:`LocalKafka` runs one node in KRaft mode that is both broker and controller,
listening on 127.0.0.1 only. Its data lives in ``<workdir>/data`` and survives a restart
with the same work directory and ports.

Command line::

    python -m tools.localkafka install
    python -m tools.localkafka start --dir .run/kafka --port 9092 [--controller-port 9093]
    python -m tools.localkafka run --dir .run/kafka --port 9092      # in the foreground
    python -m tools.localkafka status --dir .run/kafka
    python -m tools.localkafka stop --dir .run/kafka
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

REPO = Path(__file__).resolve().parent.parent
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
DEFAULT_CACHE = REPO / ".cache"
MARKER = ".installed"
PID_FILE = "kafka.pid"
LOG_FILE = "kafka.log"
NODE_ID = 1
HEAP_OPTS = ("-Xms256m", "-Xmx512m")
JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    # The optimising compiler (C2) kept compiling for minutes after start-up and took
    # about a third of the broker's CPU under load, on a machine whose two cores the
    # services share; the quick compiler's code serves a local broker's load as well.
    "-XX:TieredStopAtLevel=1",
)
_T = TypeVar("_T")


class KafkaError(RuntimeError):
    """The broker could not be installed, started or stopped."""


def _say(message: str) -> None:
    print(f"[localkafka] {message}", file=sys.stderr, flush=True)


# --- install ---------------------------------------------------------------------------


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version that ``tools/kafka/pom.xml`` asks for."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise KafkaError(f"no <kafka.version> property in {pom}")
    return (node.text or "").strip()


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise KafkaError("no `java` on PATH (install a JDK 17, e.g. openjdk-17-jre-headless)")
    return found


def _ensure_build_tools() -> None:
    """Install a JDK and Maven from Debian's packages when they are missing and we may."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise KafkaError(f"missing {', '.join(missing)}: install a JDK (17+) and Maven")
    _say(f"installing {' and '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    packages = ["openjdk-17-jdk-headless", "maven"]
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(root: Path = DEFAULT_CACHE) -> Path:
    """Resolve the broker's jars into ``root/kafka/<version>/libs`` once; return that dir.

    A marker written only after a complete copy (and recording the pom it came from) makes
    later calls return at once. Maven's own repository is kept in ``root/m2``.
    """
    version = kafka_version()
    home = root / "kafka" / version
    libs = home / "libs"
    marker = home / MARKER
    digest = _pom_digest(POM)
    if marker.exists() and marker.read_text().strip() == digest and libs.is_dir():
        return libs
    with _locked(root / "kafka" / ".lock"):
        if marker.exists() and marker.read_text().strip() == digest and libs.is_dir():
            return libs
        _ensure_build_tools()
        _say(f"resolving Apache Kafka {version} from Maven Central into {libs}")
        started = time.monotonic()
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        marker.unlink(missing_ok=True)
        command = [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            f"-Dmaven.repo.local={root / 'm2'}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            raise KafkaError("maven could not resolve Kafka:\n" + "\n".join(output[-40:]))
        jars = sorted(staging.glob("*.jar"))
        if not any(jar.name.startswith(f"kafka_2.13-{version}") for jar in jars):
            raise KafkaError(f"maven finished but {staging} holds no kafka_2.13-{version} jar")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(digest + "\n")
        _say(f"installed {len(jars)} jars in {time.monotonic() - started:.1f}s")
    return libs


# --- helpers ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _random_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _tail(path: Path, lines: int = 60) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(content[-lines:])


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion from sync code, even when an event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


async def _probe(bootstrap_servers: str, timeout: float) -> bool:
    """True once the broker answers a metadata request and lists itself as a broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=max(1000, int(timeout * 1000)),
        retry_backoff_ms=100,
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return bool(cluster.get("brokers"))
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


# --- the broker ------------------------------------------------------------------------

#: Brokers started by this process that must not outlive it.
_RUNNING: set[LocalKafka] = set()


@atexit.register
def _stop_leftovers() -> None:
    for broker in list(_RUNNING):
        with contextlib.suppress(Exception):
            broker.stop(timeout=10)


class LocalKafka:
    """One KRaft broker+controller on 127.0.0.1, run from the jars :func:`install` put in place.

    ``port`` / ``controller_port`` of None pick free loopback ports (fixed for the life of
    this object, so stop() then start() keeps them). Data is kept in ``workdir/data``; the
    storage is formatted only once.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        libs: Path | None = None,
        keep_running: bool = False,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.port = port if port is not None else free_port()
        self.controller_port = controller_port if controller_port is not None else free_port()
        if self.controller_port == self.port:
            raise KafkaError("the broker and controller ports must differ")
        self._libs = libs
        #: False: a broker this process started is stopped when the process exits
        self.keep_running = keep_running
        self._proc: subprocess.Popen[bytes] | None = None
        #: seconds from spawning the JVM to the broker answering, for the last start()
        self.start_seconds: float | None = None

    # paths
    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / LOG_FILE

    @property
    def pid_path(self) -> Path:
        return self.workdir / PID_FILE

    @property
    def properties_path(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        if self._libs is None:
            self._libs = install()
        return self._libs

    # configuration
    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.hours": "168",
            "log.cleaner.backoff.ms": "5000",
            "delete.topic.enable": "true",
            "controlled.shutdown.enable": "true",
        }
        body = "".join(f"{key}={value}\n" for key, value in properties.items())
        self.properties_path.write_text("# written by tools/localkafka.py on every start\n" + body)
        (self.workdir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\n"
            "log4j.logger.org.apache.kafka=INFO\n"
            "log4j.logger.kafka.request.logger=WARN\n"
            "log4j.logger.kafka.log.LogCleaner=INFO\n"
            "log4j.logger.state.change.logger=WARN\n"
            "log4j.logger.kafka.authorizer.logger=WARN\n"
        )

    def _java_command(self, main: str, *args: str) -> list[str]:
        return [
            _java(),
            *HEAP_OPTS,
            *JVM_OPTS,
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.workdir / 'logs'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _format_storage(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self._java_command(
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            _random_cluster_id(),
            "-c",
            str(self.properties_path),
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise KafkaError(
                f"formatting {self.data_dir} failed:\n{result.stdout}\n{result.stderr}"
            )

    # process
    def _pid(self) -> int | None:
        """The broker's pid if it runs: our child, or the one named by the pid file."""
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc.pid
            self._proc = None
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        cmdline = _cmdline(pid)
        ours = "kafka.Kafka" in cmdline and str(self.properties_path) in cmdline
        return pid if ours else None

    def is_running(self) -> bool:
        return self._pid() is not None

    def is_ready(self, timeout: float = 5.0) -> bool:
        """True when the broker answers an admin client's metadata request."""
        return self.is_running() and _run_coroutine(_probe(self.bootstrap_servers, timeout))

    def start(self, timeout: float = 90) -> None:
        """Start the broker and return once it answers an admin client; else raise."""
        if self.is_running():
            raise KafkaError(f"a broker from {self.workdir} is already running")
        for port in (self.port, self.controller_port):
            if _port_open(port):
                raise KafkaError(f"port {port} on 127.0.0.1 is already in use")
        libs = self.libs
        self._write_config()
        self._format_storage()
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"\n===== starting broker {time.ctime()} =====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._java_command("kafka.Kafka", str(self.properties_path)),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        if not self.keep_running:
            _RUNNING.add(self)
        deadline = started + timeout
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                self.pid_path.unlink(missing_ok=True)
                raise KafkaError(
                    f"the Kafka broker exited with code {code} while starting "
                    f"(libs {libs}); tail of {self.log_path}:\n{_tail(self.log_path)}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise KafkaError(
                    f"the Kafka broker was not ready after {timeout:.0f}s; "
                    f"tail of {self.log_path}:\n{_tail(self.log_path)}"
                )
            if _port_open(self.port) and _run_coroutine(
                _probe(self.bootstrap_servers, min(5.0, max(remaining, 0.5)))
            ):
                break
            time.sleep(0.2)
        self.start_seconds = time.monotonic() - started
        _say(f"broker ready on {self.bootstrap_servers} in {self.start_seconds:.1f}s")

    def _signal_and_wait(self, pid: int, sig: signal.Signals, timeout: float) -> bool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return False

    def stop(self, timeout: float = 30) -> None:
        """Stop the broker: SIGTERM (a clean shutdown), then SIGKILL after ``timeout``."""
        pid = self._pid()
        if pid is not None and not self._signal_and_wait(pid, signal.SIGTERM, timeout):
            _say(f"broker {pid} did not stop within {timeout:.0f}s; killing it")
            self._signal_and_wait(pid, signal.SIGKILL, 10)
        self._forget()

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would."""
        pid = self._pid()
        if pid is not None:
            self._signal_and_wait(pid, signal.SIGKILL, 10)
        self._forget()

    def _forget(self) -> None:
        _RUNNING.discard(self)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
        self._proc = None
        self.pid_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- command line ----------------------------------------------------------------------


def _ports_file(workdir: Path) -> Path:
    return workdir / "ports"


def _from_dir(workdir: Path, port: int | None, controller_port: int | None) -> LocalKafka:
    """A LocalKafka for ``workdir``, reusing the ports it last ran with when none are given."""
    saved = _ports_file(workdir)
    if saved.exists():
        with contextlib.suppress(ValueError):
            old_port, old_controller = (int(p) for p in saved.read_text().split())
            port = old_port if port is None else port
            controller_port = old_controller if controller_port is None else controller_port
    if port is None:
        port = 9092
    if controller_port is None:
        controller_port = port + 1 if not _port_open(port + 1) else free_port()
    return LocalKafka(workdir, port=port, controller_port=controller_port, keep_running=True)


def _save_ports(kafka: LocalKafka) -> None:
    _ports_file(kafka.workdir).write_text(f"{kafka.port} {kafka.controller_port}\n")


def _cli_start(args: argparse.Namespace, foreground: bool) -> int:
    kafka = _from_dir(Path(args.dir), args.port, args.controller_port)
    if kafka.is_running():
        if kafka.is_ready():
            _say(f"a broker from {kafka.workdir} is already running and ready")
            print(kafka.bootstrap_servers)
            return 0
        raise KafkaError(
            f"a broker from {kafka.workdir} runs (pid file {kafka.pid_path}) but does not "
            f"answer on {kafka.bootstrap_servers}; stop it first"
        )
    kafka.start(timeout=args.timeout)
    _save_ports(kafka)
    print(kafka.bootstrap_servers, flush=True)
    if not foreground:
        _say(f"running detached (pid file {kafka.pid_path}, log {kafka.log_path})")
        return 0
    stopping = False

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        while not stopping and kafka.is_running():
            time.sleep(0.5)
    finally:
        _say("stopping the broker")
        kafka.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.localkafka",
        description=__doc__,
        epilog=(
            "settings (read from the environment):\n"
            "  JAVA_HOME=(empty)\n"
            "      the JDK whose bin/java runs the broker; empty: the java on PATH"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="resolve the broker's jars (idempotent)")
    p_install.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    for name, help_text in (
        ("start", "start a detached broker and wait until it is ready"),
        ("run", "run a broker in the foreground until Ctrl-C"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--dir", required=True, type=Path)
        p.add_argument("--port", type=int, default=None, help="default 9092 (or the last one)")
        p.add_argument("--controller-port", type=int, default=None)
        p.add_argument("--timeout", type=float, default=90)
    for name, help_text in (
        ("stop", "stop the broker of a directory"),
        ("status", "say whether the broker of a directory runs"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--dir", required=True, type=Path)
        if name == "stop":
            p.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(install(args.cache))
            return 0
        if args.command in ("start", "run"):
            return _cli_start(args, foreground=args.command == "run")
        kafka = _from_dir(Path(args.dir), None, None)
        if args.command == "stop":
            if not kafka.is_running():
                _say(f"no broker running from {kafka.workdir}")
                kafka.pid_path.unlink(missing_ok=True)
                return 0
            kafka.stop(timeout=args.timeout)
            _say("broker stopped")
            return 0
        if args.command == "status":
            pid = kafka._pid()
            if pid is None:
                print(f"stopped ({kafka.workdir})")
                return 3
            state = "ready" if kafka.is_ready() else "not answering"
            print(f"running pid {pid} on {kafka.bootstrap_servers}: {state}")
            return 0 if state == "ready" else 1
    except KafkaError as error:
        print(f"[localkafka] error: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
