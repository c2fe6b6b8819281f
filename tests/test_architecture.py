"""The layers of ftstudio, enforced: core ↛ Qt/ML, engine ↛ Qt, nothing ↛ the roots.

The roots are ``ftstudio.app`` and the ``ftstudio.cli`` package (with all its modules);
they may import every layer, the command line only inside functions so that it starts
without Qt or torch."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ftstudio"

QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy")
ML = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "datasets",
    "accelerate",
    "tokenizers",
    "safetensors",
)
ROOTS = ("ftstudio.app", "ftstudio.cli", "ftstudio.__main__")

# (package prefix, forbidden module prefixes, forbidden anywhere or only at module level)
RULES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("ftstudio.core", (*QT, *ML, "ftstudio.engine", "ftstudio.qt", *ROOTS), True),
    ("ftstudio.engine", (*QT, "ftstudio.qt", *ROOTS), True),
    ("ftstudio.qt", ROOTS, True),
    # The GUI may use the engine, but only inside functions, so startup stays light.
    ("ftstudio.qt", (*ML, "ftstudio.engine"), False),
    # The command line answers ``ftstudio --version`` at once: its modules import the
    # GUI, the engine and the heavy libraries only inside the commands that use them.
    ("ftstudio.cli", (*QT, *ML, "ftstudio.engine", "ftstudio.qt", "ftstudio.app"), False),
)


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported} ({self.rule})"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            found.append((name, node.lineno, id(node) in top_level))
    return found


def check(root: Path) -> list[Violation]:
    """Every import in ``root`` (a copy of the ftstudio package) that breaks a rule."""
    violations = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        for imported, line, at_top in imports_of(path, module):
            for owner, forbidden, anywhere in RULES:
                if not (module == owner or module.startswith(owner + ".")):
                    continue
                if not anywhere and not at_top:
                    continue
                for banned in forbidden:
                    if imported == banned or imported.startswith(banned + "."):
                        where = "" if anywhere else " at module level"
                        rule = f"{owner} must not import {banned}{where}"
                        violations.append(Violation(module, line, imported, rule))
    return violations


def test_package_respects_layers() -> None:
    violations = check(PACKAGE)
    assert not violations, "Layer violations:\n" + "\n".join(map(str, violations))


def test_every_layer_exists() -> None:
    for layer in ("core", "engine", "qt"):
        assert (PACKAGE / layer / "__init__.py").is_file()
    assert (PACKAGE / "app.py").is_file()
    assert (PACKAGE / "cli" / "__init__.py").is_file()


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("core/bad.py", "import torch\n", "ftstudio.core must not import torch"),
        ("core/bad.py", "def f():\n    from PySide6 import QtCore\n", "must not import PySide6"),
        (
            "core/bad.py",
            "from ftstudio.engine import tiny_model\n",
            "must not import ftstudio.engine",
        ),
        ("core/bad.py", "from ..qt import pages\n", "must not import ftstudio.qt"),
        ("engine/bad.py", "import pyqtgraph as pg\n", "ftstudio.engine must not import pyqtgraph"),
        ("qt/bad.py", "import transformers\n", "must not import transformers at module level"),
        ("qt/bad.py", "from ftstudio import cli\n", "ftstudio.qt must not import ftstudio.cli"),
        (
            "engine/bad.py",
            "def f():\n    from ftstudio.cli.common import count\n",
            "ftstudio.engine must not import ftstudio.cli",
        ),
        (
            "cli/data.py",
            "from ftstudio.engine.tabular import load_any\n",
            "ftstudio.cli must not import ftstudio.engine at module level",
        ),
        ("cli/train.py", "import torch\n", "must not import torch at module level"),
    ],
)
def test_checker_catches_violations(tmp_path: Path, relative: str, source: str, expected: str):
    root = tmp_path / "ftstudio"
    for layer in ("core", "engine", "qt", "cli"):
        (root / layer).mkdir(parents=True)
        (root / layer / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / relative).write_text(source)
    messages = [v.rule for v in check(root)]
    assert any(expected in message for message in messages), messages


def test_checker_allows_lazy_engine_use_in_qt(tmp_path: Path) -> None:
    root = tmp_path / "ftstudio"
    (root / "qt").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "qt" / "__init__.py").write_text("")
    (root / "qt" / "worker.py").write_text(
        "def run():\n    from ftstudio.engine import tiny_model\n    import torch\n"
    )
    assert check(root) == []


def test_checker_allows_lazy_imports_in_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "ftstudio"
    (root / "cli").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "cli" / "__init__.py").write_text("from ftstudio.cli import train\n")
    (root / "cli" / "train.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ftstudio.engine.openai_finetune import JobStatus\n"
        "def run():\n    from ftstudio.engine.training import run_training\n"
        "    from ftstudio.qt.style import install_message_filter\n    import torch\n"
    )
    assert check(root) == []
