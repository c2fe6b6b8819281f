"""trl's ``SFTTrainer`` and ``DPOTrainer`` with crash-safe checkpoints (the loops are trl's own).

Only the checkpoint save is changed (:class:`CheckpointMixin`): the Trainer writes
into a staging folder, the free disk space is checked first, and the folder is
hashed and renamed into ``<run>/checkpoint-<step>`` once complete (see
:mod:`.checkpoints`). Under ``accelerate launch`` every process writes its part (its
RNG state) into the same staging folder; the main process finishes the checkpoint
after all are done.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trl import DPOTrainer, SFTTrainer

from ftstudio.engine.training.checkpoints import (
    CheckpointInfo,
    checkpoint_dir,
    finalize_checkpoint,
    list_checkpoints,
    rotate_checkpoints,
    space_problem,
    staging_dir,
)

KEEP_LAST = 2
"""Complete checkpoints kept besides the best one (the newest ones)."""


class CheckpointMixin:
    """Staged, disk-checked and hashed checkpoints for a ``transformers.Trainer`` subclass.

    Put it first among the bases (``class T(CheckpointMixin, SFTTrainer)``).

    Args:
        *args, **kwargs: as the trainer it is mixed into.
        config_sha256: hash of the run's configuration, stored in each manifest.
        dataset_sha256: hash of the dataset file, stored in each manifest.
        checkpoint_bytes: the expected size of one checkpoint (for the disk check).
        keep_best: keep the best checkpoint by validation loss besides the newest.
        on_checkpoint: called (main process) with each completed checkpoint.
        on_low_disk: called (main process) with the message when a save is skipped.
    """

    # Provided by transformers.Trainer.
    args: Any
    state: Any
    accelerator: Any

    def __init__(
        self,
        *args: Any,
        config_sha256: str = "",
        dataset_sha256: str = "",
        checkpoint_bytes: int = 0,
        keep_best: bool = False,
        on_checkpoint: Callable[[CheckpointInfo], None] | None = None,
        on_low_disk: Callable[[str, int], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._config_sha256 = config_sha256
        self._dataset_sha256 = dataset_sha256
        self._checkpoint_bytes = checkpoint_bytes
        self._keep_best = keep_best
        self._on_checkpoint = on_checkpoint
        self._on_low_disk = on_low_disk
        self.last_checkpoint: CheckpointInfo | None = None

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        step = self.state.global_step
        run_dir = Path(self.args.output_dir)
        problem = None
        if self.args.should_save:
            problem = space_problem(run_dir, 2 * self._needed_bytes(run_dir))
        if not self._all_agree(problem is None):
            if problem and self._on_low_disk is not None:
                self._on_low_disk(problem, step)
            return
        staging_root = staging_dir(run_dir, step)
        self.args.output_dir = str(staging_root)
        try:
            super()._save_checkpoint(model, trial)  # type: ignore[misc]
        finally:
            self.args.output_dir = str(run_dir)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            staged = staging_root / checkpoint_dir(run_dir, step).name
            self._fix_best_path(run_dir, staged, step)
            info = finalize_checkpoint(
                staged,
                checkpoint_dir(run_dir, step),
                step=step,
                config_sha256=self._config_sha256,
                dataset_sha256=self._dataset_sha256,
            )
            shutil.rmtree(staging_root, ignore_errors=True)
            best_step = self.state.best_global_step if self._keep_best else None
            best = {best_step} if best_step else set()
            rotate_checkpoints(run_dir, keep_last=KEEP_LAST, keep_steps=best)
            self.last_checkpoint = info
            if self._on_checkpoint is not None:
                self._on_checkpoint(info)
        self.accelerator.wait_for_everyone()

    # ---- Helpers
    def _needed_bytes(self, run_dir: Path) -> int:
        done = list_checkpoints(run_dir)
        if done:
            return max(self._checkpoint_bytes, done[-1].size_bytes)
        return self._checkpoint_bytes

    def _all_agree(self, flag: bool) -> bool:
        """``flag`` and'ed over every process (the main one decides on disk space)."""
        if self.accelerator.num_processes < 2:
            return flag
        import torch

        value = torch.tensor([0 if flag else 1], device=self.args.device)
        return int(self.accelerator.reduce(value, reduction="sum").item()) == 0

    def _fix_best_path(self, run_dir: Path, staged: Path, step: int) -> None:
        """Point ``best_model_checkpoint`` at the final folder, not the staging one."""
        best_step = self.state.best_global_step
        best = None
        if best_step:
            final = checkpoint_dir(run_dir, best_step)
            if best_step == step or final.is_dir():
                best = str(final)
        if self.state.best_model_checkpoint != best:
            self.state.best_model_checkpoint = best
            self.state.save_to_json(str(staged / "trainer_state.json"))


class FtTrainer(CheckpointMixin, SFTTrainer):
    """``SFTTrainer`` whose checkpoints are staged, checked for disk space and hashed.

    Takes ``SFTTrainer``'s arguments and :class:`CheckpointMixin`'s.
    """


class FtDPOTrainer(CheckpointMixin, DPOTrainer):
    """``DPOTrainer`` whose checkpoints are staged, checked for disk space and hashed.

    Takes ``DPOTrainer``'s arguments and :class:`CheckpointMixin`'s. With a model
    that already holds a trainable PEFT adapter and no ``ref_model``, trl copies the
    adapter as a frozen ``ref`` adapter: the reference is the starting model. Its
    checkpoints then hold the copy in ``ref/`` too, so a resumed run compares with
    the same reference. On a 4-bit base trl turns the trained adapter into bf16
    after copying it; the copy follows, so policy and reference start identical.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        match_reference_dtype(self.model)


def match_reference_dtype(model: Any) -> int:
    """Give the ``ref`` adapter's weights the trained adapter's dtypes; returns how many changed."""
    changed = 0
    config = getattr(model, "peft_config", None)
    if not isinstance(config, dict) or "ref" not in config:
        return changed
    params = dict(model.named_parameters())
    for name, param in params.items():
        if ".default." not in name:
            continue
        ref = params.get(name.replace(".default.", ".ref."))
        if ref is not None and ref.dtype != param.dtype:
            ref.data = ref.data.to(param.dtype)
            changed += 1
    return changed
