"""What ``ftstudio.spec`` bundles, read from ``pyproject.toml`` (plain functions, tested).

The wheel and the frozen application ship the same resources: the folders listed under
``[tool.hatch.build.targets.wheel.force-include]`` that go to ``ftstudio/_resources``.
The spec copies the package metadata of ``[project].dependencies``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

RESOURCES_DEST = "ftstudio/_resources"
"""Where the resources go inside the bundle (and the wheel); ftstudio.core.paths looks there."""


def _pyproject(root: Path) -> dict:
    with (root / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def resource_folders(root: Path) -> list[tuple[Path, str]]:
    """(source folder, destination in the bundle) for each resource folder of the wheel.

    Raises:
        FileNotFoundError: a listed folder does not exist in the checkout.
    """
    wheel = _pyproject(root)["tool"]["hatch"]["build"]["targets"]["wheel"]
    pairs = []
    for source, dest in wheel.get("force-include", {}).items():
        if not dest.startswith(RESOURCES_DEST + "/"):
            continue
        folder = root / source
        if not folder.is_dir():
            raise FileNotFoundError(
                f"pyproject.toml's force-include lists {source}, which is not a folder in "
                f"{root}; create it or remove the line."
            )
        pairs.append((folder, dest))
    return pairs


def dependency_names(root: Path) -> list[str]:
    """The distribution names in ``[project].dependencies`` (version ranges dropped)."""
    names = []
    for requirement in _pyproject(root)["project"]["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match is None:
            raise ValueError(f"pyproject.toml: cannot read the dependency {requirement!r}")
        names.append(match.group(1))
    return names
