"""Shared test setup: offscreen Qt, no network, isolated user folders, one tiny model.

Fixtures shared beyond one folder: ``tiny_model_dir``, ``sample_project``, ``trained_run``
(built with :mod:`tests.tiny`), ``trained_project`` (a private copy of its project),
``memory_keyring`` (:mod:`tests.fake_keyring`) and ``openai_server``
(:mod:`tests.openai_server`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.fake_keyring import MemoryKeyring
    from tests.openai_server import FakeOpenAI

# Before anything imports Qt or Hugging Face libraries.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Every test gets its own empty config and data folders (never the real ones)."""
    config, data = tmp_path / "user-config", tmp_path / "user-data"
    monkeypatch.setenv("FTSTUDIO_CONFIG_DIR", str(config))
    monkeypatch.setenv("FTSTUDIO_DATA_DIR", str(data))
    return {"config": config, "data": data}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, built once per test run from the sample project's text."""
    from ftstudio.engine.tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    build_tiny_model(out)
    return out


@pytest.fixture
def sample_project(tmp_path: Path):  # noqa: ANN201 - returns a Project
    """A private copy of the bundled sample project."""
    from ftstudio.core.sample import install_sample

    return install_sample(tmp_path / "projects" / "IT Support Sample")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A finished 6-step LoRA run of the tiny model, shared by the whole test session.

    Its project (``run.parent.parent``) has ``datasets/train.jsonl`` (24 sample chats)
    and ``datasets/preferences.jsonl`` (the sample's preference pairs, registered as
    ``datasets.preferences``). READ-ONLY: copy the project folder before writing to it.
    """
    import shutil

    from ftstudio.core.paths import resource
    from ftstudio.core.project import create_project
    from ftstudio.engine.training import run_training
    from tests.tiny import sample_lines, tiny_config, write_dataset

    project = create_project(tmp_path_factory.mktemp("trained") / "project", "Trained")
    datasets = project.folder / "datasets"
    write_dataset(datasets / "train.jsonl", sample_lines())
    shutil.copyfile(
        resource("sample_project", "datasets", "preferences.jsonl"),
        datasets / "preferences.jsonl",
    )
    project.set("datasets", {**project.datasets, "preferences": "datasets/preferences.jsonl"})
    result = run_training(tiny_config(tiny_model_dir), project=project.folder)
    assert result.status == "finished", result.message
    assert result.run_dir is not None
    return result.run_dir


@pytest.fixture
def trained_project(trained_run: Path, tmp_path: Path):  # noqa: ANN201 - returns a Project
    """A private copy of ``trained_run``'s project (``tmp_path/project``), safe to change;
    the run is ``runs/<trained_run.name>`` in it."""
    import shutil

    from ftstudio.core.project import open_project

    folder = tmp_path / "project"
    shutil.copytree(trained_run.parent.parent, folder)
    return open_project(folder)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An empty in-memory keyring for the test (the previous backend comes back after)."""
    from tests.fake_keyring import MemoryKeyring, keyring_backend

    with keyring_backend(MemoryKeyring()) as backend:
        yield backend


@pytest.fixture
def openai_server() -> Iterator[Callable[..., FakeOpenAI]]:
    """Starts loopback OpenAI servers: ``openai_server(script, **options)`` starts a
    :class:`~tests.openai_server.FakeOpenAI` playing (a copy of) ``script`` and returns it;
    every server started stops after the test."""
    from tests.openai_server import FakeOpenAI

    servers: list[FakeOpenAI] = []

    def start(script: list[Any], **options: Any) -> FakeOpenAI:
        server = FakeOpenAI(script, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
