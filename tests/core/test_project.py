"""Project folders: creating, opening, manifest problems named by file, line and key."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from ftstudio.core.project import (
    DATASET_SUFFIXES,
    MANIFEST,
    SUBFOLDERS,
    TINY_MODEL,
    Project,
    ProjectError,
    classify_base_model,
    create_project,
    describe_base_model,
    open_project,
)


def valid_manifest(**changes: object) -> dict[str, object]:
    manifest: dict[str, object] = {
        "ftstudio_project": 1,
        "name": "Demo",
        "description": "",
        "base_model": TINY_MODEL,
        "datasets": {},
    }
    manifest.update(changes)
    return manifest


def make_folder(folder: Path, manifest: dict[str, object] | str | bytes) -> Path:
    """A project folder with all sub-folders and the given manifest (dict, text or bytes)."""
    for sub in SUBFOLDERS:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    path = folder / MANIFEST
    if isinstance(manifest, bytes):
        path.write_bytes(manifest)
    elif isinstance(manifest, str):
        path.write_text(manifest, encoding="utf-8")
    else:
        path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


def open_error(location: Path) -> str:
    with pytest.raises(ProjectError) as caught:
        open_project(location)
    return str(caught.value)


# ---- create_project


def test_create_makes_the_manifest_and_subfolders(tmp_path: Path) -> None:
    project = create_project(tmp_path / "My Project", "  My Project  ", description="Notes")
    folder = tmp_path / "My Project"
    assert project.folder == folder.resolve()
    assert sorted(path.name for path in folder.iterdir()) == sorted([MANIFEST, *SUBFOLDERS])
    assert all((folder / sub).is_dir() for sub in SUBFOLDERS)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    created = manifest.pop("created")
    assert datetime.fromisoformat(created).utcoffset() is not None
    assert manifest == {
        "ftstudio_project": 1,
        "name": "My Project",
        "description": "Notes",
        "base_model": TINY_MODEL,
        "datasets": {},
    }
    assert project.name == "My Project"
    assert project.base_model == TINY_MODEL
    reopened = open_project(folder)
    assert reopened.manifest == project.manifest
    assert reopened.warnings == []


def test_create_records_the_base_model(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "P", base_model="org/model-7b")
    assert open_project(project.folder).base_model == "org/model-7b"


def test_create_accepts_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert create_project(tmp_path / "empty", "Empty").manifest_path.is_file()


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_create_refuses_an_empty_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ProjectError, match="needs a name"):
        create_project(tmp_path / "p", name)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    "name", ["a/b", "a\\b", "why?", "c:d", "star*", "<tag>", 'say "hi"', "pipe|line", "tab\there"]
)
def test_create_refuses_names_that_cannot_be_folder_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ProjectError, match="cannot be used in a folder name"):
        create_project(tmp_path / "p", name)
    assert not (tmp_path / "p").exists()


def test_create_refuses_a_non_empty_folder_and_touches_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(ProjectError, match="is not empty"):
        create_project(folder, "Busy")
    assert [path.name for path in folder.iterdir()] == ["thesis.docx"]
    assert (folder / "thesis.docx").read_bytes() == b"precious"


def test_create_refuses_an_existing_project(tmp_path: Path) -> None:
    first = create_project(tmp_path / "p", "First")
    before = first.manifest_path.read_bytes()
    with pytest.raises(ProjectError, match="already holds a project"):
        create_project(tmp_path / "p", "Second")
    assert first.manifest_path.read_bytes() == before


def test_create_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    """A ProjectError (shown in the dialog), not a NotADirectoryError that escapes it."""
    (tmp_path / "p").write_text("a file")
    with pytest.raises(ProjectError, match="is a file"):
        create_project(tmp_path / "p", "P")
    assert (tmp_path / "p").read_text() == "a file"


# ---- open_project: locations


def test_open_accepts_the_folder_or_the_manifest_path(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "p", valid_manifest())
    by_folder = open_project(folder)
    by_manifest = open_project(folder / MANIFEST)
    by_string = open_project(str(folder))  # type: ignore[arg-type]
    assert by_folder.folder == by_manifest.folder == by_string.folder == folder.resolve()
    assert by_folder.manifest == valid_manifest()
    assert by_folder.warnings == []


def test_open_a_missing_folder(tmp_path: Path) -> None:
    message = open_error(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in message
    assert "does not exist" in message


def test_open_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert "not a folder" in open_error(tmp_path / "notes.txt")


def test_open_a_folder_without_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    message = open_error(tmp_path / "plain")
    assert "is not an ftstudio project" in message
    assert MANIFEST in message


# ---- open_project: unreadable manifests


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    text = '{\n  "ftstudio_project": 1,\n  "name": "x",,\n  "datasets": {}\n}\n'
    folder = make_folder(tmp_path / "p", text)
    message = open_error(folder)
    assert message.startswith(f"{folder / MANIFEST}, line 3, column 15: not valid JSON")


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    raw = b'{\n  "ftstudio_project": 1,\n  "name": "caf\xe9"\n}\n'
    folder = make_folder(tmp_path / "p", raw)
    message = open_error(folder)
    assert message.startswith(f"{folder / MANIFEST}, line 3: ")
    assert "not valid UTF-8" in message


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + json.dumps(valid_manifest()).encode()
    assert open_project(make_folder(tmp_path / "p", raw)).name == "Demo"


@pytest.mark.parametrize("text", ["[]", '"project"', "1", "null"])
def test_a_manifest_must_be_an_object(tmp_path: Path, text: str) -> None:
    folder = make_folder(tmp_path / "p", text)
    message = open_error(folder)
    assert str(folder / MANIFEST) in message
    assert "must be a JSON object" in message


# ---- open_project: manifest problems


def test_every_manifest_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = (
        "{\n"
        '  "name": "  ",\n'
        '  "base_model": 5,\n'
        '  "description": ["x"],\n'
        '  "datasets": ["a.jsonl"]\n'
        "}\n"
    )
    folder = make_folder(tmp_path / "p", text)
    message = open_error(folder)
    assert message.startswith(f"{folder / MANIFEST} has 5 problem(s):\n")
    lines = message.splitlines()[1:]
    assert len(lines) == 5
    assert lines[0].startswith("  - ftstudio_project: missing")
    assert "  - line 2, name: must be non-empty text" in lines
    assert "  - line 4, description: must be text" in lines
    assert "  - line 3, base_model: must be text" in lines
    assert any(line.startswith("  - line 5, datasets: must be an object") for line in lines)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (2, "version 2 was written by a newer ftstudio"),
        (True, "must be a whole number"),
        ("1", "must be a whole number"),
        (1.0, "must be a whole number"),
    ],
)
def test_format_version_problems(tmp_path: Path, version: object, expected: str) -> None:
    folder = make_folder(tmp_path / "p", valid_manifest(ftstudio_project=version))
    message = open_error(folder)
    assert "ftstudio_project: " + expected in message
    assert "has 1 problem(s)" in message


@pytest.mark.parametrize(
    "relative",
    [
        "../outside.jsonl",
        "datasets/../../outside.jsonl",
        "/etc/passwd",
        "..\\outside.jsonl",
        "C:\\data\\train.jsonl",
        "\\\\server\\share\\train.jsonl",
    ],
)
def test_dataset_paths_must_stay_inside_the_project(tmp_path: Path, relative: str) -> None:
    """Both POSIX and Windows spellings: a project may be opened on either system."""
    manifest = valid_manifest(datasets={"ok": "datasets/a.jsonl", "train": relative})
    message = open_error(make_folder(tmp_path / "p", manifest))
    assert "has 1 problem(s)" in message
    assert f"datasets.train: {relative!r} must stay inside the project folder" in message


def test_dataset_paths_inside_the_project_are_fine(tmp_path: Path) -> None:
    datasets = {"train": "datasets/v1..v2.jsonl", "eval": "datasets\\sub\\eval.jsonl"}
    folder = make_folder(tmp_path / "p", valid_manifest(datasets=datasets))
    assert open_project(folder).datasets == datasets


@pytest.mark.parametrize("relative", ["", 3, None])
def test_dataset_paths_must_be_non_empty_text(tmp_path: Path, relative: object) -> None:
    message = open_error(make_folder(tmp_path / "p", valid_manifest(datasets={"eval": relative})))
    assert "datasets.eval: must be a file path relative to the project folder" in message


def test_unknown_manifest_keys_survive_a_save(tmp_path: Path) -> None:
    future = {"schedule": {"nightly": True}, "notes": ["a", "ü"]}
    folder = make_folder(tmp_path / "p", valid_manifest(**future))
    project = open_project(folder)
    project.set("description", "Edited")
    raw = (folder / MANIFEST).read_text(encoding="utf-8")
    assert raw.endswith("}\n")
    reopened = open_project(folder)
    assert reopened.description == "Edited"
    assert {key: reopened.manifest[key] for key in future} == future


# ---- warnings


def test_missing_subfolders_are_warnings_not_errors(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps(valid_manifest()), encoding="utf-8")
    (folder / "datasets").mkdir()
    project = open_project(folder)
    assert len(project.warnings) == 2
    assert any("runs/" in warning for warning in project.warnings)
    assert any("exports/" in warning for warning in project.warnings)
    assert not any("datasets/" in warning for warning in project.warnings)


def test_missing_dataset_files_are_warnings(tmp_path: Path) -> None:
    manifest = valid_manifest(
        datasets={"train": "datasets/train.jsonl", "eval": "datasets/missing.jsonl"}
    )
    folder = make_folder(tmp_path / "p", manifest)
    (folder / "datasets" / "train.jsonl").write_text("{}\n")
    project = open_project(folder)
    assert project.warnings == [
        f"{MANIFEST}: datasets.eval names datasets/missing.jsonl, which does not exist."
    ]
    assert project.dataset_path("train") == folder.resolve() / "datasets" / "train.jsonl"
    assert project.dataset_path("preferences") is None


# ---- folder contents


def test_dataset_files_lists_dataset_suffixes_recursively(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "P")
    datasets = project.folder / "datasets"
    wanted = ["a.jsonl", "b.json", "c.csv", "d.parquet", "e.arrow", "deep/er/f.jsonl", "G.CSV"]
    for relative in [*wanted, "notes.txt", "data.jsonl.bak", "README", "deep/x.py"]:
        (datasets / relative).parent.mkdir(parents=True, exist_ok=True)
        (datasets / relative).write_text("x")
    (datasets / "folder.jsonl").mkdir()  # a folder with a dataset-like name is not a file
    (project.folder / "runs" / "log.jsonl").write_text("x")  # outside datasets/
    assert set(DATASET_SUFFIXES) == {".jsonl", ".json", ".csv", ".parquet", ".arrow"}
    found = project.dataset_files()
    assert found == sorted(found)
    assert {path.relative_to(datasets).as_posix() for path in found} == set(wanted)


def test_folder_listings_are_empty_without_the_folders(tmp_path: Path) -> None:
    project = Project(folder=tmp_path, manifest=valid_manifest())
    assert project.dataset_files() == []
    assert project.run_dirs() == []
    assert project.export_dirs() == []


def test_run_dirs_lists_only_folders_sorted(tmp_path: Path) -> None:
    project = create_project(tmp_path / "p", "P")
    runs = project.folder / "runs"
    for name in ("2026-02-01 run", "2026-01-01 run", "2026-03-01 run"):
        (runs / name).mkdir()
    (runs / "notes.txt").write_text("x")
    assert [path.name for path in project.run_dirs()] == [
        "2026-01-01 run",
        "2026-02-01 run",
        "2026-03-01 run",
    ]


def test_export_dirs_skips_hidden_entries(tmp_path: Path) -> None:
    """Exports may be folders or single files; hidden ones are unfinished or system files."""
    project = create_project(tmp_path / "p", "P")
    exports = project.folder / "exports"
    (exports / "merged-model").mkdir()
    (exports / "model.gguf").write_bytes(b"gguf")
    (exports / ".partial-export").mkdir()
    (exports / ".DS_Store").write_bytes(b"")
    assert [path.name for path in project.export_dirs()] == ["merged-model", "model.gguf"]


def test_manifest_properties_have_defaults(tmp_path: Path) -> None:
    project = Project(folder=tmp_path, manifest={"ftstudio_project": 1, "name": "N"})
    assert project.manifest_path == tmp_path / MANIFEST
    assert project.description == ""
    assert project.base_model == TINY_MODEL
    assert project.datasets == {}
    project.datasets["x"] = "y"  # a copy: editing it does not change the manifest
    assert "datasets" not in project.manifest


# ---- describe_base_model


def test_describe_the_tiny_model() -> None:
    assert describe_base_model(TINY_MODEL).startswith("ftstudio tiny model:")


def test_describe_an_absolute_local_folder(tmp_path: Path) -> None:
    model = tmp_path / "models" / "llama"
    model.mkdir(parents=True)
    assert describe_base_model(str(model)) == f"Local model folder {model}."
    assert describe_base_model(str(model), tmp_path / "elsewhere") == f"Local model folder {model}."


def test_describe_a_folder_relative_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "models" / "m").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # "models/m" does not exist relative to the working folder
    assert describe_base_model("models/m", project) == f"Local model folder {project}/models/m."
    assert describe_base_model("models/m").startswith("Hub model 'models/m'")


def test_describe_a_hub_id(tmp_path: Path) -> None:
    assert describe_base_model("Qwen/Qwen3-0.6B", tmp_path) == (
        "Hub model 'Qwen/Qwen3-0.6B': downloaded when training starts (not needed for planning)."
    )


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (TINY_MODEL, "tiny"),
        ("meta-llama/Llama-3.2-1B-Instruct", "hub"),
        ("/models/missing-llama", "local"),
        ("~/models/missing", "local"),
        ("./weights", "local"),
        ("C:\\models\\llama", "local"),
    ],
)
def test_classify_base_model_kinds(value: str, kind: str, tmp_path: Path) -> None:
    assert classify_base_model(value, tmp_path).kind == kind


def test_a_missing_local_folder_is_described_as_missing(tmp_path: Path) -> None:
    ref = classify_base_model(str(tmp_path / "nope"))
    assert (ref.kind, ref.exists) == ("local", False)
    assert describe_base_model(str(tmp_path / "nope")) == (
        f"Local model folder {tmp_path / 'nope'}, which does not exist (yet)."
    )
