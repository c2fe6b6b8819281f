"""The tuned model's loss on every training and validation example of a run.

The examples are the run's own copies (``data/train.jsonl`` and
``data/validation.jsonl``, exactly what trained), measured with the dataset
studio's loss mask, cut at the run's max length as in training. Each row points
back to the example's line in the original dataset file (``run.json``'s
``dataset.path``) so the editor can open it; an example that is no longer in that
file (edited or deleted since) points to its line in the run's copy instead.
The rows are ranked and flagged by :func:`ftstudio.core.evaluation.example_loss.analyse_losses`
and saved with the run (``<run>/eval/example_losses.jsonl``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.core.dataset.formats import DatasetReadError
from ftstudio.core.dataset.records import Record
from ftstudio.core.evaluation.example_loss import ExampleLoss, analyse_losses, save_losses
from ftstudio.core.runs import RunPaths, is_run_dir
from ftstudio.engine.evaluate import EvaluationCancelled, EvaluationError, original_dataset

PREVIEW_CHARS = 120
"""How much of an example's text the table shows."""
CANCELLED = "The example losses were cancelled; nothing was saved."


def compute_example_losses(
    run_dir: Path,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    adapter: Path | None = None,
) -> list[ExampleLoss]:
    """Measure, rank, flag and save the tuned model's loss on each example of a run.

    Args:
        run_dir: the run folder.
        on_progress: called with (examples done, examples in all, a sentence).
        cancel: polled between examples; True stops with :class:`EvaluationCancelled`
            and nothing is saved.
        adapter: the adapter or checkpoint folder to measure (default: the final one).

    Returns:
        The rows, highest loss first, flagged (see
        :func:`ftstudio.core.evaluation.example_loss.analyse_losses`).

    Raises:
        EvaluationError: not a run folder, no example copies, or a model that cannot
            be loaded.
        EvaluationCancelled: ``cancel`` returned True.
    """
    from ftstudio.engine.inference import ChatModel, InferenceError

    run = Path(run_dir)
    if not is_run_dir(run):
        raise EvaluationError(
            f"{run} is not a training run folder (it has no run.json). Choose a folder inside "
            "the project's runs/ folder."
        )
    paths = RunPaths(run)
    splits: list[tuple[str, Path, list[Record]]] = []
    for split, path in (("train", paths.train_file), ("val", paths.val_file)):
        if path.is_file():
            splits.append((split, path, _read_copy(path)))
    if not any(records for _split, _path, records in splits):
        raise EvaluationError(
            f"The run {run.name} has no copies of its examples ({paths.train_file} is missing), "
            "so there is nothing to measure. The copies are written when training starts."
        )
    stopped = cancel or (lambda: False)
    report = on_progress or (lambda _done, _total, _text: None)
    total = sum(len(records) for _split, _path, records in splits)
    if stopped():
        raise EvaluationCancelled(CANCELLED)
    report(0, total, "Loading the tuned model…")
    try:
        model = ChatModel.load(run, adapter, on_progress=lambda text: report(0, total, text))
    except (InferenceError, FileNotFoundError) as error:
        raise EvaluationError(str(error)) from None
    dataset_path, finder = original_dataset(run)
    rows: list[ExampleLoss] = []
    texts: dict[tuple[str, int], str] = {}
    done = 0
    try:
        for split, copy_path, records in splits:
            name = "training" if split == "train" else "validation"
            for index, record in enumerate(records):
                if stopped():
                    raise EvaluationCancelled(CANCELLED)
                report(done, total, f"Example {done + 1} of {total} ({name})")
                line = finder.find(record) if finder is not None else 0
                where = str(dataset_path) if line else str(copy_path)
                if not line:
                    line = record.line
                text = example_text(record.data)
                texts[(split, index)] = text
                try:
                    loss_sum, count = model.example_loss(record.data, tuned=True)
                except InferenceError:
                    loss_sum, count = math.nan, 0
                rows.append(
                    ExampleLoss(
                        index=index,
                        line=line,
                        split=split,
                        loss=loss_sum / count if count else math.nan,
                        tokens=count,
                        preview=_preview(_question(record.data) or text),
                        dataset=where,
                    )
                )
                done += 1
    finally:
        model.close()
    report(total, total, "Ranking the examples…")
    ranked = analyse_losses(rows, texts)
    save_losses(ranked, run)
    return ranked


def example_text(data: Any) -> str:
    """An example's words, for previews and duplicate checks (roles left out)."""
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    for key in ("messages", "prompt", "completion", "chosen"):
        value = data.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(
                str(m.get("content", "")) for m in value if isinstance(m, dict) and m.get("content")
            )
    return "\n".join(part for part in parts if part)


def _question(data: Any) -> str:
    """The example's first user message (or text prompt): what the table shows."""
    if not isinstance(data, dict):
        return ""
    if isinstance(data.get("prompt"), str):
        return data["prompt"]
    for key in ("messages", "prompt"):
        value = data.get(key)
        if isinstance(value, list):
            for message in value:
                if isinstance(message, dict) and message.get("role") == "user":
                    return str(message.get("content", ""))
    return ""


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _read_copy(path: Path) -> list[Record]:
    from ftstudio.core.dataset.formats import load_dataset

    try:
        dataset = load_dataset(path)
    except DatasetReadError as error:
        raise EvaluationError(str(error)) from None
    return [record for record in dataset.records if record.is_parsed]
