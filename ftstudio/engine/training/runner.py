"""``run_training``: one SFT or DPO run (QLoRA, LoRA or full) from a configuration to a run folder.

The loop is trl's ``SFTTrainer`` (``objective: sft``) or ``DPOTrainer``
(``objective: dpo``); ftstudio supplies the data (SFT: pre-tokenised with the
dataset studio's loss mask, padding-free; DPO: validated preference pairs that trl
tokenises with the chat template), the model (4-bit NF4 for QLoRA; with
``init_adapter``, an earlier run's adapter to continue from, which is also DPO's
reference model), the events, the safety nets and crash-safe checkpoints. The same
function runs in the GUI's worker thread, in ``ftstudio train`` and in each process of
``accelerate launch`` (the main process writes the run folder, the database row and
the events; every process trains).

Usage::

    result = run_training(config, on_event=print, cancel=stop_event,
                          project=Path("~/ftstudio/My project"))
    print(result.status, result.adapter_dir)
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.events import CheckpointSaved, Failed, Finished, Started, TrainingEvent
from ftstudio.core.runs import (
    RUNS_FOLDER,
    RunPaths,
    RunStore,
    RunStoreError,
    find_project_folder,
    is_run_dir,
    new_run_id,
    read_run_file,
)
from ftstudio.core.train_config import TrainConfig
from ftstudio.engine.training.checkpoints import (
    MANIFEST,
    PREFIX,
    CheckpointError,
    CheckpointInfo,
    estimate_checkpoint_bytes,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    remove_staging,
)
from ftstudio.engine.training.data import PreparedData, TrainingDataError
from ftstudio.engine.training.failures import RunFailure, classify, oom_message
from ftstudio.engine.training.preference import PreparedPreferences
from ftstudio.engine.training.records import RunRecorder, training_config_hash

Cancel = Callable[[], bool] | threading.Event
OnEvent = Callable[[TrainingEvent], None]

_TRAINER_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "trainer_state.json",
    "training_args.bin",
    "README.md",
)
"""Checkpoint files that hold the Trainer's state, not the model."""
REFERENCE_ADAPTER = "ref"
"""The adapter trl's ``DPOTrainer`` adds as the reference when training an existing one."""


@dataclass(frozen=True)
class RunResult:
    """How a run ended.

    Attributes:
        run_id: the run's id (``""`` when it failed before it had one).
        run_dir: the run folder (``None`` likewise).
        status: ``finished``, ``stopped`` or ``failed``.
        step: the last step done.
        total_steps: the steps planned.
        final_loss: the last logged training loss.
        best_eval_loss: the lowest validation loss.
        adapter_dir: the final adapter (or model, for full fine-tuning) folder.
        code: the failure code of a failed run (see :class:`~ftstudio.core.events.Failed`).
        message: why it ended, or what went wrong and how to fix it.
    """

    run_id: str
    run_dir: Path | None
    status: str
    step: int = 0
    total_steps: int = 0
    final_loss: float | None = None
    best_eval_loss: float | None = None
    adapter_dir: Path | None = None
    code: str = ""
    message: str = ""


def run_training(
    config: TrainConfig,
    on_event: OnEvent | None = None,
    cancel: Cancel | None = None,
    *,
    project: Path | None = None,
    run_dir: Path | None = None,
    resume: Path | bool | None = None,
    name: str | None = None,
    callbacks: Sequence[Any] = (),
    trust_remote_code: bool = False,
) -> RunResult:
    """Train ``config`` and write a run folder; returns how the run ended.

    Never raises for a failed run (bad data, NaN loss, out of memory, a broken
    checkpoint…): the result and the :class:`~ftstudio.core.events.Failed` event
    carry the code and a plain message. Only ``KeyboardInterrupt`` passes through
    (the run is recorded as stopped first).

    Args:
        config: the training configuration (``dataset`` and a relative
            ``base_model`` are taken from the project folder).
        on_event: receives every event, in the training thread (main process only).
        cancel: a callable returning true, or a :class:`threading.Event`, that asks
            the run to stop at the end of the current step (a checkpoint is saved).
        project: the project folder (default: the nearest folder with ``project.json``
            at or above the working directory, else the working directory). The run
            database is ``<project>/runs/runs.sqlite``.
        run_dir: the run folder (default: ``config.output_dir`` if set, else
            ``<project>/runs/<new run id>``).
        resume: a run folder or one of its checkpoints to resume, or ``True`` for
            the newest resumable run of the project.
        name: the run's display name (default: its id).
        callbacks: extra ``transformers.TrainerCallback`` objects (for tools and tests
            that need the model or the data loader; events need none).
        trust_remote_code: run the base model's own Python code if it needs some (the
            user allowed it for this run); otherwise such a model fails with code
            ``model`` and a plain message.
    """
    run = _Run(config, on_event, cancel, project, run_dir, resume, name)
    run.extra_callbacks = list(callbacks)
    run.trust_remote_code = trust_remote_code
    return run.execute()


