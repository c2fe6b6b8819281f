"""Preference pairs as DPO trains on them: prompt, chosen answer, rejected answer.

The same selection as supervised training (:func:`~.data.select_examples`):
rejected-review, unreadable and invalid pairs (empty or identical answers, a prompt
that does not end with the user's turn, a chosen answer that the max length cuts
off entirely…) are left out and counted, and the validation pairs are the
dataset's stored split or :func:`~ftstudio.core.dataset.split.assign_split`.

trl's ``DPOTrainer`` tokenises the pairs itself: conversational pairs through the
tokenizer's chat template (the prompt with the generation prompt, then prompt +
answer; the answer's tokens carry the loss), plain-text pairs as text with EOS
appended. Each pair reaches it as ``{"prompt", "chosen", "rejected"}`` only, the
messages reduced to ``role`` and ``content``. A file mixing both shapes is trained
as conversations (a text prompt becomes the user's turn, a text answer the
assistant's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.core.dataset.records import Dataset, Issue
from ftstudio.core.dataset.tokens import MemoTokenizer
from ftstudio.engine.chat_mask import ChatTemplateTokenizer
from ftstudio.engine.training.data import file_sha256, select_examples

Answer = list[dict[str, str]] | str


@dataclass(frozen=True)
class PreferencePair:
    """One preference pair ready for ``DPOTrainer``.

    Attributes:
        index: the record's index in the dataset.
        line: its 1-based line in the file.
        prompt: the conversation so far (messages) or the prompt text.
        chosen: the better answer (one assistant message, or text).
        rejected: the worse answer (likewise).
        tokens: tokens of prompt + chosen and prompt + rejected together.
        cut: whether a sequence is longer than the max length (its end is cut).
    """

    index: int
    line: int
    prompt: Answer
    chosen: Answer
    rejected: Answer
    tokens: int = 0
    cut: bool = False

    def row(self) -> dict[str, Answer]:
        """``{"prompt", "chosen", "rejected"}`` as the trainer takes it."""
        return {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}


@dataclass
class PreparedPreferences:
    """The training and validation pairs of a preference file, and what was left out.

    Attributes are those of :class:`~.data.PreparedData`; ``conversational`` says
    whether the pairs are messages (rendered with the chat template) or text.
    """

    dataset: Dataset
    train: list[PreferencePair]
    val: list[PreferencePair]
    excluded: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    split_source: str = "none"
    dataset_sha256: str = ""
    notes: list[str] = field(default_factory=list)
    conversational: bool = True

    @property
    def train_tokens(self) -> int:
        """Tokens in the training pairs (both answers with their prompt; one epoch)."""
        return sum(pair.tokens for pair in self.train)

    @property
    def cut_examples(self) -> int:
        """Pairs with a sequence longer than the max length (training and validation)."""
        return sum(1 for pair in (*self.train, *self.val) if pair.cut)

    def rows(self, which: str = "train") -> list[dict[str, Answer]]:
        """The ``train`` or ``val`` pairs as ``{"prompt", "chosen", "rejected"}`` rows."""
        return [pair.row() for pair in (self.train if which == "train" else self.val)]


def prepare_preferences(
    dataset_path: Path,
    tokenizer: ChatTemplateTokenizer,
    *,
    max_length: int,
    val_fraction: float,
    seed: int,
    cancel: Callable[[], bool] | None = None,
) -> PreparedPreferences:
    """Load, validate and split a preference file for DPO.

    Args:
        dataset_path: the preference file (any format ftstudio reads).
        tokenizer: the base model's tokenizer with its chat template (for the checks
            and the token counts; the trainer tokenises again).
        max_length: the training max length in tokens (per answer with its prompt).
        val_fraction: share held back for validation without a stored split (0: none).
        seed: the split's seed without a stored split.
        cancel: polled while validating; true stops with :class:`~.data.TrainingDataError`.

    Raises:
        TrainingDataError: the file cannot be read, holds no preference pairs, or no
            pair can train.
    """
    path = Path(dataset_path)
    memo = MemoTokenizer(tokenizer)
    selection = select_examples(
        path,
        memo,
        max_length=max_length,
        val_fraction=val_fraction,
        seed=seed,
        cancel=cancel,
        kind="preference",
    )
    records = selection.dataset.records
    used = [records[i].data for i in (*selection.train, *selection.val)]
    texts = sum(1 for data in used if isinstance(data["chosen"], str))
    conversational = texts < len(used)
    notes = list(selection.notes)
    if conversational and texts:
        notes.append(
            f"{texts} plain-text pair(s) are trained as conversations (the prompt as the "
            "user's turn, the answers as the assistant's), like the file's other pairs."
        )
    pairs: dict[str, list[PreferencePair]] = {"train": [], "val": []}
    for which, indices in (("train", selection.train), ("val", selection.val)):
        for index in indices:
            record = records[index]
            pair = _pair(index, record.line, record.data, memo, max_length, conversational)
            pairs[which].append(pair)
    data = PreparedPreferences(
        dataset=selection.dataset,
        train=pairs["train"],
        val=pairs["val"],
        excluded=selection.excluded,
        issues=selection.issues,
        split_source=selection.source,
        dataset_sha256=file_sha256(path),
        notes=notes,
        conversational=conversational,
    )
    if data.cut_examples:
        data.notes.append(
            f"{data.cut_examples} pair(s) are longer than the max length of {max_length:,} "
            "tokens and are cut at the end; the cut part is not compared. Raise max_length or "
            "shorten them."
        )
    return data


def _pair(
    index: int,
    line: int,
    data: dict[str, Any],
    memo: MemoTokenizer,
    max_length: int,
    conversational: bool,
) -> PreferencePair:
    """A validated record as a pair (as messages when ``conversational``), with its tokens."""
    prompt, chosen, rejected = data["prompt"], data["chosen"], data["rejected"]
    lengths = []
    for answer in (data, {"prompt": prompt, "chosen": rejected}):
        try:
            lengths.append(len(memo.tokenize_example(answer).ids))
        except ValueError:  # the checks rendered the chosen one; count what is known
            lengths.append(0)
    if conversational:
        if isinstance(chosen, str):  # a text pair in a file of conversations
            prompt = [{"role": "user", "content": prompt}]
            chosen = [{"role": "assistant", "content": chosen}]
            rejected = [{"role": "assistant", "content": rejected}]
        prompt, chosen, rejected = _messages(prompt), _messages(chosen), _messages(rejected)
    return PreferencePair(
        index=index,
        line=line,
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        tokens=sum(lengths),
        cut=max(lengths) > max_length,
    )


def _messages(value: Any) -> list[dict[str, str]]:
    """Messages reduced to ``role`` and ``content`` (curation keys stay out of the template)."""
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in value]
