"""The wizard's state without widgets: model, method, data, GPU, the user's edits, and results.

:class:`Planner` holds what the user chose on each step and derives the rest from the
core: the recommendation (:func:`ftstudio.core.recommend.recommend`), the complete
:class:`~ftstudio.core.train_config.TrainConfig`, the problems that block a step, the
range warnings, the memory and time estimates, and finally the saved YAML.

Values the user has not edited follow the recommendation, so changing the model, the
method, the data or the GPU updates them; edited values stay until "Reset to
recommended". Two values follow their partner while untouched: alpha stays 2 × r, and
gradient accumulation keeps the recommended effective batch when the batch changes.
Where a run starts (``init_adapter``: the base model or an earlier run's adapter) is
recommended here, not by the core: for DPO, the newest finished SFT run on the same
base model, when there is one (:meth:`Planner.start_advice`).

Pure Python (no Qt): the widgets in this package are views over one planner.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

from ftstudio.core.dataset.stats import DatasetStats
from ftstudio.core.fields import FieldSpec, field_specs
from ftstudio.core.memory import (
    MemoryEstimate,
    Suggestion,
    TimeEstimate,
    estimate_memory,
    estimate_time,
)
from ftstudio.core.models import (
    PRESET_NAMES,
    ModelError,
    ModelSpec,
    read_local_model,
    resolve_model_spec,
    target_module_presets,
)
from ftstudio.core.models.catalogue import find_entry
from ftstudio.core.project import TINY_MODEL, Project
from ftstudio.core.recommend import Advice, Recommendation, range_warnings, recommend
from ftstudio.core.train_config import (
    METHODS,
    RECOMMENDED_MODULES,
    TrainConfig,
    config_problems,
    defaults_for,
    save_config,
)
from ftstudio.qt.wizard.adapters import ADAPTER_METHODS, AdapterRun, adapter_runs
from ftstudio.qt.wizard.values import (
    DEFAULT_GPU,
    HUB_ID,
    GpuChoice,
    hub_cached,
    hub_offline_by_setting,
    parse_text,
    tokens_per_epoch,
    value_problem,
)

STEPS = ("model", "method", "data", "hyperparameters", "review")
STEP_TITLES = {
    "model": "Model",
    "method": "Method",
    "data": "Data",
    "hyperparameters": "Hyperparameters",
    "review": "Review",
}
SPECS: dict[str, FieldSpec] = {spec.name: spec for spec in field_specs(TrainConfig)}
OTHER_STEP_FIELDS = {
    "model": ("base_model", "target_modules"),
    "method": ("method", "objective", "init_adapter"),
    "data": ("dataset", "val_fraction"),
}
HPARAM_FIELDS = tuple(
    name for name in SPECS if not any(name in f for f in OTHER_STEP_FIELDS.values())
)
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    **OTHER_STEP_FIELDS,
    "hyperparameters": HPARAM_FIELDS,
    "review": (),
}
"""The :class:`TrainConfig` fields each step edits (every field on exactly one step)."""

CONFIGS_FOLDER = "configs"
CONFIGS_KEY = "configs"
"""``project.json`` key listing the saved configurations: ``{name: "configs/<name>.yaml"}``."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SUGGESTION_FIELDS = {"batch": "per_device_batch_size", "attention": "attn_implementation"}
""":class:`~ftstudio.core.memory.MemoryInputs` names that differ from TrainConfig's."""


