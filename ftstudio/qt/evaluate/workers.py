"""The Evaluate page's background work: answers, evaluations and example losses.

Each job is a plain task function run by :class:`~ftstudio.qt.dataset.workers.TaskRunner`
in its own ``QThread`` (progress, ETA and cancel come from there). The engine, and so
torch, is imported inside the task functions only: the window never waits for it.

Streamed text and status lines travel through a :class:`Mailbox`: the task appends,
the GUI drains it on a timer. A burst of tokens is then painted once per tick instead
of once per token, and no slot can run in the worker thread by mistake.

The playground keeps its model loaded between answers in a :class:`ModelHolder`, so it
loads once per run and saved model. Tasks use the holder one at a time (a lock), and
only inside worker threads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.core.evaluation.settings import GenerationSettings
from ftstudio.qt.dataset.workers import TaskCancelled, TaskContext, collector_paused

BASE, TUNED = "base", "tuned"
"""The two sides of a comparison."""

STATUS, BEGIN, TEXT = "status", "begin", "text"
"""Mailbox message kinds: a status line, an answer starts (side), streamed text (side, text)."""


class Mailbox:
    """Messages from a task to the GUI: ``put`` in the worker, ``drain`` in the GUI thread.

    ``deque.append`` and ``popleft`` are atomic, so no lock is needed.
    """

    def __init__(self) -> None:
        self._items: deque[tuple[str, Any]] = deque()

    def put(self, kind: str, value: Any) -> None:
        """Queue one message."""
        self._items.append((kind, value))

    def drain(self) -> list[tuple[str, Any]]:
        """Every message queued so far, oldest first."""
        items = []
        while True:
            try:
                items.append(self._items.popleft())
            except IndexError:
                return items

    def clear(self) -> None:
        """Drop every queued message."""
        self._items.clear()


class ModelHolder:
    """The playground's loaded ``ChatModel``, kept until another run or model is chosen.

    Only task functions (worker threads) call :meth:`get`, holding :attr:`lock`; the GUI
    calls :meth:`close` once no task runs any more.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._key: tuple[str, str] | None = None
        self._model: Any = None

    def get(
        self,
        run_dir: Path,
        adapter: Path | None,
        project: Path | None,
        on_progress: Callable[[str], None],
    ) -> Any:
        """The model of ``run_dir`` with ``adapter``, loaded now unless it already is."""
        key = (str(run_dir), str(adapter or ""))
        if self._model is not None and self._key == key:
            return self._model
        self.close()
        with collector_paused(freeze=True):  # torch's import builds a million objects
            from ftstudio.engine.inference import ChatModel

        self._model = ChatModel.load(
            Path(run_dir), adapter, project=project, on_progress=on_progress
        )
        self._key = key
        return self._model

    def loaded(self, run_dir: Path, adapter: Path | None) -> bool:
        """Whether that model is the one loaded."""
        return self._model is not None and self._key == (str(run_dir), str(adapter or ""))

    def close(self) -> None:
        """Free the loaded model (call when no task is running)."""
        model, self._model, self._key = self._model, None, None
        if model is not None:
            model.close()


@dataclass(frozen=True)
class ChatRequest:
    """One prompt for both sides of the playground.

    Attributes:
        run_dir: the run whose base model and saved model answer.
        adapter: the saved model of the tuned side (``None``: the run's final one).
        project: the project folder (resolves a base model given relative to it).
        conversations: per side (``"base"``, ``"tuned"``), the messages so far, ending
            with the new user message.
        settings: the sampling settings, the same for both sides.
    """

    run_dir: Path
    adapter: Path | None
    project: Path | None
    conversations: dict[str, tuple[dict[str, str], ...]]
    settings: GenerationSettings


@dataclass(frozen=True)
class ChatAnswers:
    """Both sides' answers to a :class:`ChatRequest` (a task's result)."""

    base: str
    tuned: str


