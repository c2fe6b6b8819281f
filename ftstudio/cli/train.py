"""``ftstudio train``: headless training of a configuration, or the offline demo."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftstudio.cli.common import CommandFailed, apply_settings, duration
from ftstudio.cli.progress import EventPrinter, StopOnInterrupt

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    from ftstudio.core.train_config import TrainConfig

DEMO_STEPS = 30


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio train`` (headless training)."""
    train = commands.add_parser(
        "train",
        help="train a configuration headless (exit 0: finished, 1: failed, 2: bad "
        "configuration, 130: stopped with Ctrl-C)",
        description="Train CONFIG.yaml with the same engine as the studio, writing a run "
        "folder under the project's runs/ and its row in runs/runs.sqlite. Ctrl-C stops at "
        "the end of the step and saves a checkpoint; --resume continues from it. Works "
        "under `accelerate launch` for several GPUs or machines.",
    )
    train.add_argument("config", nargs="?", type=Path, help="the training configuration (YAML)")
    train.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="RUN_DIR",
        help="resume a run from its last complete checkpoint (a run folder or one of its "
        "checkpoints; alone: the project's newest run that did not finish)",
    )
    train.add_argument("--name", help="a display name for the run")
    train.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the project folder (default: the nearest folder with project.json above the "
        "configuration, else the configuration's folder)",
    )
    train.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a base model that needs its own Python code (auto_map in its "
        "config.json) to run it, for this run only; only for repositories you trust",
    )
    train.add_argument(
        "--demo",
        action="store_true",
        help="train the sample project's examples on the tiny model (offline, minutes on a CPU)",
    )
    train.add_argument(
        "--objective",
        choices=("sft", "dpo"),
        help="with --demo: sft trains the sample chats (the default); dpo trains the sample "
        "preference pairs, on top of the project's newest finished LoRA/QLoRA SFT run on the "
        "same base model if there is one",
    )
    train.add_argument(
        "--max-steps",
        type=int,
        metavar="N",
        help=f"with --demo: optimizer steps (default {DEMO_STEPS})",
    )
    train.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="with --demo: the project folder to train in (default: the sample project's "
        "copy in your data folder)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio train``: run the engine headless with a progress line."""
    from ftstudio.core.fields import ConfigError
    from ftstudio.core.runs import find_project_folder
    from ftstudio.core.train_config import load_config

    if args.demo:
        if args.config is not None:
            parser.error("--demo trains the sample project; leave out CONFIG")
        if args.max_steps is not None and args.max_steps < 1:
            parser.error(f"--max-steps must be at least 1, not {args.max_steps}")
        objective = args.objective or "sft"
        config, project = _demo_config(args.out, args.max_steps or DEMO_STEPS, objective)
    else:
        if args.config is None:
            parser.error("give a configuration file (ftstudio train CONFIG.yaml), or --demo")
        if args.max_steps is not None or args.out is not None or args.objective is not None:
            parser.error("--max-steps, --out and --objective go with --demo (set them in the file)")
        try:
            config = load_config(args.config)
        except ConfigError as error:
            raise CommandFailed(str(error), 2) from error
        folder = args.config.resolve().parent
        project = args.project or find_project_folder(folder) or folder
    resume = args.resume
    if isinstance(resume, str):
        resume = Path(resume)
    if args.trust_remote_code and apply_settings().trust_remote_code == "never":
        raise CommandFailed(
            "--trust-remote-code is refused: the settings say never to run a model's own code "
            "(Settings ▸ Privacy ▸ Custom model code: never). Change it to 'ask' first.",
            2,
        )

    stopping = "\nStopping at the end of this step and saving a checkpoint (Ctrl-C again to abort)…"
    with StopOnInterrupt(stopping) as stop:
        from ftstudio.engine.training import run_training

        printer = _ProgressPrinter(config.objective)
        try:
            result = run_training(
                config,
                printer,
                stop,
                project=Path(project),
                resume=resume,
                name=args.name,
                trust_remote_code=args.trust_remote_code,
            )
        finally:
            printer.close()
    if result.status == "failed":
        return 1
    if result.status == "stopped":
        return 130
    return 0


