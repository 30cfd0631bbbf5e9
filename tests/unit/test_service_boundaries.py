"""Each service imports only itself and services.common: services meet on the topics
and their contracts, never in each other's code (the registry does not run the extractor;
re-extraction is ``python -m services.extract replay``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("extract", "ingest", "notify", "registry")


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function, absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def foreign_imports(service: str, root: Path = ROOT) -> list[str]:
    allowed = (f"services.{service}", "services.common")
    wrong = []
    for path in sorted((root / "services" / service).rglob("*.py")):
        for module in sorted(imported_modules(path, root)):
            if module == "services" or not module.startswith("services."):
                continue
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                wrong.append(f"{path.relative_to(root).as_posix()} imports {module}")
    return wrong


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_only_itself_and_common(service: str) -> None:
    assert foreign_imports(service) == []


def test_the_registry_imports_nothing_of_extract() -> None:
    registry = ROOT / "services" / "registry"
    assert not [
        path
        for path in registry.rglob("*.py")
        if any(m.startswith("services.extract") for m in imported_modules(path))
    ]


def test_the_check_sees_a_foreign_import(tmp_path: Path) -> None:
    """The check itself: function-level and relative imports of another service are found."""
    package = tmp_path / "services" / "registry" / "entrypoints"
    package.mkdir(parents=True)
    (package / "probe.py").write_text(
        "from . import consumer\n"
        "from ...common import cli\n"
        "def f():\n    from services.extract.extraction import extract\n"
        "from ...extract import handlers\n"
    )
    assert foreign_imports("registry", tmp_path) == [
        "services/registry/entrypoints/probe.py imports services.extract",
        "services/registry/entrypoints/probe.py imports services.extract.extraction",
        "services/registry/entrypoints/probe.py imports services.extract.extraction.extract",
        "services/registry/entrypoints/probe.py imports services.extract.handlers",
    ]
