"""Evaluate a run: the base and the tuned model answer the same questions.

For every example (the run's validation split, or a chosen dataset file) the
question is the conversation up to its last assistant message, and that message
is the reference answer. Both models answer with the same settings (greedy by
default, :data:`~ftstudio.core.evaluation.settings.EVAL_SETTINGS`), and each side
gets:

- exact match, ROUGE-L F1 and BLEU against the references
  (:mod:`ftstudio.core.evaluation.metrics`: rouge-score and sacrebleu);
- the mean loss per token over the reference answers (earlier assistant turns of a
  conversation are context, not scored), and its perplexity ``exp(loss)``;
- the forgetting check: the perplexity of both models on a small set of general
  conversations (:func:`~ftstudio.core.evaluation.forgetting.general_prompts`).

The report is saved with the run (``<run>/eval/report.json``) only when the
evaluation completes; a cancelled one leaves nothing behind.

Example lines: for the validation split they are the examples' lines in the run's
original dataset file (the file named in its configuration), found by content, so
the dataset editor can open them; 0 when an example is no longer there (a note
says how many). For a chosen file they are its own lines.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.dataset.formats import DatasetReadError
from ftstudio.core.dataset.records import Record
from ftstudio.core.evaluation.metrics import example_scores, perplexity, score_answers
from ftstudio.core.evaluation.results import (
    EvalExample,
    EvalReport,
    ForgettingCheck,
    SideSummary,
    save_report,
)
from ftstudio.core.evaluation.settings import EVAL_SETTINGS, GenerationSettings
from ftstudio.core.runs import (
    RunPaths,
    RunStoreError,
    find_project_folder,
    is_run_dir,
    read_run_file,
    utc_now,
)

VALIDATION_SOURCE = "validation split"
"""The report's ``source`` when the run's validation examples were evaluated."""


class EvaluationError(ValueError):
    """The evaluation cannot run; the message says why and what to do.

    Attributes:
        bad_input: True when the input is at fault (not a run folder, a file that
            cannot be read, no example to evaluate); False when loading or running
            the model failed.
    """

    def __init__(self, message: str, *, bad_input: bool = True) -> None:
        super().__init__(message)
        self.bad_input = bad_input


class EvaluationCancelled(Exception):
    """The evaluation was cancelled; nothing was saved."""


@dataclass(frozen=True)
class _Item:
    """One example to evaluate."""

    index: int
    line: int
    prompt: tuple[dict[str, Any], ...]
    reference: str


def run_evaluation(
    run_dir: Path,
    *,
    data: Path | None = None,
    settings: GenerationSettings = EVAL_SETTINGS,
    limit: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    adapter: Path | None = None,
) -> EvalReport:
    """Answer every example with the base and the tuned model, score them and save the report.

    Args:
        run_dir: the run folder.
        data: a dataset file in any format the dataset studio reads; default: the
            run's validation examples (``data/validation.jsonl``).
        settings: the sampling settings of both sides (default greedy, 256 tokens).
        limit: evaluate only the first ``limit`` examples.
        on_progress: called with (steps done, steps in all, a sentence such as
            "Example 3 of 12: generating (tuned)"); one step per example plus one for
            the forgetting check.
        cancel: polled while generating and between steps; True stops with
            :class:`EvaluationCancelled` and nothing is saved.
        adapter: the adapter or checkpoint folder of the tuned side (default: the
            run's final one).

    Returns:
        The saved report.

    Raises:
        EvaluationError: not a run folder, unreadable data, no example to evaluate,
            or a model that cannot be loaded.
        EvaluationCancelled: ``cancel`` returned True.
    """
    from ftstudio.core.evaluation.forgetting import forgetting_check, general_prompts
    from ftstudio.engine.inference import ChatModel, InferenceError

    run = Path(run_dir)
    if not is_run_dir(run):
        raise EvaluationError(
            f"{run} is not a training run folder (it has no run.json). Choose a folder inside "
            "the project's runs/ folder."
        )
    if limit is not None and limit < 1:
        raise EvaluationError(f"The limit must be at least 1 example, not {limit}.")
    items, source, notes = _items(run, data)
    if limit is not None and len(items) > limit:
        notes.append(f"Only the first {limit} of {len(items)} examples were evaluated.")
        items = items[:limit]
    stopped = cancel or (lambda: False)
    report = on_progress or (lambda _done, _total, _text: None)
    total = len(items) + 1

    def check() -> None:
        if stopped():
            raise EvaluationCancelled("The evaluation was cancelled; nothing was saved.")

    check()
    report(0, total, "Loading the base and tuned models…")
    try:
        model = ChatModel.load(run, adapter, on_progress=lambda text: report(0, total, text))
    except (InferenceError, FileNotFoundError) as error:
        raise EvaluationError(str(error), bad_input=False) from None
    try:
        examples: list[EvalExample] = []
        losses = {False: [0.0, 0], True: [0.0, 0]}
        for n, item in enumerate(items):
            answers: dict[bool, str] = {}
            for tuned in (False, True):
                check()
                side = "tuned" if tuned else "base"
                report(n, total, f"Example {n + 1} of {len(items)}: generating ({side})")
                try:
                    answers[tuned] = model.generate(
                        item.prompt, settings, tuned=tuned, cancel=stopped
                    )
                except InferenceError as error:
                    raise EvaluationError(_at(item, source, str(error))) from None
            check()
            report(n, total, f"Example {n + 1} of {len(items)}: measuring the loss")
            scored = _scored_messages(item)
            for tuned in (False, True):
                try:
                    loss_sum, count = model.answer_loss(scored, tuned=tuned)
                except InferenceError as error:
                    raise EvaluationError(_at(item, source, str(error))) from None
                losses[tuned][0] += loss_sum
                losses[tuned][1] += count
            examples.append(
                EvalExample(
                    index=item.index,
                    line=item.line,
                    prompt=item.prompt,
                    reference=item.reference,
                    base_answer=answers[False],
                    tuned_answer=answers[True],
                    base=example_scores(answers[False], item.reference),
                    tuned=example_scores(answers[True], item.reference),
                )
            )
        check()
        report(len(items), total, "Forgetting check: general prompts")
        forgetting = _forgetting(model, general_prompts(), stopped, forgetting_check)
        check()
        adapter_path = str(model.adapter) if model.adapter is not None else ""
    finally:
        model.close()
    references = [example.reference for example in examples]
    result = EvalReport(
        run_id=_run_id(run),
        run_dir=str(run.resolve()),
        source=source,
        adapter=adapter_path,
        created=utc_now(),
        settings=settings,
        base=_summary([e.base_answer for e in examples], references, *losses[False]),
        tuned=_summary([e.tuned_answer for e in examples], references, *losses[True]),
        forgetting=forgetting,
        examples=tuple(examples),
        notes=tuple(notes),
    )
    report(total, total, "Saving the report…")
    save_report(result, run)
    return result


# ---------------------------------------------------------------- examples


def _items(run: Path, data: Path | None) -> tuple[list[_Item], str, list[str]]:
    """The examples to evaluate, the report's source, and notes about skipped ones."""
    from ftstudio.engine.tabular import load_any

    notes: list[str] = []
    if data is None:
        path = RunPaths(run).val_file
        if not path.is_file():
            raise EvaluationError(
                f"The run {run.name} has no validation examples ({path} is missing: it trained "
                "with val_fraction 0, or on too few examples). Choose a dataset file to "
                "evaluate on instead."
            )
        source = VALIDATION_SOURCE
    else:
        path = Path(data).expanduser()
        if not path.is_file():
            raise EvaluationError(f"The dataset file {path} does not exist. Choose another file.")
        source = str(path.resolve())
    try:
        dataset = load_any(path)
    except (DatasetReadError, OSError) as error:
        raise EvaluationError(str(error)) from None
    records = dataset.records
    if data is None:
        original, lines = original_lines(run, records)
        missing = sum(1 for line in lines if not line)
        if original is not None:
            notes.append(f"Example lines refer to the run's dataset file {original}.")
        if missing:
            notes.append(
                f"{missing} validation example(s) are no longer in the run's dataset file "
                "(edited or removed since training), so they link to no line."
            )
    else:
        lines = [record.line for record in records]
    items: list[_Item] = []
    skipped = {"unreadable": 0, "rejected": 0, "shape": 0}
    for index, record in enumerate(records):
        if not record.is_parsed:
            skipped["unreadable"] += 1
            continue
        if record.review == "rejected":
            skipped["rejected"] += 1
            continue
        pair = question_and_answer(record.data)
        if pair is None:
            skipped["shape"] += 1
            continue
        prompt, reference = pair
        items.append(_Item(index, lines[index], prompt, reference))
    where = "the run's validation split" if data is None else str(path)
    if skipped["unreadable"]:
        notes.append(f"{skipped['unreadable']} unreadable line(s) in {where} were skipped.")
    if skipped["rejected"]:
        notes.append(f"{skipped['rejected']} rejected example(s) in {where} were skipped.")
    if skipped["shape"]:
        notes.append(
            f"{skipped['shape']} example(s) in {where} were skipped: they do not end with an "
            "assistant answer after a user turn (plain-text completions, for instance)."
        )
    if not items:
        raise EvaluationError(
            f"{where} has no example to evaluate: evaluation needs chats that end with the "
            "assistant's answer (the reference) after a user question."
            + (f" {' '.join(notes)}" if notes else "")
        )
    return items, source, notes


def question_and_answer(data: Any) -> tuple[tuple[dict[str, Any], ...], str] | None:
    """(the conversation before the reference answer, the reference) of an example.

    Chats (``messages``) whose last message is the assistant's, conversational
    prompt/completion examples and conversational preference pairs (the chosen
    answer is the reference) qualify; ``None`` for anything else.
    """
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("messages"), list):
        messages = data["messages"]
    elif isinstance(data.get("prompt"), list) and isinstance(data.get("completion"), list):
        messages = [*data["prompt"], *data["completion"]]
    elif isinstance(data.get("prompt"), list) and isinstance(data.get("chosen"), list):
        messages = [*data["prompt"], *data["chosen"]]
    else:
        return None
    clean = []
    for message in messages:
        if not isinstance(message, dict):
            return None
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            return None
        clean.append({"role": role, "content": content})
    if len(clean) < 2 or clean[-1]["role"] != "assistant" or not clean[-1]["content"].strip():
        return None
    if not any(message["role"] == "user" for message in clean[:-1]):
        return None
    if clean[-2]["role"] == "assistant":
        return None
    return tuple(clean[:-1]), clean[-1]["content"]


