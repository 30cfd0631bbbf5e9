"""Every command explains itself: each service (``python -m services.X``) and each tool
(``python -m tools.X``, found by its ``__main__`` guard, so a new one is covered) and each
command of ``services/common`` (``python -m services.common.dlq``) answers
``--help`` and ``-h`` with its usage, exits 0 and starts nothing; an unknown option or
command is an error (exit 2). A service's help names its commands and every setting it
reads, as its settings class defines them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.common.cli import settings_of
from services.extract.config import ExtractSettings
from services.ingest.config import IngestSettings
from services.notify.config import NotifySettings
from services.registry.config import RegistrySettings
from tools.localkafka import free_port

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60  # seconds: help takes about one; a server would never end by itself

SERVICES = {
    "ingest": (IngestSettings, []),
    "extract": (ExtractSettings, ["serve", "replay", "files"]),
    "registry": (RegistrySettings, ["serve"]),
    "notify": (NotifySettings, ["serve", "new-secrets-key", "reseal-secrets"]),
}


def tool_modules() -> list[str]:
    """Every module of tools/ that runs as a command."""
    guard = re.compile(r"^if __name__ == [\"']__main__[\"']:", re.MULTILINE)
    found = [
        f"tools.{path.stem}"
        for path in sorted((ROOT / "tools").glob("*.py"))
        if guard.search(path.read_text(encoding="utf-8"))
    ]
    found += [
        f"tools.{path.parent.name}" for path in sorted((ROOT / "tools").glob("*/__main__.py"))
    ]
    return found


def common_modules() -> list[str]:
    """Every module of services/common that runs as a command (the DLQ command)."""
    guard = re.compile(r"^if __name__ == [\"']__main__[\"']:", re.MULTILINE)
    return [
        f"services.common.{path.stem}"
        for path in sorted((ROOT / "services" / "common").glob("*.py"))
        if guard.search(path.read_text(encoding="utf-8"))
    ]


def test_the_tools_are_found() -> None:
    tools = tool_modules()
    assert {"tools.stack", "tools.topics", "tools.localkafka", "tools.chaos"} <= set(tools)
    assert "tools.harness" not in tools, "a library is no command"
    assert "services.common.dlq" in common_modules()


def _env() -> dict[str, str]:
    """Ports no service would answer on: were one to start, it would not reach another's."""
    env = dict(os.environ)
    for name in ("INGEST_PORT", "REGISTRY_PORT", "NOTIFY_PORT", "EXTRACT_PORT"):
        env[name] = str(free_port())
    return env


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def run_all(*calls: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: run(*call), calls))


def assert_help(module: str, answer: subprocess.CompletedProcess[str]) -> None:
    assert answer.returncode == 0, f"{module}: exit {answer.returncode}\n{answer.stderr}"
    assert answer.stdout.startswith("usage: python -m " + module), answer.stdout[:300]


@pytest.mark.parametrize("module", tool_modules() + common_modules())
def test_a_tool_answers_help(module: str) -> None:
    long, short, wrong = run_all((module, "--help"), (module, "-h"), (module, "--no-such-option"))
    assert_help(module, long)
    assert short.stdout == long.stdout and short.returncode == 0
    assert wrong.returncode == 2, f"{module} --no-such-option: exit {wrong.returncode}"
    assert f"{module}: error: " in wrong.stderr, wrong.stderr


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_service_answers_help_without_starting(service: str) -> None:
    module = f"services.{service}"
    settings, commands = SERVICES[service]
    calls = [
        (module, "--help"),
        (module, "-h"),
        (module, "--no-such-option"),
        (module, "no-such-command"),
        *((module, command, "--help") for command in commands),
    ]
    long, short, option, command, *each = run_all(*calls)
    assert_help(module, long)
    assert short.stdout == long.stdout and short.returncode == 0
    for setting in settings_of(settings):
        assert re.search(rf"^  {setting.name}={re.escape(setting.default)}$", long.stdout, re.M), (
            f"{setting.name} is not in the help of {module}"
        )
    for name in ["serve", *commands]:
        assert re.search(rf"^  {re.escape(name)} ", long.stdout, re.M), f"{name} is not listed"
    for answer in (option, command):
        assert answer.returncode == 2, (answer.args, answer.returncode, answer.stderr)
        assert "error" in answer.stderr and answer.stdout == ""
    assert "invalid choice: 'no-such-command'" in command.stderr
    for name, answer in zip(commands, each, strict=True):
        assert answer.returncode == 0, (name, answer.stderr)
        assert answer.stdout.startswith(f"usage: python -m {module} {name}"), answer.stdout


def test_help_prints_defaults_never_the_values_set() -> None:
    """What the environment holds (a secret) is not help's business."""
    env = dict(os.environ, NOTIFY_OPERATOR_TOKEN="a-secret-that-help-must-not-show")
    answer = subprocess.run(
        [sys.executable, "-m", "services.notify", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert answer.returncode == 0
    assert "a-secret-that-help-must-not-show" not in answer.stdout
    assert "NOTIFY_OPERATOR_TOKEN=(empty)" in answer.stdout


def test_extract_still_reads_files_without_a_command(tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text(
        "2024年4月20日，甲市人民医院与乙县人民医院签约组建医联体。", encoding="utf-8"
    )
    plain, named = run_all(
        ("services.extract", str(article), "--published", "2024-04-21"),
        ("services.extract", "files", str(article), "--published", "2024-04-21"),
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == named.stdout and '"file": "a.txt"' in plain.stdout


def test_a_command_gets_its_own_options() -> None:
    """The command chosen gets its own options (replay's --since and --restart), and a
    lone word is a command, not a file."""
    from services.extract.__main__ import CLI

    args = CLI.parser().parse_args(["replay", "--since", "2024-05-01", "--restart"])
    assert args.restart and args.since.isoformat() == "2024-05-01T00:00:00+00:00"
    args = CLI.parser().parse_args(["replay"])
    assert args.since is None and not args.restart
