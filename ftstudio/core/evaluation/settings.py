"""How answers are sampled: the same settings for the base and the tuned model."""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.core.fields import option


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings shared by both sides of a comparison."""

    temperature: float = option(
        0.7,
        label="Temperature",
        help="Randomness of the answer: 0 always picks the most likely next token (the same "
        "answer every time); 0.7 is lively but on topic; above 1 wanders.",
        minimum=0.0,
        maximum=2.0,
    )
    top_p: float = option(
        0.9,
        label="Top-p",
        help="Sample only from the most likely tokens whose probabilities add up to this "
        "share; 1 uses them all. Ignored when the temperature is 0.",
        minimum=0.01,
        maximum=1.0,
    )
    max_new_tokens: int = option(
        256,
        label="Max new tokens",
        help="The longest answer, in tokens; generation also stops at the end-of-answer token.",
        minimum=1,
        maximum=8192,
    )
    seed: int = option(
        0,
        label="Seed",
        help="Random seed, set before each answer so that both models sample alike; the same "
        "seed and settings give the same answer again.",
        minimum=0,
        maximum=2**32 - 1,
    )

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (temperature 0)."""
        return self.temperature == 0.0


EVAL_SETTINGS = GenerationSettings(temperature=0.0, top_p=1.0, max_new_tokens=256, seed=0)
"""Evaluation decodes greedily, so that its numbers do not change from one run to the next."""
