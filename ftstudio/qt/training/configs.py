"""What a run can start from: the project's saved configurations, or the quick demo run.

The planning wizard saves configurations as ``configs/<name>.yaml`` and lists them in
``project.json`` under ``"configs"`` (``{name: "configs/<name>.yaml"}``). YAML files
in ``configs/`` that the manifest does not list (written by hand, or copied in) are
offered too. The demo run needs no configuration: the tiny model on the project's
training data (or the bundled sample's), a few dozen steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ftstudio.core.fields import ConfigError
from ftstudio.core.paths import resource
from ftstudio.core.project import TINY_MODEL, Project, describe_base_model
from ftstudio.core.runs import RUNS_FOLDER, RunStoreError, is_run_dir, read_run_file
from ftstudio.core.train_config import TrainConfig, defaults_for, load_config
from ftstudio.qt.wizard.plan import CONFIGS_FOLDER, CONFIGS_KEY

DEMO_STEPS = 30
"""Optimizer steps of the quick demo run (about a minute on a laptop CPU)."""
DEMO_NAME = "Quick demo run"
CHECKPOINT_PREFIX = "checkpoint-"
CHECKPOINT_MANIFEST = "ftstudio-checkpoint.json"
"""The engine's checkpoint folder prefix and completeness marker (engine.training.checkpoints)."""


@dataclass(frozen=True)
class ConfigChoice:
    """One entry of the Train page's configuration list.

    Attributes:
        name: what the list shows.
        config: the configuration, or ``None`` when it cannot be read.
        path: the YAML file (``None`` for the demo run).
        error: why the file cannot be used, in plain words (``""`` when it can).
        demo: whether this is the quick demo run (settings adapt to the device).
    """

    name: str
    config: TrainConfig | None
    path: Path | None = None
    error: str = ""
    demo: bool = False


def project_configs(project: Project) -> list[ConfigChoice]:
    """The saved configurations of ``project``, listed ones first, each read and checked."""
    listed = project.manifest.get(CONFIGS_KEY)
    paths: dict[Path, str] = {}
    if isinstance(listed, dict):
        for name, relative in listed.items():
            if isinstance(relative, str) and relative:
                paths.setdefault((project.folder / relative).resolve(), str(name))
    folder = project.folder / CONFIGS_FOLDER
    if folder.is_dir():
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            paths.setdefault(path.resolve(), path.stem)
    return [_read(name, path) for path, name in paths.items()]


def _read(name: str, path: Path) -> ConfigChoice:
    try:
        return ConfigChoice(name, load_config(path), path)
    except ConfigError as error:
        return ConfigChoice(name, None, path, str(error))


def demo_choice(project: Project) -> ConfigChoice:
    """The quick demo run for ``project`` (see :func:`demo_config`)."""
    return ConfigChoice(DEMO_NAME, demo_config(project), None, "", demo=True)


def demo_config(project: Project, max_steps: int = DEMO_STEPS) -> TrainConfig:
    """A short QLoRA run of the tiny model on the project's training data.

    Projects without a training dataset train the bundled sample's examples. The
    values suit a GPU; :func:`for_device` adapts them to a CPU when the run starts.
    """
    dataset = project.datasets.get("train") or str(
        resource("sample_project", "datasets", "it_support.jsonl")
    )
    every = max(1, min(10, max_steps // 3))
    return dataclasses.replace(
        defaults_for("qlora"),
        base_model=TINY_MODEL,
        dataset=dataset,
        max_steps=max_steps,
        epochs=1,
        per_device_batch_size=4,
        grad_accum=1,
        learning_rate=2e-3,
        max_length=512,
        eval_steps=every,
        save_steps=every,
        early_stopping_patience=0,
    )


def for_device(config: TrainConfig, gpu: bool) -> TrainConfig:
    """The demo's device settings: bf16, a paged optimizer and checkpointing on a GPU;
    fp32, AdamW and no checkpointing on a CPU (so the engine has nothing to correct)."""
    if gpu:
        return dataclasses.replace(
            config, precision="bf16", optimizer="paged_adamw_32bit", gradient_checkpointing=True
        )
    return dataclasses.replace(
        config, precision="fp32", optimizer="adamw_torch", gradient_checkpointing=False
    )


def summary_rows(config: TrainConfig, project_folder: Path | None) -> list[tuple[str, str]]:
    """The key values of ``config`` as (label, value) rows, in plain words."""
    if config.max_steps:
        length = f"{config.max_steps:,} steps"
    else:
        length = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    method = {"qlora": "QLoRA (4-bit base)", "lora": "LoRA", "full": "Full fine-tuning"}.get(
        config.method, config.method
    )
    if config.method != "full":
        method += f", rank {config.r}, alpha {config.alpha}"
    evaluation = (
        f"every {config.eval_steps} steps on {config.val_fraction:.0%} of the examples"
        if config.eval_steps and config.val_fraction
        else "off"
    )
    rows = [
        ("Base model", describe_base_model(config.base_model, project_folder)),
        ("Data", config.dataset or "(not set)"),
        ("Method", method),
        ("Length", length),
        (
            "Batch",
            f"{config.per_device_batch_size} × {config.grad_accum} accumulation "
            f"= {config.effective_batch} examples per step",
        ),
        ("Learning rate", f"{config.learning_rate:g}, {config.lr_scheduler} schedule"),
        ("Max length", f"{config.max_length:,} tokens"),
        ("Validation", evaluation),
        ("Checkpoints", f"every {config.save_steps} steps"),
    ]
    if config.objective == "dpo":
        rows.insert(
            3,
            (
                "Objective",
                f"DPO preference tuning (beta {config.dpo_beta:g}): learns to prefer the "
                "chosen answer of each pair",
            ),
        )
    if config.init_adapter:
        rows.insert(3, ("Starts from", f"the adapter of {config.init_adapter}"))
    return rows


def resumable_run(project_folder: Path) -> Path | None:
    """The newest run folder under ``runs/`` that did not finish and has a complete checkpoint.

    A checkpoint is complete once ftstudio wrote its manifest; ``run.json`` says
    whether the run finished. (The engine's ``find_resumable_run`` also consults the
    run database; this cheap check needs no engine, for enabling the Resume button.)
    """
    runs = Path(project_folder) / RUNS_FOLDER
    if not runs.is_dir():
        return None
    for folder in sorted((p for p in runs.iterdir() if is_run_dir(p)), reverse=True):
        try:
            status = read_run_file(folder).get("status")
        except RunStoreError:
            continue
        if status == "finished" or not (folder / "config.yaml").is_file():
            continue
        if any(folder.glob(f"{CHECKPOINT_PREFIX}*/{CHECKPOINT_MANIFEST}")):
            return folder
    return None


def dataset_problem(config: TrainConfig, project_folder: Path) -> str:
    """Why the run cannot start for want of data, in plain words, or ``""``."""
    if not config.dataset:
        return "The configuration names no dataset file. Set it in the planning wizard."
    path = Path(config.dataset).expanduser()
    if not path.is_absolute():
        path = project_folder / path
    if not path.is_file():
        return f"The dataset file {path} does not exist. Choose another in the planning wizard."
    return ""