def find_resumable_run(project: Path) -> Path | None:
    """The newest run of ``project`` that did not finish and has a complete checkpoint."""
    candidates: list[Path] = []
    with contextlib.suppress(RunStoreError):
        candidates = [
            Path(record.path)
            for record in reversed(RunStore.for_project(project).list())
            if record.status in ("running", "failed", "stopped")
        ]
    runs_folder = Path(project) / RUNS_FOLDER
    if runs_folder.is_dir():
        folders = sorted((p for p in runs_folder.iterdir() if is_run_dir(p)), reverse=True)
        candidates += [p for p in folders if p not in candidates]
    for folder in candidates:
        if not folder.is_dir() or latest_checkpoint(folder) is None:
            continue
        with contextlib.suppress(RunStoreError):
            if read_run_file(folder).get("status") == "finished":
                continue
        return folder
    return None


class _Run:
    """One call of :func:`run_training`: setup, train, finish (torchtune's recipe shape)."""

    def __init__(
        self,
        config: TrainConfig,
        on_event: OnEvent | None,
        cancel: Cancel | None,
        project: Path | None,
        run_dir: Path | None,
        resume: Path | bool | None,
        name: str | None,
    ) -> None:
        self.config = config
        self.on_event = on_event
        self.cancel = _cancel_function(cancel)
        self.project = _project_folder(project)
        self.requested_dir = run_dir
        self.resume = resume
        self.name = name
        self.is_main, self.world_size, self.local_rank = True, 1, 0
        self.recorder: RunRecorder | None = None
        self.checkpoint: CheckpointInfo | None = None
        self.data: PreparedData | PreparedPreferences | None = None
        self.callback: Any = None
        self.trainer: Any = None
        self.plan: Any = None
        self.started_at = time.perf_counter()
        self.extra_callbacks: list[Any] = []
        self.trust_remote_code = False
        self.model_path = ""
        self.tokenizer: Any = None
        self.init_adapter: Path | None = None

    @property
    def paths(self) -> RunPaths | None:
        return self.recorder.paths if self.recorder is not None else None

    # ---- Top level
    def execute(self) -> RunResult:
        try:
            self._setup_processes()
            self._setup_run_folder()
            self._setup_data()
            if self.cancel():
                return self._stopped_before_training()
            with _no_progress_bars():
                return self._train()
        except RunFailure as failure:
            return self._fail(failure.code, failure.message)
        except KeyboardInterrupt:
            if self.recorder is not None:
                self.recorder.ended("stopped", error="Interrupted (Ctrl-C).")
            raise
        except Exception as error:  # every other error is reported, never lost
            code, message = classify(error, self.paths.root if self.paths else None)
            return self._fail(code, message, detail="".join(traceback.format_exception(error)))
        finally:
            self.trainer = None
            _release_memory()

    # ---- Setup
    def _setup_processes(self) -> None:
        """Join ``accelerate launch``'s processes, if any."""
        from accelerate import PartialState

        state = PartialState(cpu=not _cuda_available())
        self.is_main = state.is_main_process
        self.world_size = state.num_processes
        self.local_rank = state.local_process_index

    def _setup_run_folder(self) -> None:
        config = self.config
        _check_objective(config)
        if self.resume:
            root, self.checkpoint = self._resume_target()
        elif self.requested_dir is not None:
            root = Path(self.requested_dir).expanduser()
        elif config.output_dir:
            root = Path(config.output_dir).expanduser()
            if not root.is_absolute():
                root = self.project / root
        else:
            root = self.project / RUNS_FOLDER / new_run_id()
        root = root.resolve()
        problem = ""
        if self.checkpoint is None and is_run_dir(root):
            problem = (
                f"{root} holds a run already. Resume it (ftstudio train CONFIG --resume {root}) "
                "or choose another output folder."
            )
        # Every process takes the main one's folder and verdict (the main one writes
        # run.json next, so another process checking for itself could see it).
        root, problem = self._shared(root, problem)
        if problem:
            raise RunFailure("config", problem)
        self.recorder = RunRecorder(
            RunPaths(root), self.project, is_main=self.is_main, on_event=self.on_event
        )
        if self.is_main:
            remove_staging(root)
        if self.checkpoint is None:
            self.recorder.create(config, name=self.name)
            return
        self.recorder.reopen(config, name=self.name, step=self.checkpoint.step)
        if self.checkpoint.config_sha256 not in ("", training_config_hash(config)):
            saved = self.recorder.save_resume_config(config, self.checkpoint.step)
            self.recorder.warn(
                "resume_config_changed",
                f"The configuration differs from the one that wrote {self.checkpoint.path.name}; "
                "the run goes on with the new settings, so it will not match an uninterrupted "
                f"run. The new settings are in {saved.name}.",
                self.checkpoint.step,
            )

    def _resume_target(self) -> tuple[Path, CheckpointInfo]:
        target = self.resume
        if target is True:
            target = find_resumable_run(self.project)
            if target is None:
                raise RunFailure(
                    "checkpoint",
                    f"No run of {self.project} can resume: none stopped or failed with a "
                    "complete checkpoint. Start a new run instead.",
                )
        path = Path(target).expanduser().resolve()  # type: ignore[arg-type]
        try:
            if (path / MANIFEST).is_file() or path.name.startswith(PREFIX):
                return path.parent, read_checkpoint(path)
            if not is_run_dir(path):
                raise RunFailure(
                    "checkpoint",
                    f"{path} is not an ftstudio run folder (it has no run.json). Give the run "
                    "folder to resume, e.g. runs/20261130-142301-ab12.",
                )
            info = latest_checkpoint(path)
        except CheckpointError as error:
            raise RunFailure("checkpoint", str(error)) from None
        if info is None:
            raise RunFailure(
                "checkpoint",
                f"{path} has no complete checkpoint to resume from (one is saved every "
                f"{self.config.save_steps} steps). Start a new run instead.",
            )
        return path, info

    def _setup_data(self) -> None:
        from ftstudio.engine.base_model import (
            RemoteCodeError,
            check_remote_code,
            download_base_model,
            resolve_base_model,
        )
        from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer
        from ftstudio.engine.training.data import prepare_data, write_example_files
        from ftstudio.engine.training.preference import prepare_preferences

        config, recorder = self.config, self.recorder
        assert recorder is not None
        if not config.dataset:
            raise RunFailure(
                "config", "dataset: no dataset file is set. Set dataset: datasets/train.jsonl."
            )
        dataset_path = Path(config.dataset).expanduser()
        if not dataset_path.is_absolute():
            dataset_path = self.project / dataset_path
        try:
            self.model_path = resolve_base_model(config.base_model, self.project)
            if not Path(self.model_path).is_dir():  # a hub id: downloaded only now
                self.model_path = str(
                    download_base_model(self.model_path, trust_remote_code=self.trust_remote_code)
                )
            check_remote_code(self.model_path, self.trust_remote_code, name=config.base_model)
        except (FileNotFoundError, ConnectionError, RemoteCodeError) as error:
            raise RunFailure("model", str(error)) from None
        try:
            self.tokenizer = load_tokenizer(
                Path(self.model_path),
                require_chat_template=False,
                trust_remote_code=self.trust_remote_code,
            )
        except (OSError, ValueError) as error:
            if Path(self.model_path).is_dir():
                raise RunFailure("model", str(error)) from None
            raise RunFailure(
                "model",
                f"base_model: {config.base_model} is not on this computer. Download it first "
                "(for example with huggingface-cli download) and set base_model to its folder.",
            ) from None
        if config.init_adapter:
            self._setup_init_adapter()
        prepare = prepare_preferences if config.objective == "dpo" else prepare_data
        try:
            self.data = data = prepare(
                dataset_path,
                ChatTemplateTokenizer(self.tokenizer),
                max_length=config.max_length,
                val_fraction=config.val_fraction,
                seed=config.seed,
                cancel=self.cancel,
            )
        except TrainingDataError as error:
            if self.cancel():
                return  # stopped while checking the data: execute() records the stop
            raise RunFailure("data", str(error)) from None
        if not self.is_main:
            return
        checkpoint = self.checkpoint
        if checkpoint is None:
            write_example_files(data, recorder.paths)
            recorder.info["dataset"] = {
                "path": str(dataset_path),
                "sha256": data.dataset_sha256,
                "format": data.dataset.format,
                "kind": data.dataset.kind,
                "train_examples": len(data.train),
                "val_examples": len(data.val),
                "excluded": data.excluded,
                "split": data.split_source,
                "train_tokens": data.train_tokens,
            }
            if self.init_adapter is not None:
                recorder.info["init_adapter"] = str(self.init_adapter)
            recorder.save()
        elif checkpoint.dataset_sha256 not in ("", data.dataset_sha256):
            recorder.warn(
                "resume_dataset_changed",
                f"{dataset_path.name} changed since {checkpoint.path.name} was written (its "
                "hash differs), so the examples and their order are not those of the "
                "interrupted run.",
                checkpoint.step,
            )
        for note in data.notes:
            recorder.warn("data", note)

    def _setup_init_adapter(self) -> None:
        """Find ``init_adapter`` and check that it fits the base model."""
        from ftstudio.engine.training.adapters import (
            AdapterError,
            check_adapter_base,
            resolve_init_adapter,
            settings_note,
        )

        config, recorder = self.config, self.recorder
        assert recorder is not None
        try:
            adapter = resolve_init_adapter(config.init_adapter, self.project)
            warning = check_adapter_base(adapter, self.model_path, config.base_model)
        except AdapterError as error:
            raise RunFailure("config", str(error)) from None
        self.init_adapter = adapter
        note = settings_note(adapter, config.r, config.alpha, config.target_modules)
        for text in (warning, note):
            if text:
                recorder.warn("init_adapter", text)

    # ---- Training
    def _train(self) -> RunResult:
        from ftstudio.engine.training.adapters import load_adapter
        from ftstudio.engine.training.callbacks import EventCallback
        from ftstudio.engine.training.loading import load_model, lora_config, plan_device
        from ftstudio.engine.training.trainer import FtDPOTrainer, FtTrainer

        config, data, recorder = self.config, self.data, self.recorder
        assert data is not None
        assert recorder is not None
        self.plan = plan = plan_device(config, local_rank=self.local_rank)
        for note in plan.notes:
            recorder.warn("device", note)
        has_eval = bool(data.val) and config.eval_steps > 0
        patience = config.early_stopping_patience if has_eval else 0
        if config.early_stopping_patience and not has_eval:
            recorder.warn(
                "early_stopping",
                "Early stopping is off for this run: it watches the validation loss, and this "
                "run has no validation examples (or eval_steps is 0).",
            )
        model = load_model(
            self.model_path,
            config,
            plan,
            local_rank=self.local_rank,
            trust_remote_code=self.trust_remote_code,
        )
        peft = lora_config(config)
        if self.init_adapter is not None:
            model, peft = load_adapter(model, self.init_adapter), None
        self.callback = EventCallback(
            emit=recorder.emit,
            cancel=self.cancel,
            metrics_path=recorder.paths.metrics,
            is_main=self.is_main,
            has_eval=has_eval,
            early_stopping_patience=patience,
            on_begin=self._started,
            learning_rate=config.learning_rate,
        )
        if peft is not None:
            trainable = saved = _lora_parameters(model, peft)
        elif self.init_adapter is not None:
            trainable = saved = _trainable_parameters(model)
        else:
            trainable = saved = _parameters(model)
        dpo = config.objective == "dpo"
        trainer_class = FtDPOTrainer if dpo else FtTrainer
        build_args = _dpo_args if dpo else _trainer_args
        self.trainer = trainer_class(
            model=model,
            args=build_args(config, plan, recorder.paths.root, has_eval),
            train_dataset=_hf_dataset(data.rows("train")),
            eval_dataset=_hf_dataset(data.rows("val")) if has_eval else None,
            processing_class=self.tokenizer,
            peft_config=peft,
            callbacks=[self.callback, *self.extra_callbacks],
            config_sha256=training_config_hash(config),
            dataset_sha256=data.dataset_sha256,
            checkpoint_bytes=estimate_checkpoint_bytes(trainable, saved, stateful=True),
            keep_best=bool(patience),
            on_checkpoint=self._checkpoint_saved,
            on_low_disk=lambda message, step: recorder.warn("low_disk", message, step),
        )
        _remove_console_callbacks(self.trainer)
        if _cuda_available():
            import torch

            torch.cuda.reset_peak_memory_stats()
        self.started_at = time.perf_counter()
        resume = str(self.checkpoint.path) if self.checkpoint is not None else None
        self.trainer.train(resume_from_checkpoint=resume)
        return self._finish()

    def _finish(self) -> RunResult:
        callback, trainer, recorder = self.callback, self.trainer, self.recorder
        assert recorder is not None
        step, total = trainer.state.global_step, trainer.state.max_steps
        if callback.stop_reason == "nan":
            raise RunFailure("nan_loss", callback.failure)
        status = "stopped" if callback.stop_reason == "cancelled" else "finished"
        reason = {
            "cancelled": f"Stopped at step {step} of {total}; resume to continue.",
            "early_stopping": (
                f"Stopped early at step {step}: the validation loss had not improved for "
                f"{self.config.early_stopping_patience} evaluations; the best "
                f"({_loss(callback.best_eval_loss)} at step {callback.best_step}) was kept."
            ),
        }.get(callback.stop_reason, f"Finished all {step} steps.")
        best_dir = None
        best = recorder.paths.root / f"{PREFIX}{callback.best_step}"
        if self.config.early_stopping_patience and callback.best_step not in (0, step):
            best_dir = best if best.is_dir() else None
        if best_dir is not None and callback.stop_reason != "early_stopping":
            reason += (
                f" The saved adapter is the best checkpoint (step {callback.best_step}, "
                f"validation loss {_loss(callback.best_eval_loss)})."
            )
        adapter = self._save_final(best_dir)
        recorder.emit(
            Finished(
                run_id=recorder.run_id,
                run_dir=str(recorder.paths.root),
                status=status,
                step=step,
                total_steps=total,
                final_loss=callback.final_loss,
                best_eval_loss=callback.best_eval_loss,
                adapter_dir=str(adapter),
                reason=reason,
                elapsed_s=time.perf_counter() - self.started_at,
            )
        )
        recorder.ended(
            status,
            step=step,
            total_steps=total,
            final_loss=callback.final_loss,
            best_eval_loss=callback.best_eval_loss,
            message=reason,
            adapter=adapter,
        )
        return RunResult(
            run_id=recorder.run_id,
            run_dir=recorder.paths.root,
            status=status,
            step=step,
            total_steps=total,
            final_loss=callback.final_loss,
            best_eval_loss=callback.best_eval_loss,
            adapter_dir=adapter,
            message=reason,
        )

    def _stopped_before_training(self) -> RunResult:
        """The user stopped the run while its data was being checked."""
        recorder = self.recorder
        assert recorder is not None
        reason = "Stopped before training started; nothing was trained."
        recorder.emit(
            Finished(
                run_id=recorder.run_id,
                run_dir=str(recorder.paths.root),
                status="stopped",
                step=0,
                total_steps=0,
                reason=reason,
            )
        )
        recorder.ended("stopped", step=0, message=reason)
        return RunResult(recorder.run_id, recorder.paths.root, "stopped", message=reason)

    def _save_final(self, best_dir: Path | None) -> Path:
        """Write the final adapter (or model) atomically; copied from ``best_dir`` when given."""
        paths, trainer = self.paths, self.trainer
        assert paths is not None
        target = paths.model_dir if self.config.method == "full" else paths.adapter_dir
        staging = paths.root / f".tmp-{target.name}"
        if self.is_main:
            shutil.rmtree(staging, ignore_errors=True)
        trainer.accelerator.wait_for_everyone()
        if best_dir is None:
            trainer.save_model(str(staging))  # a collective call under FSDP and DeepSpeed
        elif self.is_main:
            shutil.copytree(
                best_dir, staging, ignore=lambda _d, names: [n for n in names if _trainer_file(n)]
            )
        trainer.accelerator.wait_for_everyone()
        if self.is_main:
            for name in ("training_args.bin", "README.md"):  # a pickle, and a model card
                (staging / name).unlink(missing_ok=True)
            # DPO from an adapter: trl's frozen copy of the starting adapter (the reference).
            shutil.rmtree(staging / REFERENCE_ADAPTER, ignore_errors=True)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        return target

    # ---- Events
    def _started(self, total_steps: int, start_step: int) -> None:
        data, recorder = self.data, self.recorder
        assert data is not None
        assert recorder is not None
        resumed = str(self.checkpoint.path) if self.checkpoint is not None else ""
        extra = {"resumed_from": resumed} if resumed else {}
        recorder.info["world_size"] = self.world_size
        recorder.started(
            total_steps=total_steps,
            start_step=start_step,
            device=self.plan.description,
            **extra,
        )
        recorder.emit(
            Started(
                run_id=recorder.run_id,
                run_dir=str(recorder.paths.root),
                name=str(recorder.info.get("name", recorder.run_id)),
                method=self.config.method,
                total_steps=total_steps,
                start_step=start_step,
                epochs=float(self.config.epochs),
                train_examples=len(data.train),
                val_examples=len(data.val),
                train_tokens=data.train_tokens,
                device=self.plan.description,
                world_size=self.world_size,
                resumed_from=resumed,
            )
        )

    def _checkpoint_saved(self, info: CheckpointInfo) -> None:
        assert self.recorder is not None
        event = CheckpointSaved(step=info.step, path=str(info.path), size_bytes=info.size_bytes)
        self.recorder.emit(event)
        self.recorder.update_row(step=info.step)

    def _fail(self, code: str, message: str, detail: str = "") -> RunResult:
        step = total = 0
        if self.trainer is not None:
            step, total = self.trainer.state.global_step, self.trainer.state.max_steps
        if code == "out_of_memory":
            message = oom_message(self.config, self.project, step)
        callback, recorder = self.callback, self.recorder
        final_loss = callback.final_loss if callback else None
        best = callback.best_eval_loss if callback else None
        last = ""
        if recorder is not None:
            done = list_checkpoints(recorder.paths.root)
            last = str(done[-1].path) if done else ""
            failed = Failed(
                run_id=recorder.run_id,
                run_dir=str(recorder.paths.root),
                code=code,
                message=message,
                step=step,
                last_checkpoint=last,
                detail=detail,
            )
            with contextlib.suppress(Exception):  # a failing listener must not hide the failure
                recorder.emit(failed)
            recorder.ended(
                "failed",
                step=step,
                total_steps=total,
                final_loss=final_loss,
                best_eval_loss=best,
                error=message,
            )
        elif self.is_main and self.on_event is not None:
            with contextlib.suppress(Exception):
                self.on_event(
                    Failed(run_id="", run_dir="", code=code, message=message, detail=detail)
                )
        return RunResult(
            run_id=recorder.run_id if recorder else "",
            run_dir=recorder.paths.root if recorder else None,
            status="failed",
            step=step,
            total_steps=total,
            final_loss=final_loss,
            best_eval_loss=best,
            code=code,
            message=message,
        )

    def _shared(self, root: Path, problem: str) -> tuple[Path, str]:
        """The main process's run folder and problem, in every process."""
        if self.world_size < 2:
            return root, problem
        import torch.distributed as dist

        box = [str(root), problem]
        dist.broadcast_object_list(box, src=0)
        return Path(box[0]), box[1]