def chat_task(
    request: ChatRequest, holder: ModelHolder, mailbox: Mailbox
) -> Callable[[TaskContext], ChatAnswers]:
    """A task answering ``request`` with the base model, then with the tuned one.

    The model loads first if it is not loaded yet (status ``"Loading model…"``). Each
    answer's text is streamed to ``mailbox`` as it is generated; both answers use the
    same settings and seed. Stopping ends the current answer at once.
    """

    def run(task: TaskContext) -> ChatAnswers:
        with holder.lock:
            if not holder.loaded(request.run_dir, request.adapter):
                task.phase("Loading model…", 0.0, 0.0)
                mailbox.put(STATUS, "Loading model…")
            model = holder.get(
                request.run_dir,
                request.adapter,
                request.project,
                lambda text: mailbox.put(STATUS, text),
            )
            task.check()
            answers: dict[str, str] = {}
            sides = (BASE, TUNED)
            limit = request.settings.max_new_tokens
            for number, side in enumerate(sides):
                name = "base model" if side == BASE else "tuned model"
                task.phase(f"Answering with the {name}", number / 2, (number + 1) / 2)
                mailbox.put(STATUS, f"Answering with the {name}…")
                mailbox.put(BEGIN, side)
                pieces = [0]

                def on_text(text: str, side: str = side, pieces: list[int] = pieces) -> None:
                    mailbox.put(TEXT, (side, text))
                    pieces[0] += 1
                    task.progress(min(pieces[0], limit), limit)

                answers[side] = model.generate(
                    list(request.conversations[side]),
                    request.settings,
                    tuned=side == TUNED,
                    on_text=on_text,
                    cancel=task.cancelled,
                )
                task.check()
        return ChatAnswers(base=answers[BASE], tuned=answers[TUNED])

    return run


def evaluation_task(
    run_dir: Path,
    *,
    data: Path | None,
    settings: GenerationSettings,
    limit: int | None,
    adapter: Path | None,
    mailbox: Mailbox,
) -> Callable[[TaskContext], Any]:
    """A task running ``engine.evaluate.run_evaluation``; its result is the ``EvalReport``.

    The engine's progress lines (``"Example 3 of 12: generating (tuned)"``) go to
    ``mailbox`` as status messages; the bar counts the engine's steps.
    """

    def run(task: TaskContext) -> Any:
        task.phase("Loading model…", 0.0, 0.0)
        mailbox.put(STATUS, "Loading model…")
        with collector_paused(freeze=True):
            from ftstudio.engine.evaluate import EvaluationCancelled, run_evaluation
        started = [False]

        def on_progress(done: int, total: int, label: str) -> None:
            if not started[0] and done > 0:
                started[0] = True
                task.phase("Evaluating", 0.0, 1.0)  # the ETA counts from the first answer
            mailbox.put(STATUS, label)
            task.progress(done, total)

        try:
            return run_evaluation(
                Path(run_dir),
                data=data,
                settings=settings,
                limit=limit,
                on_progress=on_progress,
                cancel=task.cancelled,
                adapter=adapter,
            )
        except EvaluationCancelled:
            raise TaskCancelled from None

    return run


def losses_task(
    run_dir: Path, *, adapter: Path | None, mailbox: Mailbox
) -> Callable[[TaskContext], Any]:
    """A task running ``engine.example_loss.compute_example_losses`` (ranked rows)."""

    def run(task: TaskContext) -> Any:
        task.phase("Loading model…", 0.0, 0.0)
        mailbox.put(STATUS, "Loading model…")
        with collector_paused(freeze=True):
            from ftstudio.engine.example_loss import compute_example_losses
        started = [False]

        def on_progress(done: int, total: int, label: str = "") -> None:
            if not started[0] and done > 0:
                started[0] = True
                task.phase("Computing losses", 0.0, 1.0)
            if label:
                mailbox.put(STATUS, label)
            task.progress(done, total)

        rows = compute_example_losses(
            Path(run_dir), on_progress=on_progress, cancel=task.cancelled, adapter=adapter
        )
        task.check()
        return rows

    return run


def conversation(
    system: str, exchanges: Sequence[tuple[str, str]], question: str
) -> tuple[dict[str, str], ...]:
    """Chat messages: the optional system prompt, earlier (user, answer) pairs, the question."""
    messages: list[dict[str, str]] = []
    if system.strip():
        messages.append({"role": "system", "content": system.strip()})
    for user, answer in exchanges:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": question})
    return tuple(messages)