def _demo_config(
    out: Path | None, max_steps: int, objective: str = "sft"
) -> tuple[TrainConfig, Path]:
    """The sample project (installed into ``out`` when needed) and a short QLoRA config.

    ``objective`` ``dpo`` trains the sample's preference pairs, starting from the
    project's newest finished SFT run on the same base model when there is one.
    """
    import dataclasses

    import torch

    from ftstudio.core.project import MANIFEST, open_project
    from ftstudio.core.sample import install_sample
    from ftstudio.core.train_config import defaults_for, save_config

    if out is not None and (out / MANIFEST).is_file():
        project = open_project(out)
    else:
        project = install_sample(out)
    gpu = torch.cuda.is_available()
    dpo = objective == "dpo"
    if dpo:
        dataset = project.datasets.get("preferences", "datasets/preferences.jsonl")
    else:
        dataset = project.datasets.get("train", "datasets/it_support.jsonl")
    config = dataclasses.replace(
        defaults_for("qlora", objective),
        dataset=dataset,
        max_steps=max_steps,
        epochs=1,
        per_device_batch_size=4,
        grad_accum=1,
        learning_rate=5e-3 if dpo else 2e-3,
        max_length=512,
        eval_steps=max(1, min(10, max_steps // 3)),
        save_steps=max(1, min(10, max_steps // 3)),
        early_stopping_patience=0,
        gradient_checkpointing=gpu,
        precision="bf16" if gpu else "fp32",
        optimizer="paged_adamw_32bit" if gpu else "adamw_torch",
    )
    start = ""
    if dpo:
        sft_run = _newest_sft_run(project.folder, config.base_model)
        if sft_run is not None:
            config = dataclasses.replace(config, init_adapter=str(sft_run))
            start = f" DPO starts from the SFT run {sft_run.name} (its adapter is the reference)."
        else:
            start = (
                " DPO starts from the base model (run `ftstudio train --demo` first to start "
                "from an SFT adapter)."
            )
    saved = save_config(config, project.folder / ("demo-dpo.yaml" if dpo else "demo.yaml"))
    print(f"Demo: {project.folder} (configuration saved as {saved.name}).{start}")
    return config, project.folder


def _newest_sft_run(project: Path, base_model: str) -> Path | None:
    """The project's newest finished LoRA/QLoRA SFT run on ``base_model``, or ``None``."""
    from ftstudio.core.runs import RUNS_FOLDER, RunStoreError, is_run_dir, read_run_file

    runs = project / RUNS_FOLDER
    folders = (
        sorted((p for p in runs.iterdir() if is_run_dir(p)), reverse=True) if runs.is_dir() else []
    )
    for folder in folders:
        try:
            info = read_run_file(folder)
        except RunStoreError:
            continue
        if (
            info.get("status") == "finished"
            and info.get("objective", "sft") == "sft"
            and info.get("base_model") == base_model
            and (folder / "adapter" / "adapter_config.json").is_file()
        ):
            return folder
    return None


class _ProgressPrinter(EventPrinter):
    """Prints events: one updating progress line on a terminal, else a line per step."""

    def __init__(self, objective: str = "sft") -> None:
        super().__init__()
        self.objective = objective

    def on_event(self, event: Any) -> None:
        kind = event.kind
        if kind == "step":
            self.progress(self._step_text(event), 100)
        elif kind == "started":
            resumed = f", resumed at step {event.start_step}" if event.start_step else ""
            self.line(
                f"Run {event.run_id}: {event.method} {self.objective.upper()} on {event.device}, "
                f"{event.train_examples:,} training and {event.val_examples:,} validation "
                f"{'pairs' if self.objective == 'dpo' else 'examples'}, {event.total_steps:,} "
                f"steps{resumed}.\nFolder: {event.run_dir}"
            )
        elif kind == "checkpoint":
            if not self.tty:
                print(f"Saved {event.path}", flush=True)
        elif kind == "finished":
            best = f", best eval loss {event.best_eval_loss:.4f}" if event.best_eval_loss else ""
            final = f"final loss {event.final_loss:.4f}" if event.final_loss is not None else ""
            self.line(f"{event.reason} {final}{best}.\nSaved: {event.adapter_dir}")
        elif kind == "failed":
            where = f" Last checkpoint: {event.last_checkpoint}." if event.last_checkpoint else ""
            text = f"ftstudio: training failed ({event.code}): {event.message}{where}"
            self.line(text, err=True)

    def _step_text(self, event: Any) -> str:
        parts = [
            f"step {event.step}/{event.total_steps}",
            f"{100 * event.fraction:3.0f}%",
            f"loss {event.loss:.4f}",
        ]
        for name, shown in (("rewards/margins", "{:+.4f}"), ("rewards/accuracies", "{:.2f}")):
            if name in event.metrics:
                parts.append(f"{name} {shown.format(event.metrics[name])}")
        if self.eval_loss is not None:
            parts.append(f"eval {self.eval_loss:.4f}")
        parts.append(f"lr {event.learning_rate:.2e}")
        if event.tokens_per_second:
            parts.append(f"{event.tokens_per_second:,.0f} tok/s")
        if event.memory_gb is not None:
            label = "GPU" if event.memory_kind == "gpu" else "RSS"
            parts.append(f"{label} {event.memory_gb:.1f} GB")
        if event.eta_s is not None:
            parts.append(f"ETA {duration(event.eta_s)}")
        return "  ".join(parts)
