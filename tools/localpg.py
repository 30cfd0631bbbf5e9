"""A private PostgreSQL cluster for tests and local runs, from Debian's server packages.

:func:`install` finds the newest ``/usr/lib/postgresql/<major>/bin`` (installing the
``postgresql`` package with apt-get when there is none). :class:`LocalPostgres` makes a
cluster in ``<workdir>/data`` once and runs it on 127.0.0.1 only, with its unix socket inside
the work directory, trust authentication and fsync off. PostgreSQL refuses to run as root,
so when we are root the server runs as the ``postgres`` system user that the Debian package
creates, and the work directory is handed to that user.

Command line::

    python -m tools.localpg install
    python -m tools.localpg start --dir .run/pg [--port 5432]   # detached
    python -m tools.localpg stop --dir .run/pg
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from tools.localkafka import free_port

SUPERUSER = "postgres"
DEFAULT_DATABASE = "alliance_watch"
SERVICE_USER = "postgres"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes, and the name ".s.PGSQL.NNNNN" is appended


class PostgresError(RuntimeError):
    """PostgreSQL could not be installed, started or used."""


def _say(message: str) -> None:
    print(f"[localpg] {message}", file=sys.stderr, flush=True)


def _version_key(bin_dir: str) -> tuple[int, ...]:
    major = Path(bin_dir).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", major)) or (0,)


def find_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server bin dir, or None."""
    candidates = [
        str(Path(initdb).parent)
        for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if os.access(initdb, os.X_OK)
    ]
    if not candidates:
        return None
    return Path(max(candidates, key=_version_key))


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)


def install() -> Path:
    """Return the server bin dir, installing Debian's ``postgresql`` package if needed."""
    found = find_bin_dir()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresError(
            "no PostgreSQL server in /usr/lib/postgresql/*/bin: install the `postgresql` package"
        )
    _say("installing PostgreSQL (Debian package `postgresql`) with apt-get")
    started = time.monotonic()
    install_args = ("install", "-y", "-q", "--no-install-recommends", "postgresql")
    lists = Path("/var/lib/apt/lists")
    has_lists = lists.is_dir() and any(lists.glob("*Packages*"))
    result = _apt_get(*install_args) if has_lists else None
    if result is None or result.returncode != 0:
        update = _apt_get("update", "-q")
        if update.returncode != 0:
            raise PostgresError(f"apt-get update failed:\n{update.stdout}{update.stderr}")
        result = _apt_get(*install_args)
    if result.returncode != 0:
        raise PostgresError(f"apt-get install postgresql failed:\n{result.stdout}{result.stderr}")
    found = find_bin_dir()
    if found is None:
        raise PostgresError("apt-get installed postgresql but no initdb was found")
    _say(f"installed PostgreSQL in {found} ({time.monotonic() - started:.1f}s)")
    return found


def _check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise PostgresError(f"not a plain database name: {name!r}")
    return name