class Planner:
    """Everything the wizard knows, and what follows from it (see the module docstring).

    Attributes:
        project: the open project (``None``: nothing can be saved).
        model_kind: ``catalogue``, ``folder`` or ``hub``: how the model was chosen.
        model_value: the ``base_model`` value to write (``ftstudio:tiny``, a folder, a hub id).
        spec: the model's shape, or ``None`` when it could not be read.
        model_error: why the model cannot be used (blocks the Model step), or "".
        model_note: plain words about the model (download, cache, offline), or "".
        offline: whether the Hugging Face hub is out of reach (``None``: not known).
        method, objective, task: the Method step's choices.
        stats: the training data's statistics (``None`` until read).
        data_error: why the training data cannot be used, or "".
        gpu: the GPU planned for.
        edits: field → value the user set (everything else follows the recommendation).
        invalid: field → why the text typed for it is not a valid value.
        target_choice: a preset name, a custom tuple of modules, or ``None`` (recommended).
        runs: the project's finished runs whose adapter a run can start from, newest
            first (see :meth:`reload_runs`).
    """

    def __init__(self, project: Project | None = None, *, gpu: GpuChoice = DEFAULT_GPU) -> None:
        self.project = project
        self.model_kind = "catalogue"
        self.model_value = ""
        self.spec: ModelSpec | None = None
        self.model_error = ""
        self.model_note = ""
        self.offline: bool | None = True if hub_offline_by_setting() else None
        self.method = "qlora"
        self.objective = "sft"
        self.task = "style"
        self.stats: DatasetStats | None = None
        self.data_error = ""
        self.gpu = gpu
        self.edits: dict[str, Any] = {}
        self.invalid: dict[str, str] = {}
        self.target_choice: str | tuple[str, ...] | None = None
        self.runs: list[AdapterRun] = []
        self._recommendation: Recommendation | None = None
        self._stale = True
        self.choose_model(project.base_model if project is not None else TINY_MODEL)
        self.reload_runs()

    # ---- Model
    def choose_model(self, value: str, kind: str | None = None) -> None:
        """Use ``value`` as the base model; ``kind`` (see :data:`MODEL_KINDS`) is guessed
        when not given. Errors go to :attr:`model_error`, never raised."""
        value = value.strip()
        if kind is None:
            kind = self._guess_kind(value)
        self.model_kind, self.model_value = kind, value
        self.model_error = self.model_note = ""
        spec: ModelSpec | None = None
        try:
            spec = self._read_model(value, kind)
        except ModelError as error:
            self.model_error = str(error)
        self._set_spec(spec)
        if spec is not None:
            self._describe_model(spec)

    def set_offline(self, offline: bool | None) -> None:
        """Record whether the hub is reachable, and re-judge the chosen model."""
        if hub_offline_by_setting():
            offline = True
        if offline != self.offline:
            self.offline = offline
            self.choose_model(self.model_value, self.model_kind)

    def _guess_kind(self, value: str) -> str:
        if value == TINY_MODEL or find_entry(value) is not None:  # a name or a listed hub id
            return "catalogue"
        if HUB_ID.match(value) and not Path(value).expanduser().is_dir():
            return "hub"
        return "folder"

    def _read_model(self, value: str, kind: str) -> ModelSpec:
        folder = self.project.folder if self.project is not None else None
        if not value:
            what = {"folder": "a model folder", "hub": "a hub id"}.get(kind, "a model")
            raise ModelError(f"Choose {what}.")
        if kind == "folder":
            path = Path(value).expanduser()
            if not path.is_absolute() and folder is not None:
                path = folder / path
            return read_local_model(path)
        if kind == "hub" and not HUB_ID.match(value):
            raise ModelError(
                f"{value!r} is not a hub id. A hub id is organisation/name, e.g. "
                "Qwen/Qwen2.5-1.5B-Instruct."
            )
        return resolve_model_spec(value, folder)

    def _describe_model(self, spec: ModelSpec) -> None:
        if self.model_value == TINY_MODEL:
            self.model_note = (
                "Built on this computer the first time it is needed: nothing is downloaded. "
                "Good for trying the whole flow in minutes; its answers are not meant to be good."
            )
            return
        if self.model_kind == "folder":
            self.model_note = f"Read from {spec.location}: nothing is downloaded."
            return
        hub_id = self.model_value
        size = f"about {spec.parameters * 2 / 1e9:.1f} GB"
        cached = hub_cached(hub_id)
        where = "catalogue" if spec.source == "catalogue" else "download cache"
        if cached:
            self.model_note = (
                f"{hub_id} is in this computer's Hugging Face cache; anything missing is "
                f"downloaded when training starts ({size} in all)."
            )
        elif self.offline and self.model_kind == "hub":
            self.model_error = (
                f"You are offline, so {hub_id} cannot be downloaded ({size}) and cannot be "
                "used here. Connect to the internet, or choose a model folder on this "
                "computer (or a catalogue model, to plan only)."
            )
        elif self.offline:
            self.model_note = (
                f"Planning works offline (sizes from ftstudio's {where}), but you are offline "
                f"now: training downloads {hub_id} ({size}) when it starts, so connect first."
            )
        else:
            self.model_note = (
                f"Downloaded from the Hugging Face hub ({hub_id}, {size}) only when training "
                f"starts; planning uses its sizes from ftstudio's {where}."
            )

    def _set_spec(self, spec: ModelSpec | None) -> None:
        self.spec = spec
        choice = self.target_choice
        if isinstance(choice, tuple) and spec is not None:
            kept = tuple(name for name in choice if name in spec.linear_names)
            self.target_choice = kept or None
        self._stale = True

    def presets(self) -> dict[str, list[str]]:
        """The model's target-module presets (Llama names without a model)."""
        if self.spec is None:
            return {
                "minimum": ["q_proj", "v_proj"],
                "recommended": list(RECOMMENDED_MODULES),
                "full": [*RECOMMENDED_MODULES, "gate_proj", "up_proj", "down_proj"],
            }
        return target_module_presets(self.spec)

    def linear_names(self) -> tuple[str, ...]:
        """The model's linear-layer names (what target modules can be)."""
        return tuple(self.presets()["full"]) if self.spec is None else self.spec.linear_names

    def set_target_choice(self, choice: str | tuple[str, ...] | None) -> None:
        """A preset name, a custom tuple of module names, or ``None`` for the recommendation."""
        if isinstance(choice, str) and choice not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}")
        self.target_choice = tuple(choice) if isinstance(choice, list) else choice

    def target_modules(self) -> tuple[str, ...]:
        """The target modules in effect."""
        choice = self.target_choice
        if isinstance(choice, str):
            return tuple(self.presets()[choice])
        if isinstance(choice, tuple):
            return choice
        advice = self.advice("target_modules")
        return tuple(advice.value) if advice is not None else tuple(self.presets()["recommended"])

    # ---- Method and data
    def set_method(self, method: str) -> None:
        """Choose ``qlora``, ``lora`` or ``full``."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        self.method = method
        self._stale = True

    def set_objective(self, objective: str) -> None:
        """Choose ``sft`` or ``dpo`` (DPO only with preference pairs); forgets the stats."""
        if objective == "dpo" and not self.has_preferences():
            raise ValueError("DPO needs preference pairs (datasets.preferences in project.json)")
        if objective not in ("sft", "dpo"):
            raise ValueError("objective must be sft or dpo")
        if objective != self.objective:
            self.objective = objective
            self.stats, self.data_error = None, ""
            self._stale = True

    def set_task(self, task: str) -> None:
        """``style`` or ``knowledge`` (:data:`ftstudio.core.recommend.TASKS`)."""
        self.task = task
        self._stale = True

    def has_preferences(self) -> bool:
        """Whether the project names a preference-pair file that exists and is not empty."""
        path = self.project.dataset_path("preferences") if self.project else None
        try:
            return path is not None and path.is_file() and path.stat().st_size > 0
        except OSError:
            return False

    def data_role(self) -> str:
        """The project dataset role the objective trains on: ``train`` or ``preferences``."""
        return "preferences" if self.objective == "dpo" else "train"

    def data_path(self) -> Path | None:
        """The training file of the objective, or ``None`` when the project names none."""
        return self.project.dataset_path(self.data_role()) if self.project else None

    def set_stats(self, stats: DatasetStats | None, error: str = "") -> None:
        """The data's statistics (or why they could not be computed)."""
        self.stats, self.data_error = stats, error
        self._stale = True

    def set_gpu(self, gpu: GpuChoice) -> None:
        """Plan for ``gpu``."""
        self.gpu = gpu
        self._stale = True

    # ---- Start from (base model or an earlier run's adapter)
    def reload_runs(self) -> None:
        """Read the project's finished runs with an adapter again (:attr:`runs`)."""
        self.runs = adapter_runs(self.project.folder) if self.project is not None else []

    def run_for(self, value: str) -> AdapterRun | None:
        """The listed run an ``init_adapter`` value names (its folder or its adapter folder)."""
        wanted = value.strip().rstrip("/").removesuffix("/adapter")
        return next((run for run in self.runs if run.relative == wanted), None)

    def matching_runs(self) -> list[AdapterRun]:
        """The listed runs trained on the chosen base model (newest first)."""
        folder = self.project.folder if self.project is not None else None
        return [run for run in self.runs if run.same_base_model(self.model_value, folder)]

    def start_advice(self) -> Advice:
        """The recommended ``init_adapter`` and its one-line reason."""
        if self.method not in ADAPTER_METHODS:
            return Advice(
                "init_adapter",
                "",
                "Full fine-tuning trains the model's own weights, so it starts from the base "
                "model.",
            )
        matching = self.matching_runs()
        sft = [run for run in matching if run.objective == "sft"]
        if self.objective == "dpo":
            if sft:
                run = sft[0]
                return Advice(
                    "init_adapter",
                    run.relative,
                    f"DPO polishes answers the model already gives: start from the adapter of "
                    f"your newest SFT run, {run.name} ({run.date_text}).",
                )
            return Advice(
                "init_adapter",
                "",
                "No finished SFT run on this base model yet, so DPO starts from the base "
                "model; DPO usually works better after an SFT run.",
            )
        return Advice(
            "init_adapter",
            "",
            "SFT usually starts from the base model; start from an earlier run's adapter to "
            "keep training it (on new examples, say).",
        )

    def set_start(self, value: str) -> None:
        """Start from the base model (``""``) or from a run's adapter (``runs/<id>``): an edit."""
        self.invalid.pop("init_adapter", None)
        self.edits["init_adapter"] = value.strip()

    def reset_start(self) -> None:
        """Where the run starts follows the recommendation again."""
        self.edits.pop("init_adapter", None)
        self.invalid.pop("init_adapter", None)

    def start_warning(self) -> str:
        """Why the chosen adapter may not fit (trained on another base model), or ""."""
        config = self.config()
        run = self.run_for(config.init_adapter) if config.init_adapter else None
        folder = self.project.folder if self.project is not None else None
        if run is None or run.same_base_model(self.model_value, folder):
            return ""
        return (
            f"Run {run.name} was trained on {run.base_model}, but this plan uses "
            f"{self.model_value}: an adapter only fits the model it was trained on. Choose "
            f"{run.base_model} on the Model step, or another run."
        )

    def _start_problem(self, value: str) -> str | None:
        if not value:
            return None
        if self.method not in ADAPTER_METHODS:
            return (
                "Full fine-tuning cannot start from an adapter: choose LoRA or QLoRA, or "
                "start from the base model."
            )
        if self.project is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.project.folder / path
        if not path.exists():
            return (
                f"{value} does not exist in the project: choose a finished run, or start from "
                "the base model."
            )
        return None

    # ---- Values
    def recommendation(self) -> Recommendation | None:
        """The core's recommendation for the current model, method, data and GPU."""
        if self._stale:
            self._stale = False
            self._recommendation = None
            if self.spec is not None:
                self._recommendation = recommend(
                    self.spec,
                    self.method,
                    self.stats,
                    self.gpu.memory_gb,
                    objective=self.objective,
                    task=self.task,
                )
        return self._recommendation

    def advice(self, field: str) -> Advice | None:
        """The recommendation's value and reason for ``field``, if it has one."""
        recommendation = self.recommendation()
        return recommendation.get(field) if recommendation is not None else None

    def recommended_config(self) -> TrainConfig:
        """The configuration with no edits: method defaults plus the recommendation."""
        config = defaults_for(self.method, self.objective)
        recommendation = self.recommendation()
        if recommendation is not None:
            config = recommendation.apply(config)
        return config

    def config(self) -> TrainConfig:
        """The complete configuration the wizard would save now."""
        base = self.recommended_config()
        values: dict[str, Any] = {
            "base_model": self.model_value,
            "dataset": self._dataset_text(),
            "target_modules": self.target_modules(),
            "init_adapter": self.start_advice().value,
        }
        values.update(self.edits)
        if "r" in self.edits and "alpha" not in self.edits:
            values["alpha"] = 2 * self.edits["r"]
        if "per_device_batch_size" in self.edits and "grad_accum" not in self.edits:
            effective = base.per_device_batch_size * base.grad_accum
            values["grad_accum"] = max(1, math.ceil(effective / values["per_device_batch_size"]))
        return dataclasses.replace(base, **values)

    def _dataset_text(self) -> str:
        if self.project is None:
            return ""
        return self.project.datasets.get(self.data_role(), "")

    def set_value(self, field: str, value: Any) -> str | None:
        """Set ``field`` to ``value`` (an edit); returns the problem, if any, and keeps it."""
        problem = value_problem(SPECS[field], value)
        if problem is None:
            self.invalid.pop(field, None)
            self.edits[field] = value
        else:
            self.invalid[field] = problem
        return problem

    def set_text(self, field: str, text: str) -> str | None:
        """Set ``field`` from what the user typed; an invalid text is kept in :attr:`invalid`."""
        value, problem = parse_text(SPECS[field], text)
        if problem is None:
            return self.set_value(field, value)
        self.invalid[field] = problem
        return problem

    def reset_to_recommended(self, fields: tuple[str, ...] = HPARAM_FIELDS) -> None:
        """Forget the edits (and invalid texts) of ``fields``: they follow the recommendation."""
        for field in fields:
            self.edits.pop(field, None)
            self.invalid.pop(field, None)

    def apply_suggestion(self, suggestion: Suggestion) -> None:
        """Make the memory estimate's suggested changes (as edits; a method as the method)."""
        for key, value in suggestion.changes.items():
            if key == "method":
                self.set_method(value)
                continue
            field = _SUGGESTION_FIELDS.get(key, key)
            self.set_value(field, value)
        if "r" in suggestion.changes and "alpha" in self.edits:
            self.edits["alpha"] = 2 * suggestion.changes["r"]

    # ---- Problems and warnings
    def problems(self) -> dict[str, str]:
        """Field → what blocks saving: invalid texts, contradictions, model and data problems."""
        found = dict(self.invalid)
        if self.model_error:
            found.setdefault("base_model", self.model_error)
        if self.project is None:
            found.setdefault("dataset", "No project is open.")
        elif self.data_path() is None:
            role = self.data_role()
            what = "preference pairs" if role == "preferences" else "training examples"
            found.setdefault(
                "dataset",
                f"This project has no {what} yet (datasets.{role} in project.json). Add them "
                "on the Dataset page.",
            )
        elif self.data_error:
            found.setdefault("dataset", self.data_error)
        elif self.stats is not None and self.stats.usable == 0:
            found.setdefault("dataset", self.stats.band.verdict)
        config = self.config()
        start = self._start_problem(config.init_adapter)
        if start:
            found.setdefault("init_adapter", start)
        for problem in config_problems(config):
            found.setdefault(problem.key, problem.message)
        return found

    def step_problems(self, step: str) -> dict[str, str]:
        """The problems of ``step``'s fields (``review``: every problem)."""
        problems = self.problems()
        if step == "review":
            return problems
        return {key: text for key, text in problems.items() if key in STEP_FIELDS[step]}

    def first_blocked_step(self) -> int | None:
        """The index of the first step with a problem, or ``None``."""
        for index, step in enumerate(STEPS[:-1]):
            if self.step_problems(step):
                return index
        return None

    def warnings(self) -> dict[str, list[str]]:
        """Field → the range warnings of its value (not blocking)."""
        found: dict[str, list[str]] = {}
        for warning in range_warnings(self.config(), spec=self.spec, stats=self.stats):
            found.setdefault(warning.field, []).append(warning.message)
        return found

    # ---- Estimates
    def memory(self) -> MemoryEstimate | None:
        """The memory estimate of the current configuration (``None`` without a model)."""
        if self.spec is None:
            return None
        try:
            return estimate_memory(self.spec, self.config(), self.gpu.memory_gb)
        except ValueError:
            return None

    def time_estimate(self) -> TimeEstimate | None:
        """How long training may take on the chosen GPU (``None`` without model or data)."""
        config = self.config()
        tokens = tokens_per_epoch(
            self.stats, config.max_length, config.val_fraction, config.objective
        )
        if self.spec is None or self.stats is None or not tokens:
            return None
        epochs: float = config.epochs
        if config.max_steps:
            examples = max(1, round(self.stats.usable * (1 - config.val_fraction)))
            steps_per_epoch = max(1, math.ceil(examples / config.effective_batch))
            epochs = min(epochs, config.max_steps / steps_per_epoch)
        return estimate_time(
            tokens, epochs, self.spec, config.method, self.gpu.gpu_class, objective=self.objective
        )

    # ---- Saving
    def default_name(self) -> str:
        """A configuration name for the current choices, e.g. ``qlora-sft``."""
        return f"{self.method}-{self.objective}"

    def name_problem(self, name: str) -> str | None:
        """Why ``name`` cannot name a configuration file, or ``None``."""
        if not name.strip():
            return "Enter a name for the configuration."
        if not _NAME.match(name.strip()):
            return (
                "Use letters, digits, '-', '_' and '.' only (up to 64), starting with a "
                "letter or digit."
            )
        return None

    def config_path(self, name: str) -> Path | None:
        """Where :meth:`save` writes configuration ``name``."""
        if self.project is None:
            return None
        stem = name.strip().removesuffix(".yaml").removesuffix(".yml")
        return self.project.folder / CONFIGS_FOLDER / f"{stem}.yaml"

    def save(self, name: str) -> Path:
        """Write the configuration as YAML into the project and list it in ``project.json``.

        Raises:
            ValueError: no project, a bad name, or a problem that blocks saving.
            OSError: the file or the manifest could not be written.
        """
        path = self.config_path(name)
        if path is None:
            raise ValueError("No project is open, so there is nowhere to save.")
        problem = self.name_problem(name)
        if problem:
            raise ValueError(problem)
        problems = self.problems()
        if problems:
            field, message = next(iter(problems.items()))
            raise ValueError(f"Fix {SPECS[field].label if field in SPECS else field}: {message}")
        assert self.project is not None
        listed = self.project.manifest.get(CONFIGS_KEY)
        if listed is not None and not isinstance(listed, dict):
            raise ValueError(
                f"{self.project.manifest_path}: {CONFIGS_KEY!r} is not the name: path mapping "
                "ftstudio writes; rename that key, then save again."
            )
        save_config(self.config(), path)
        configs = dict(listed or {})
        configs[path.stem] = path.relative_to(self.project.folder).as_posix()
        self.project.set(CONFIGS_KEY, configs)
        return path
