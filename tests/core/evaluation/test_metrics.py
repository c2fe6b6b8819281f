"""Answer metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from ftstudio.core.evaluation.metrics import (
    AnswerScores,
    UnicodeWordTokenizer,
    corpus_bleu,
    exact_match,
    example_scores,
    normalize_answer,
    perplexity,
    rouge_l,
    score_answers,
    sentence_bleu,
)


# ---------------------------------------------------------------------------- Exact match
def test_normalize_answer_casefolds_and_collapses_whitespace() -> None:
    assert normalize_answer("  Hello \n\t WORLD  ") == "hello world"
    assert normalize_answer("Straße") == "strasse"


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("Paris", "paris", 1.0),
        ("  Paris\n", "Paris", 1.0),
        ("New  York", "new york", 1.0),
        ("Paris.", "Paris", 0.0),  # punctuation counts
        ("Paris", "Lyon", 0.0),
        ("", "", 1.0),
    ],
)
def test_exact_match(prediction: str, reference: str, expected: float) -> None:
    assert exact_match(prediction, reference) == expected


# ---------------------------------------------------------------------------- ROUGE-L
def _f1(lcs: int, prediction_words: int, reference_words: int) -> float:
    precision, recall = lcs / prediction_words, lcs / reference_words
    return 2 * precision * recall / (precision + recall)


def test_rouge_l_f1_from_the_longest_common_subsequence() -> None:
    # LCS "the cat on the mat": 5 of 6 words on both sides.
    assert rouge_l("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    # LCS "a c": precision 2/4, recall 2/3 -> F1 4/7.
    assert rouge_l("a b c d", "a c e") == pytest.approx(_f1(2, 4, 3))
    assert _f1(2, 4, 3) == pytest.approx(4 / 7)
    # Order matters: reversed words share only a one-word subsequence.
    assert rouge_l("d c b a", "a b c d") == pytest.approx(_f1(1, 4, 4))


def test_rouge_l_ignores_case_and_punctuation() -> None:
    assert rouge_l("The cat, sat!", "the CAT sat") == pytest.approx(1.0)


def test_rouge_l_identical_and_disjoint_and_empty() -> None:
    assert rouge_l("restart the router", "restart the router") == pytest.approx(1.0)
    assert rouge_l("restart the router", "call the helpdesk") == pytest.approx(_f1(1, 3, 3))
    assert rouge_l("apples", "oranges") == 0.0
    assert rouge_l("", "something") == 0.0


def test_rouge_l_keeps_accented_letters() -> None:
    # rouge-score's default tokenizer would turn "läuft" into "l uft" and "crème" into
    # "cr me"; the Unicode tokenizer keeps the words whole.
    assert rouge_l("Der Hund läuft schnell", "der hund lief schnell") == pytest.approx(0.75)
    assert rouge_l("café crème", "café") == pytest.approx(_f1(1, 2, 1))
    assert rouge_l("Straße", "STRASSE") == pytest.approx(1.0)


def test_rouge_l_scores_chinese_character_by_character() -> None:
    # 4 characters each; LCS 我爱 = 2 -> F1 0.5 (the default tokenizer would give 0).
    assert rouge_l("我爱北京", "我爱上海") == pytest.approx(0.5)
    assert rouge_l("我爱北京", "我爱北京") == pytest.approx(1.0)


def test_unicode_tokenizer_matches_the_default_on_english() -> None:
    from rouge_score.tokenizers import DefaultTokenizer

    text = "Don't panic: restart the Wi-Fi router (model X200) and wait 30 seconds_ok."
    assert UnicodeWordTokenizer().tokenize(text) == DefaultTokenizer().tokenize(text)
    assert UnicodeWordTokenizer().tokenize("abc中文 def") == ["abc", "中", "文", "def"]


# ---------------------------------------------------------------------------- BLEU
def test_sentence_bleu_identical_is_100_and_disjoint_is_0() -> None:
    assert sentence_bleu("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(100)
    assert sentence_bleu("restart the router now", "call me tomorrow please") == 0.0
    assert sentence_bleu("我爱北京天安门", "我爱北京天安门") == pytest.approx(100)


def test_sentence_bleu_hand_computed_with_exp_smoothing() -> None:
    # hypothesis "the cat sat down" vs reference "the cat sat up there":
    # 1-grams 3/4, 2-grams 2/3, 3-grams 1/2, 4-grams 0/1 -> sacrebleu's "exp" smoothing
    # (mteval's) replaces the first zero precision by 1 / (2 * total) = 1/2.
    # Brevity penalty: hypothesis 4 words, reference 5 -> exp(1 - 5/4).
    precisions = [3 / 4, 2 / 3, 1 / 2, 1 / 2]
    expected = 100 * math.exp(1 - 5 / 4) * math.exp(sum(map(math.log, precisions)) / 4)
    assert sentence_bleu("the cat sat down", "the cat sat up there") == pytest.approx(expected)


def test_corpus_bleu_sums_counts_over_sentences() -> None:
    predictions = ["the quick brown fox jumps over the dog", "hello world again friends"]
    references = ["the quick brown fox jumps over the lazy dog", "hello world again friends"]
    # Modified n-gram precisions, counts summed over both sentences:
    # 1-grams (8 + 4) / (8 + 4); 2-grams (6 + 3) / (7 + 3); 3-grams (5 + 2) / (6 + 2);
    # 4-grams (4 + 1) / (5 + 1). Lengths: hypotheses 12 words, references 13.
    precisions = [12 / 12, 9 / 10, 7 / 8, 5 / 6]
    brevity = math.exp(1 - 13 / 12)
    expected = 100 * brevity * math.exp(sum(map(math.log, precisions)) / 4)
    assert corpus_bleu(predictions, references) == pytest.approx(expected)
    # ...which is not the mean of the sentence BLEUs.
    mean = sum(map(sentence_bleu, predictions, references)) / 2
    assert abs(corpus_bleu(predictions, references) - mean) > 1


def test_bleu_is_case_sensitive() -> None:
    assert sentence_bleu("The Cat Sat Down", "the cat sat down") < 100


# ---------------------------------------------------------------------------- score_answers
def test_score_answers_means_and_corpus_bleu() -> None:
    predictions = ["Paris", "the cat sat on the mat", "a b c d"]
    references = ["paris", "the cat is on the mat", "a c e"]
    scores = score_answers(predictions, references)
    assert scores.count == 3
    assert scores.exact_match == pytest.approx(1 / 3)
    assert scores.rouge_l == pytest.approx((1 + 5 / 6 + 4 / 7) / 3)
    assert scores.bleu == pytest.approx(corpus_bleu(predictions, references))


def test_score_answers_empty_and_mismatched() -> None:
    assert score_answers([], []) == AnswerScores(0.0, 0.0, 0.0, 0)
    with pytest.raises(ValueError, match="2 answers but 1 references"):
        score_answers(["a", "b"], ["a"])


def test_example_scores_keys() -> None:
    scores = example_scores("Paris", "paris")
    assert scores["exact_match"] == 1.0
    assert scores["rouge_l"] == pytest.approx(1.0)
    assert set(scores) == {"exact_match", "rouge_l", "bleu"}


# ---------------------------------------------------------------------------- perplexity
def test_perplexity() -> None:
    assert perplexity(None) is None
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(12.5)) == pytest.approx(12.5)
    assert perplexity(1e6) == math.inf
