"""The import contracts (``[tool.importlinter]`` in pyproject.toml) hold, and they bite.

``make test`` runs ``lint-imports`` on the project; here each contract is also shown to fail on
a copy of the code with one backwards import added, so a contract that silently checked nothing
(a typo in a module name, an ignore that matches too much) would be caught.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("bot", "store", "adapters")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``root`` (found there first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped packages and pyproject.toml (each test adds to its own copy)."""
    base = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            base / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates", "data"),
        )
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    return base


def test_the_project_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_copy_keeps_every_contract(tree: Path) -> None:
    """The copy the tests below change is sound to start with."""
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr


BACKWARDS = [
    ("bot/engine.py", "import store.keys", "Layers: adapters over store over bot"),
    ("bot/answers.py", "from adapters import services", "Layers: adapters over store over bot"),
    ("store/keys.py", "import adapters.app", "Layers: adapters over store over bot"),
    ("adapters/app.py", "from bot.cli import common", "The CLI is the composition root"),
    ("bot/results/report.py", "import store.misses", "Results receive the store"),
    ("bot/results/cost.py", "from adapters import renderers", "Results receive the store"),
    ("store/keys.py", "import store.redis_store", "No import cycles"),
    ("bot/cli/common.py", "import bot.cli.results", "No import cycles"),
    ("bot/errors.py", "import tests.support", "The shipped packages never import tests"),
]


@pytest.mark.parametrize(("module", "line", "contract"), BACKWARDS)
def test_a_backwards_import_breaks_its_contract(
    tree: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(tree, copy)
    target = copy / module
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n{line}  # a backwards import\n", encoding="utf-8"
    )
    result = _lint(copy)
    assert result.returncode != 0, result.stdout
    broken = [ln for ln in result.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(contract) for ln in broken), result.stdout


def test_the_wheel_ships_the_three_packages_and_no_tests() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert sorted(shipped) == sorted(PACKAGES)
    lint = config["tool"]["importlinter"]
    assert sorted(lint["root_packages"]) == sorted(PACKAGES)  # the contracts see all of it
