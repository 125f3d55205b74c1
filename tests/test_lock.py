"""The install is reproducible: ``make install``/``make test`` install the versions pinned in constraints.txt."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version

from pipelines.settings import PROJECT_ROOT

PINS = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", (PROJECT_ROOT / "constraints.txt").read_text(),
                       re.MULTILINE))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_declared_dependency_is_pinned() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pinned = {_canonical(name) for name in PINS}
    assert sorted({_name(r) for r in declared if _canonical(_name(r)) not in pinned}) == []


def test_installed_versions_are_the_pinned_ones() -> None:
    mismatched = {}
    for name, pinned in PINS.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # an optional tool this machine did not install
        if installed.split("+")[0] != pinned:  # torch's local label (+cpu) names the build, not the version
            mismatched[name] = (installed, pinned)
    assert mismatched == {}


def test_make_installs_from_the_constraints() -> None:
    installs = [line for line in (PROJECT_ROOT / "Makefile").read_text().splitlines()
                if line.strip().startswith("$(PIP) install")]
    assert installs and all("-c $(CONSTRAINTS)" in line for line in installs)