def _scored_messages(item: _Item) -> list[dict[str, Any]]:
    """The conversation with only the reference answer scored (earlier answers weight 0)."""
    context = [
        {**message, "weight": 0} if message["role"] == "assistant" else dict(message)
        for message in item.prompt
    ]
    return [*context, {"role": "assistant", "content": item.reference}]


def _at(item: _Item, source: str, message: str) -> str:
    where = f"line {item.line}" if item.line else f"example {item.index + 1}"
    return f"{source}, {where}: {message}"


# ---------------------------------------------------------------- scores


def _summary(
    predictions: list[str], references: list[str], loss_sum: float, count: int
) -> SideSummary:
    scores = score_answers(predictions, references)
    loss = loss_sum / count if count else None
    return SideSummary(
        exact_match=scores.exact_match,
        rouge_l=scores.rouge_l,
        bleu=scores.bleu,
        loss=loss,
        perplexity=perplexity(loss),
    )


def _forgetting(
    model: Any,
    conversations: Sequence[list[dict[str, Any]]],
    stopped: Callable[[], bool],
    check: Callable[[float, float], ForgettingCheck],
) -> ForgettingCheck | None:
    """Both models' perplexity on the general conversations, compared."""
    from ftstudio.engine.inference import InferenceError

    totals = {False: [0.0, 0], True: [0.0, 0]}
    for messages in conversations:
        if stopped():
            return None
        for tuned in (False, True):
            try:
                loss_sum, count = model.answer_loss(messages, tuned=tuned)
            except InferenceError:
                continue  # a template that rejects a general prompt: left out
            totals[tuned][0] += loss_sum
            totals[tuned][1] += count
    if not totals[False][1] or not totals[True][1]:
        return None
    base = perplexity(totals[False][0] / totals[False][1])
    tuned = perplexity(totals[True][0] / totals[True][1])
    if base is None or tuned is None:  # pragma: no cover - a count > 0 gives a number
        return None
    return check(base, tuned)


