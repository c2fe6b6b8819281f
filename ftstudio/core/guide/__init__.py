"""The decision guide: fine-tune, retrieval (RAG), prompting or the base model as it is.

- :mod:`~ftstudio.core.guide.model`: the frozen dataclasses (:class:`Guide`,
  :class:`Question`, :class:`Answer`, :class:`Outcome`, :class:`Consideration`).
- :mod:`~ftstudio.core.guide.loader`: :func:`load_guide` reads
  ``resources/guide/decision_guide.yaml``; :func:`validate_guide` checks a guide.
- :mod:`~ftstudio.core.guide.session`: :class:`GuideSession`, the walk through it, and
  :func:`data_readiness` for the project's dataset.
"""

from ftstudio.core.guide.loader import (
    GuideError,
    GuidePath,
    default_guide_path,
    enumerate_paths,
    load_guide,
    parse_guide,
    validate_guide,
)
from ftstudio.core.guide.model import (
    OUTCOME_KINDS,
    Answer,
    Consideration,
    Guide,
    Outcome,
    Question,
)
from ftstudio.core.guide.session import (
    SAVED_KEY,
    GuideResult,
    GuideSession,
    GuideSessionError,
    Readiness,
    SavedDecision,
    Step,
    data_readiness,
)

__all__ = [
    "OUTCOME_KINDS",
    "SAVED_KEY",
    "Answer",
    "Consideration",
    "Guide",
    "GuideError",
    "GuidePath",
    "GuideResult",
    "GuideSession",
    "GuideSessionError",
    "Outcome",
    "Question",
    "Readiness",
    "SavedDecision",
    "Step",
    "data_readiness",
    "default_guide_path",
    "enumerate_paths",
    "load_guide",
    "parse_guide",
    "validate_guide",
]
