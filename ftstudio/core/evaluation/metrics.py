"""Answer metrics: exact match, ROUGE-L, BLEU and perplexity.

Normalisation choices (each metric keeps its library's standard where there is one,
so that the numbers compare with published ones):

- **Exact match** compares :func:`normalize_answer` texts: case-folded, runs of
  whitespace collapsed to one space, stripped. Punctuation counts ("Paris." differs
  from "Paris"): for chat answers a full stop is part of the answer.
- **ROUGE-L** is the F1 of the longest common subsequence of words, computed by
  Google's ``rouge-score`` package without stemming. Its default tokenizer keeps only
  ``[a-z0-9]`` after lower-casing, so an answer in German, French or Chinese loses its
  accented letters or every word and scores (near) 0. ftstudio passes
  :class:`UnicodeWordTokenizer` instead: words are runs of Unicode letters and digits
  (case-folded, so ``"Straße"`` matches ``"STRASSE"``), and each Chinese character or
  Japanese kana is a word of its own, as these scripts do not put spaces between words.
  On plain English text it gives the same words as the default tokenizer.
- **BLEU** is sacrebleu's, with its defaults: case-sensitive, the ``13a`` tokenizer
  (the WMT standard), and for one sentence the ``exp`` smoothing of
  :func:`sacrebleu.sentence_bleu`. When a prediction or reference contains Chinese
  characters or Japanese kana, the ``zh`` tokenizer is used instead (it splits those
  characters apart and treats the rest like ``13a``), for the same reason as above.
  The summary BLEU is a corpus BLEU (n-gram counts summed over all answers, no
  smoothing), not the mean of sentence BLEUs.
- **Perplexity** is ``exp(mean loss)``, the loss being the mean cross-entropy (in nats)
  per trained answer token.

``rouge_score`` and ``sacrebleu`` are imported inside the functions that need them,
so importing this module stays fast.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Hiragana, katakana, CJK unified ideographs (and extension A) and compatibility ideographs."""
_WORD = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+")
_HAS_CJK = re.compile(rf"[{_CJK}]")


def normalize_answer(text: str) -> str:
    """``text`` case-folded, with runs of whitespace collapsed to one space, stripped."""
    return " ".join(text.casefold().split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when both answers are equal after :func:`normalize_answer`, else 0.0."""
    return 1.0 if normalize_answer(prediction) == normalize_answer(reference) else 0.0


class UnicodeWordTokenizer:
    """A ``rouge-score`` tokenizer that keeps the letters of every language.

    Words are runs of Unicode letters and digits, case-folded; punctuation and ``_``
    separate words; each Chinese character or Japanese kana is a word of its own.
    """

    def tokenize(self, text: str) -> list[str]:
        """The words of ``text`` (see the class docstring)."""
        return _WORD.findall(text.casefold())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (0–1) of ``prediction`` against ``reference``.

    0.0 when either has no words. See the module docstring for the tokenisation.
    """
    return _rouge_scorer().score(reference, prediction)["rougeL"].fmeasure


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeWordTokenizer())


def _bleu_tokenizer(*texts: str) -> str:
    return "zh" if any(_HAS_CJK.search(text) for text in texts) else "13a"


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu's sentence BLEU (0–100; ``exp`` smoothing, see the module docstring)."""
    import sacrebleu

    tokenize = _bleu_tokenizer(prediction, reference)
    score = sacrebleu.sentence_bleu(prediction, [reference], tokenize=tokenize).score
    return min(float(score), 100.0)  # rounding can give 100.00000000000004


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (0–100) of paired predictions and references.

    Raises:
        ValueError: the two sequences differ in length.
    """
    _check_pairs(predictions, references)
    if not predictions:
        return 0.0
    import sacrebleu

    tokenize = _bleu_tokenizer(*predictions, *references)
    result = sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize=tokenize)
    return min(float(result.score), 100.0)


@dataclass(frozen=True)
class AnswerScores:
    """Metrics over a set of answers.

    Attributes:
        exact_match: share of answers equal to their reference (0–1).
        rouge_l: mean ROUGE-L F1 (0–1).
        bleu: corpus BLEU (0–100).
        count: number of answers scored.
    """

    exact_match: float
    rouge_l: float
    bleu: float
    count: int


def score_answers(predictions: Sequence[str], references: Sequence[str]) -> AnswerScores:
    """Mean exact match, mean ROUGE-L F1 and corpus BLEU of paired answers.

    Empty input gives ``count`` 0 and every metric 0.0.

    Raises:
        ValueError: the two sequences differ in length.
    """
    _check_pairs(predictions, references)
    count = len(predictions)
    if count == 0:
        return AnswerScores(0.0, 0.0, 0.0, 0)
    pairs = list(zip(predictions, references, strict=True))
    return AnswerScores(
        exact_match=sum(exact_match(p, r) for p, r in pairs) / count,
        rouge_l=sum(rouge_l(p, r) for p, r in pairs) / count,
        bleu=corpus_bleu(predictions, references),
        count=count,
    )


def example_scores(prediction: str, reference: str) -> dict[str, float]:
    """One answer's ``{"exact_match", "rouge_l", "bleu"}`` (as stored per example)."""
    return {
        "exact_match": exact_match(prediction, reference),
        "rouge_l": rouge_l(prediction, reference),
        "bleu": sentence_bleu(prediction, reference),
    }


def perplexity(mean_loss: float | None) -> float | None:
    """``exp(mean_loss)``; ``inf`` when that overflows; ``None`` stays ``None``."""
    if mean_loss is None:
        return None
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def _check_pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} answers but {len(references)} references: each answer "
            "needs exactly one reference."
        )