def _run_id(run: Path) -> str:
    try:
        return str(read_run_file(run).get("id") or run.name)
    except RunStoreError:
        return run.name


# ---------------------------------------------------------------- original lines


class LineFinder:
    """Finds a run's copied examples in its original dataset file, by their content.

    A record copied byte for byte, or re-written from its data (imports, edits),
    matches the original record with the same data. Equal examples are handed out
    in file order, one original line each, while they last.
    """

    def __init__(self, records: Sequence[Record]) -> None:
        self._lines: dict[str, deque[int]] = defaultdict(deque)
        for record in records:
            if record.is_parsed:
                self._lines[_key(record.data)].append(record.line)

    def find(self, record: Record) -> int:
        """The original line of ``record``'s example (0 when it is not in the file)."""
        if not record.is_parsed:
            return 0
        lines = self._lines.get(_key(record.data))
        return lines.popleft() if lines else 0


def _key(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def run_dataset_path(run_dir: Path) -> Path | None:
    """The dataset file a run trained on, where it is now.

    The configuration's path, resolved against the run's current project folder
    (so a moved or copied project still finds it), else ``run.json``'s absolute path.
    ``None`` when neither file exists.
    """
    from ftstudio.core.fields import ConfigError
    from ftstudio.core.train_config import load_config

    run = Path(run_dir)
    candidates: list[Path] = []
    try:
        dataset = load_config(RunPaths(run).config).dataset
    except ConfigError:
        dataset = ""
    if dataset:
        path = Path(dataset).expanduser()
        if not path.is_absolute():
            project = find_project_folder(run)
            path = project / path if project is not None else run / path
        candidates.append(path)
    try:
        info = read_run_file(run).get("dataset")
    except RunStoreError:
        info = None
    if isinstance(info, dict) and isinstance(info.get("path"), str) and info["path"]:
        candidates.append(Path(info["path"]))
    return next((path for path in candidates if path.is_file()), None)


def original_dataset(run_dir: Path) -> tuple[Path | None, LineFinder | None]:
    """The run's dataset file (:func:`run_dataset_path`) and a finder over its records."""
    from ftstudio.engine.tabular import load_any

    path = run_dataset_path(run_dir)
    if path is None:
        return None, None
    try:
        loaded = load_any(path)
    except (DatasetReadError, OSError):
        return None, None
    return path, LineFinder(loaded.records)


def original_lines(run_dir: Path, records: Sequence[Record]) -> tuple[Path | None, list[int]]:
    """The run's dataset file and each copied record's line in it (0: not found)."""
    path, finder = original_dataset(run_dir)
    if finder is None:
        return None, [0] * len(records)
    return path, [finder.find(record) for record in records]