# ---------------------------------------------------------------------------- helpers


def _check_objective(config: TrainConfig) -> None:
    """Refuse settings the objective cannot train with (a plain ``config`` failure)."""
    if config.objective not in ("sft", "dpo"):
        raise RunFailure(
            "config",
            f"objective: {config.objective} is not a training objective; set objective: sft "
            "(supervised fine-tuning) or objective: dpo (preference pairs).",
        )
    if config.objective == "dpo" and config.packing:
        raise RunFailure(
            "config",
            "packing: DPO trains on chosen/rejected pairs and cannot pack them; set "
            "packing: false.",
        )
    if config.init_adapter and config.method == "full":
        raise RunFailure(
            "config",
            "init_adapter: full fine-tuning trains every weight and cannot start from an "
            "adapter. Use method: lora or qlora, or merge the adapter into a model (Export) and "
            "set base_model to it.",
        )


def _common_args(config: TrainConfig, plan: Any, output_dir: Path, has_eval: bool) -> dict:
    """The Trainer arguments SFT and DPO share."""
    kwargs: dict[str, Any] = {
        "output_dir": str(output_dir),
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps if config.max_steps > 0 else -1,
        "per_device_train_batch_size": config.per_device_batch_size,
        "per_device_eval_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio,  # below 1: a share of the steps
        "weight_decay": 0.0,
        "optim": plan.optimizer,
        "seed": config.seed,
        "data_seed": config.seed,
        "bf16": plan.bf16,
        "fp16": plan.fp16,
        "use_cpu": plan.device == "cpu",
        "activation_checkpointing": config.gradient_checkpointing,
        "activation_checkpointing_kwargs": {"use_reentrant": False},
        "logging_steps": 1,
        "logging_first_step": True,
        "logging_nan_inf_filter": False,  # a NaN must reach the safety net, not be averaged away
        "include_num_input_tokens_seen": "non_padding",
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": config.eval_steps if has_eval else None,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": None,  # ftstudio rotates its own complete checkpoints
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,
    }
    if has_eval:
        kwargs["metric_for_best_model"] = "eval_loss"
        kwargs["greater_is_better"] = False
    return kwargs