class LocalPostgres:
    """A private PostgreSQL cluster in ``workdir``, listening on 127.0.0.1:``port``.

    ``port`` of None picks a free port, fixed for the life of this object. The superuser is
    ``postgres`` (trust authentication on loopback and the socket, no password).
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        bin_dir: Path | None = None,
        keep_running: bool = False,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        #: False: a server this process started is stopped when the process exits
        self.keep_running = keep_running
        self.port = port if port is not None else free_port()
        self._bin_dir = bin_dir
        self._socket_dir: Path | None = None
        #: seconds from pg_ctl start to the first successful connection, for the last start()
        self.start_seconds: float | None = None

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = install()
        return self._bin_dir

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        if self._socket_dir is None:
            wanted = self.workdir / "sock"
            if len(str(wanted)) + len("/.s.PGSQL.65535") > _SOCKET_PATH_MAX:
                wanted = Path(tempfile.mkdtemp(prefix="aw-pg-sock-"))
            self._socket_dir = wanted
        return self._socket_dir

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the default database (``alliance_watch``)."""
        return self.database_url(DEFAULT_DATABASE)

    def database_url(self, name: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    # running commands as the right user
    @staticmethod
    def _as_root() -> bool:
        return os.geteuid() == 0

    def _service_ids(self) -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError as missing:
            raise PostgresError(
                f"running as root, but there is no `{SERVICE_USER}` user to run PostgreSQL as "
                "(it comes with Debian's postgresql package)"
            ) from missing
        return entry.pw_uid, entry.pw_gid

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv = list(command)
        if self._as_root():
            argv = ["runuser", "-u", SERVICE_USER, "--", *argv]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
        )

    def _prepare_dirs(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if not self._as_root():
            return
        uid, gid = self._service_ids()
        for path in (self.workdir, self.socket_dir):
            os.chown(path, uid, gid)
        if self.data_dir.exists():
            for root, dirs, files in os.walk(self.data_dir):
                os.chown(root, uid, gid)
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), uid, gid)
        check = self._run("test", "-w", str(self.workdir), "-a", "-x", str(self.workdir))
        if check.returncode != 0:
            raise PostgresError(
                f"the `{SERVICE_USER}` user cannot reach {self.workdir}: a parent directory is "
                "closed to other users; use a work directory under a world-traversable path "
                "(e.g. made by tempfile.mkdtemp() in /tmp, or inside the repository)"
            )

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        result = self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tools/localpg.py\ninclude_if_exists = 'localpg.conf'\n")

    def _write_settings(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        path = self.data_dir / "localpg.conf"
        path.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        if self._as_root():
            uid, gid = self._service_ids()
            os.chown(path, uid, gid)

    def _connect_ok(self, dbname: str = "postgres") -> bool:
        import psycopg

        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=dbname, connect_timeout=2
            ) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "status")
        return result.returncode == 0

    def start(self, timeout: float = 60) -> None:
        """initdb once, start the server and return once a real connection succeeds."""
        if self.is_running():
            raise PostgresError(f"a PostgreSQL server from {self.data_dir} is already running")
        self._prepare_dirs()
        self._initdb()
        self._write_settings()
        started = time.monotonic()
        result = self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise PostgresError(
                f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self._log_tail()}"
            )
        deadline = started + timeout
        while not self._connect_ok():
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresError(
                    f"PostgreSQL did not accept connections within {timeout:.0f}s\n"
                    + self._log_tail()
                )
            time.sleep(0.1)
        self.start_seconds = time.monotonic() - started
        if not self.keep_running:
            _RUNNING.add(self)
        self.create_database(DEFAULT_DATABASE)

    def _log_tail(self, lines: int = 40) -> str:
        try:
            content = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"tail of {self.log_path}:\n" + "\n".join(content[-lines:])

    def stop(self, timeout: float = 60) -> None:
        """Stop the server (fast shutdown: open sessions are ended)."""
        _RUNNING.discard(self)
        if not self.is_running():
            return
        result = self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
            timeout=timeout + 10,
        )
        if result.returncode != 0 and self.is_running():
            raise PostgresError(f"pg_ctl stop failed:\n{result.stdout}\n{result.stderr}")

    def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        _check_identifier(name)
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending its sessions."""
        import psycopg
        from psycopg import sql

        _check_identifier(name)
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

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


#: Servers started by this process that must not outlive it.
_RUNNING: set[LocalPostgres] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop(timeout=10)


def _ports_file(workdir: Path) -> Path:
    return workdir / "port"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.localpg",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="make sure Debian's PostgreSQL server is installed")
    p_start = sub.add_parser("start", help="start a detached cluster in a directory")
    p_start.add_argument("--dir", required=True, type=Path)
    p_start.add_argument("--port", type=int, default=None, help="default: the last one, or 5432")
    for name in ("stop", "status"):
        sub.add_parser(name).add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(install())
            return 0
        workdir = Path(args.dir).resolve()
        saved = _ports_file(workdir)
        port = args.port if getattr(args, "port", None) else None
        if port is None and saved.exists():
            with contextlib.suppress(ValueError):
                port = int(saved.read_text().strip())
        pg = LocalPostgres(workdir, port=port or 5432, keep_running=True)
        if args.command == "start":
            if pg.is_running():
                _say(f"already running from {pg.data_dir}")
            else:
                pg.start()
                saved.write_text(f"{pg.port}\n")
                _say(f"ready in {pg.start_seconds:.1f}s")
            print(pg.url)
            return 0
        if args.command == "stop":
            pg.stop()
            return 0
        if args.command == "status":
            running = pg.is_running()
            print(f"{'running' if running else 'stopped'} ({pg.data_dir})")
            return 0 if running else 3
    except PostgresError as error:
        print(f"[localpg] error: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
