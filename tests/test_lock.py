"""The environment the tests run in is exactly what uv.lock pins: no package more or less, no
version different. Fails when someone installs by hand, or edits pyproject.toml without
`make lock`, so a green run always means "green on the locked packages"."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def locked_for_this_environment(
    project: str = "surveybot", extras: tuple[str, ...] = ("dev",)
) -> dict[str, str]:
    """``{name: version}`` of every package uv.lock installs here: the project's dependency graph
    with its extras, each marker evaluated for this interpreter and platform."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    entries: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        entries.setdefault(canonicalize_name(package["name"]), []).append(package)

    def entry(ref: dict[str, Any]) -> dict[str, Any]:
        candidates = entries[canonicalize_name(ref["name"])]
        if len(candidates) > 1 and "version" in ref:
            candidates = [c for c in candidates if c["version"] == ref["version"]]
        assert len(candidates) == 1, f"uv.lock: cannot tell which {ref['name']} is meant"
        return candidates[0]

    def applies(ref: dict[str, Any]) -> bool:
        marker = ref.get("marker")
        return marker is None or Marker(marker).evaluate({"extra": ""})

    found: dict[str, str] = {}
    todo: list[tuple[dict[str, Any], tuple[str, ...]]] = [({"name": project}, extras)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        ref, wanted = todo.pop()
        package = entry(ref)
        name = canonicalize_name(package["name"])
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        found[name] = str(package.get("version", ""))
        deps = list(package.get("dependencies", []))
        for extra in wanted:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        todo += [(dep, tuple(dep.get("extra", ()))) for dep in deps if applies(dep)]
    return found


def installed() -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions(path=[p for p in sys.path if p.startswith(sys.prefix)])
    }


def test_installed_packages_are_exactly_the_locked_ones() -> None:
    want, have = locked_for_this_environment(), installed()
    wrong = {n: (have[n], v) for n, v in want.items() if n in have and have[n] != v}
    assert not wrong, (
        f"installed version differs from uv.lock (have, locked): {wrong}; run `make sync`"
    )
    assert not want.keys() - have.keys(), (
        f"locked but not installed: {sorted(want.keys() - have.keys())}"
    )
    assert not have.keys() - want.keys(), (
        f"installed but not in uv.lock: {sorted(have.keys() - want.keys())} (installed by hand? "
        "add it to pyproject.toml and run `make lock`)"
    )