def _trainer_args(config: TrainConfig, plan: Any, output_dir: Path, has_eval: bool) -> Any:
    """trl's ``SFTConfig`` for ``config`` on ``plan``'s device."""
    from trl import SFTConfig

    packing = config.packing
    kwargs = _common_args(config, plan, output_dir, has_eval)
    kwargs |= {
        # Pre-tokenised input_ids + labels carrying the studio's mask; no padding.
        "assistant_only_loss": False,
        "completion_only_loss": False,
        "padding_free": not packing,
        "packing": packing,
        "max_length": config.max_length if packing else None,
        "shuffle_dataset": False,
    }
    if packing:
        kwargs["packing_strategy"] = "bfd"
    return SFTConfig(**kwargs)


def _dpo_args(config: TrainConfig, plan: Any, output_dir: Path, has_eval: bool) -> Any:
    """trl's ``DPOConfig`` for ``config`` on ``plan``'s device (sigmoid DPO loss)."""
    from trl import DPOConfig

    kwargs = _common_args(config, plan, output_dir, has_eval)
    kwargs |= {
        "beta": config.dpo_beta,
        "loss_type": "sigmoid",
        # Each of the chosen and rejected sequences (prompt + answer) is cut at max_length.
        "max_length": config.max_length,
        "truncation_mode": "keep_start",
        "padding_free": False,
        "precompute_ref_log_probs": False,
    }
    return DPOConfig(**kwargs)


