"""Packaging: the Linux desktop entry and its icons, the PyInstaller spec and the frozen app.

Building the application takes minutes; ``tests/bench/build_app.py`` does it on demand.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImage

from ftstudio.core import paths

ROOT = Path(__file__).resolve().parent.parent


def test_desktop_entry_is_complete() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(ROOT / "packaging" / "linux" / "ftstudio.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "ftstudio"
    assert entry["Icon"] == "ftstudio"
    assert entry["Categories"].endswith(";")
    assert entry["Terminal"] == "false"


DESKTOP_KEYS = {
    # The keys of the Desktop Entry Specification 1.5 that an application may use.
    *("Type", "Version", "Name", "GenericName", "NoDisplay", "Comment", "Icon", "Hidden"),
    *("OnlyShowIn", "NotShowIn", "DBusActivatable", "TryExec", "Exec", "Path", "Terminal"),
    *("Actions", "MimeType", "Categories", "Implements", "Keywords", "StartupNotify"),
    *("StartupWMClass", "PrefersNonDefaultGPU", "SingleMainWindow"),
}


def test_desktop_entry_uses_only_known_keys() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "packaging" / "linux" / "ftstudio.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    unknown = {key for key in entry if key.split("[")[0] not in DESKTOP_KEYS}
    assert not unknown
    # Field codes: at most one of the file/URL codes, and no deprecated ones.
    codes = [word for word in entry["Exec"].split() if word.startswith("%")]
    assert set(codes) <= {"%f", "%F", "%u", "%U", "%i", "%c", "%k"}
    assert len([code for code in codes if code in {"%f", "%F", "%u", "%U"}]) <= 1
    # StartupWMClass matches the window class Qt sets from the desktop file name.
    assert entry["StartupWMClass"] == "ftstudio"


def test_icons_exist_and_load(qapp) -> None:
    icons = ROOT / "resources" / "icons"
    png = QImage(str(icons / "ftstudio-256.png"))
    assert (png.width(), png.height()) == (256, 256)
    assert not QImage(str(icons / "ftstudio.svg")).isNull()
    for name in ("guide", "dataset", "train", "runs", "export"):
        assert not QImage(str(icons / "nav" / f"{name}.svg")).isNull(), name


# ---------------------------------------------------------------- PyInstaller spec

SPEC = ROOT / "packaging" / "pyinstaller" / "ftstudio.spec"


def load_spec_data() -> ModuleType:
    """``packaging/pyinstaller/spec_data.py``, the spec's pyproject readers."""
    spec = importlib.util.spec_from_file_location("spec_data", SPEC.parent / "spec_data.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spec_is_python() -> None:
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


def test_spec_ships_the_wheels_resources_where_the_app_looks() -> None:
    spec_data = load_spec_data()
    folders = spec_data.resource_folders(ROOT)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert {dest for _, dest in folders} == set(force_include.values())
    for source, dest in folders:
        assert source.is_dir(), source
        assert source.name == Path(dest).name
    assert (
        ROOT / "resources" / "sample_project",
        f"{spec_data.RESOURCES_DEST}/sample_project",
    ) in (folders)
    # paths.resources_dir() looks for _MEIPASS/ftstudio/_resources in a frozen app.
    assert spec_data.RESOURCES_DEST == "ftstudio/_resources"


def test_spec_resource_list_names_a_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\ndependencies = []\n"
        "[tool.hatch.build.targets.wheel.force-include]\n"
        '"resources/gone" = "ftstudio/_resources/gone"\n',
        encoding="utf-8",
    )
    with pytest.raises(FileNotFoundError, match="resources/gone"):
        load_spec_data().resource_folders(tmp_path)


def test_spec_copies_the_metadata_of_every_dependency() -> None:
    names = load_spec_data().dependency_names(ROOT)
    for name in ("torch", "transformers", "PySide6-Essentials", "keyring", "rouge-score"):
        assert name in names
    assert not [name for name in names if any(char in name for char in "<>=!~; [")]


def test_spec_entry_scripts_exist() -> None:
    text = SPEC.read_text(encoding="utf-8")
    for script in ("launch_cli", "launch_gui"):
        assert (SPEC.parent / f"{script}.py").is_file(), script
        assert f'"{script}"' in text, script  # the per-executable script filter names it


def test_frozen_app_finds_resources_in_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "_internal"
    shutil.copytree(
        ROOT / "resources" / "sample_project", bundle / "ftstudio" / "_resources" / "sample_project"
    )
    shutil.copytree(ROOT / "resources" / "icons", bundle / "ftstudio" / "_resources" / "icons")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.resources_dir() == bundle / "ftstudio" / "_resources"
    icon = paths.resource("icons", "ftstudio.svg")
    assert icon == bundle / "ftstudio" / "_resources" / "icons" / "ftstudio.svg"
    assert icon.is_file()


def test_frozen_app_without_resources_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "_internal"
    bundle.mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    # As if this module were inside the bundle, away from the source checkout.
    monkeypatch.setattr(paths, "__file__", str(bundle / "ftstudio" / "core" / "paths.pyc"))
    with pytest.raises(FileNotFoundError, match="reinstall ftstudio") as error:
        paths.resources_dir()
    assert str(bundle / "ftstudio" / "_resources") in str(error.value)


def test_not_frozen_ignores_a_stray_meipass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resources_dir() == ROOT / "resources"


def test_windowed_launcher_sends_output_to_a_log(
    user_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("launch_gui", SPEC.parent / "launch_gui.py")
    assert spec is not None
    assert spec.loader is not None
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)  # defines functions only: the app starts under __main__
    for name in ("stdout", "stderr", "__stdout__", "__stderr__"):
        monkeypatch.setattr(sys, name, None)
    launcher._give_streams_a_home()
    stream = sys.stderr
    try:
        assert stream is not None
        assert sys.stdout is stream
        assert sys.__stderr__ is stream
        stream.write("a warning from a library\n")
    finally:
        stream.close()
    log = user_dirs["data"] / "gui.log"
    assert log.read_text(encoding="utf-8") == "a warning from a library\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="the install script is a bash script")
def test_desktop_entry_install_for_a_built_app(tmp_path: Path) -> None:
    app = tmp_path / "my apps" / "ftstudio"
    app.mkdir(parents=True)
    (app / "ftstudio").write_text("#!/bin/sh\n", encoding="utf-8")
    (app / "ftstudio").chmod(0o755)
    share = tmp_path / "share"
    script = ROOT / "packaging" / "linux" / "install-desktop-entry.sh"
    result = subprocess.run(
        ["bash", str(script), str(app)],
        env={**os.environ, "XDG_DATA_HOME": str(share)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(share / "applications" / "ftstudio.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    # The path has a space: quoted in Exec, so the menu runs this program, not one on PATH.
    assert entry["Exec"] == f'"{app / "ftstudio"}" gui %f'
    assert entry["TryExec"] == str(app / "ftstudio")
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "ftstudio.svg").is_file()
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "ftstudio.png").is_file()