def _cancel_function(cancel: Cancel | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


def _project_folder(project: Path | None) -> Path:
    if project is not None:
        return Path(project).expanduser().resolve()
    return find_project_folder(Path.cwd()) or Path.cwd().resolve()


def _hf_dataset(rows: list[dict[str, list[int]]]) -> Any:
    import datasets

    return datasets.Dataset.from_list(rows)


def _lora_parameters(model: Any, peft: Any) -> int:
    """Adapter parameters the LoRA settings add to ``model``: r × (in + out) per target."""
    targets = set(peft.target_modules)
    total = 0
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in targets and hasattr(module, "in_features"):
            total += peft.r * (module.in_features + module.out_features)
    return total


def _parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def _trainable_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _remove_console_callbacks(trainer: Any) -> None:
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for callback in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(callback)


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """No loading or saving progress bars on the console (the events report progress)."""
    from datasets.utils import logging as datasets_logging
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    dataset_bars = datasets_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        if dataset_bars:
            datasets_logging.enable_progress_bar()


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _release_memory() -> None:
    """Give the GPU memory of a finished run back (the GUI may train again in-process)."""
    if _cuda_available():  # a full collection costs seconds in a large process: GPU only
        import torch

        gc.collect()
        torch.cuda.empty_cache()


def _trainer_file(name: str) -> bool:
    """Whether a checkpoint file is the Trainer's own state rather than the model."""
    return name in _TRAINER_FILES or name.startswith(("rng_state", "ftstudio-"))


def _loss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
