"""Talk to a run's model: the base model and the tuned one, side by side.

:class:`ChatModel` loads a run's base model once and its adapter on top (LoRA,
QLoRA) with PEFT, or, for full fine-tuning, the tuned model as a second model. The
base side of an adapter run is the same weights with the adapter switched off
(``disable_adapter``), so one model answers for both sides.

- Weights are read from safetensors only, never pickles (``*.bin``), and no
  custom model code runs unless the caller passes ``trust_remote_code=True`` (the user
  allowed it for this load).
- Device: a CUDA GPU when there is one (bf16 where the GPU supports it, else
  fp16; a QLoRA run's base loads in 4-bit there), else the CPU in fp32.
- Sampling: the seed is set before every answer, so the same prompt, settings and
  seed give the same answer, and both sides sample alike. Temperature 0 decodes
  greedily.
- Streaming: ``on_text`` receives the answer's new text as it is generated;
  multi-byte characters spread over several tokens are never split. The pieces
  joined are the returned answer.
- Threads: a :class:`ChatModel` serves one call at a time. The GUI calls
  :meth:`ChatModel.generate` and :meth:`ChatModel.answer_loss` from one worker
  thread at a time (never the GUI thread); calls from several threads wait for
  each other (a lock), they never run at once. ``cancel`` may be set from any
  thread.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ftstudio.core.evaluation.settings import GenerationSettings
from ftstudio.core.runs import RunPaths, find_project_folder, is_run_dir
from ftstudio.engine.chat_mask import (
    IGNORE_INDEX,
    SYSTEM_FOLD_SEPARATOR,
    ChatTemplateTokenizer,
    training_labels,
)
from ftstudio.engine.training.checkpoints import list_checkpoints

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
PICKLED_ADAPTER = "adapter_model.bin"


class InferenceError(ValueError):
    """A model or adapter cannot be loaded or used; the message names the folder and the fix."""


# ---------------------------------------------------------------- adapters


@dataclass(frozen=True)
class AdapterChoice:
    """A tuned state of a run that can be loaded.

    Attributes:
        label: how to show it ("Final adapter", "Checkpoint at step 30").
        path: its folder.
        step: the optimizer step a checkpoint holds (None for the final adapter or model).
        kind: ``adapter`` (the final LoRA/QLoRA adapter), ``model`` (the final fully
            fine-tuned model) or ``checkpoint``.
    """

    label: str
    path: Path
    step: int | None
    kind: str


def list_adapters(run_dir: Path) -> list[AdapterChoice]:
    """What a run can be loaded with: the final adapter or model first, then checkpoints.

    Checkpoints are the complete ones ftstudio wrote, newest first. An empty list
    means the run saved nothing loadable yet.
    """
    paths = RunPaths(Path(run_dir))
    choices = []
    if _is_adapter_dir(paths.adapter_dir):
        choices.append(AdapterChoice("Final adapter", paths.adapter_dir, None, "adapter"))
    if _is_model_dir(paths.model_dir):
        choices.append(AdapterChoice("Final model", paths.model_dir, None, "model"))
    for info in reversed(list_checkpoints(paths.root)):
        if _is_adapter_dir(info.path) or _is_model_dir(info.path):
            choices.append(
                AdapterChoice(f"Checkpoint at step {info.step}", info.path, info.step, "checkpoint")
            )
    return choices


def _is_adapter_dir(folder: Path) -> bool:
    return (folder / ADAPTER_CONFIG).is_file() and (
        (folder / ADAPTER_WEIGHTS).is_file() or (folder / PICKLED_ADAPTER).is_file()
    )


def _is_model_dir(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


# ---------------------------------------------------------------- streaming


class IncrementalDecoder:
    """Turns token ids arriving one by one into text, never splitting a character.

    A character written with several byte-level tokens (accents, CJK, emoji) comes
    out once all its tokens are there. Text is decoded over a short window of
    recent tokens, so each step costs the same however long the answer grows, and
    tokenizers that treat a leading space specially (SentencePiece's ``▁``) decode
    as they do for the whole answer.

    Args:
        tokenizer: the model's tokenizer.
        skip_special_tokens: leave special tokens (EOS, end of turn) out of the text.
    """

    def __init__(self, tokenizer: Any, *, skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.ids: list[int] = []
        self.text = ""
        self._prefix = 0  # start of the decoding window
        self._read = 0  # tokens whose text has been emitted

    def push(self, ids: Sequence[int]) -> str:
        """Add token ids; returns the new text they complete (may be empty)."""
        self.ids.extend(int(i) for i in ids)
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""  # an incomplete character (or nothing visible yet): wait
        new = after[len(before) :]
        self._prefix, self._read = self._read, len(self.ids)
        self.text += new
        return new

    def flush(self) -> str:
        """The text still held back at the end (a character that never completed)."""
        before = self._decode(self.ids[self._prefix : self._read])
        after = self._decode(self.ids[self._prefix :])
        new = after[len(before) :] if len(after) > len(before) else ""
        self._prefix = self._read = len(self.ids)
        self.text += new
        return new

    def _decode(self, ids: list[int]) -> str:
        if not ids:
            return ""
        return self.tokenizer.decode(
            ids, skip_special_tokens=self.skip_special_tokens, clean_up_tokenization_spaces=False
        )


class _Streamer:
    """A transformers streamer (``put``/``end``) feeding an :class:`IncrementalDecoder`."""

    def __init__(self, decoder: IncrementalDecoder, on_text: Callable[[str], None] | None) -> None:
        self.decoder = decoder
        self.on_text = on_text
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt
            self._prompt_seen = True
            return
        new = self.decoder.push(value.reshape(-1).tolist())
        if new and self.on_text is not None:
            self.on_text(new)

    def end(self) -> None:
        new = self.decoder.flush()
        if new and self.on_text is not None:
            self.on_text(new)


def _stopping_criteria(cancel: Callable[[], bool]) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            stop = bool(cancel())
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    return StoppingCriteriaList([_Cancelled()])


# ---------------------------------------------------------------- model


@dataclass(frozen=True)
class InferenceDevice:
    """Where a :class:`ChatModel` runs: ``cuda`` or ``cpu``, the weights' dtype, in words."""

    device: str
    dtype: torch.dtype
    description: str


def inference_device() -> InferenceDevice:
    """Where answers are generated: CUDA (bf16 or fp16) when there is a GPU, else CPU fp32."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return InferenceDevice("cuda", dtype, f"cuda:0 ({name})")
    return InferenceDevice("cpu", torch.float32, "cpu")


class ChatModel:
    """A base model and, when loaded from a run, its tuned version.

    Build it with :meth:`load` (a run) or :meth:`load_base` (a base model alone).

    Threads: call :meth:`generate`, :meth:`answer_loss` and :meth:`example_loss`
    from one worker thread at a time, never from the GUI thread (they take seconds).
    Calls from several threads are serialised by a lock, so they wait rather than
    run together; ``cancel`` callbacks may read a flag set from any thread.

    Attributes:
        tokenizer: the base model's tokenizer (with its chat template).
        base_model: the base model as configured (a folder, hub id or catalogue name).
        model_path: the folder or hub id the base model was loaded from.
        run_dir: the run folder (None for :meth:`load_base`).
        adapter: the adapter or tuned model folder loaded (None for :meth:`load_base`).
        device: ``cuda`` or ``cpu``.
        dtype: the weights' dtype.
        description: the device in words.
        max_length: the run's training max length in tokens (losses cut there, as in
            training), else the tokenizer's limit.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        base_model: str,
        model_path: str,
        device: InferenceDevice,
        tuned_model: Any = None,
        has_adapter: bool = False,
        run_dir: Path | None = None,
        adapter: Path | None = None,
        max_length: int | None = None,
    ) -> None:
        self._model = model
        self._tuned_model = tuned_model
        self._has_adapter = has_adapter
        self.tokenizer = tokenizer
        self.base_model = base_model
        self.model_path = model_path
        self.run_dir = run_dir
        self.adapter = adapter
        self.device = device.device
        self.dtype = device.dtype
        self.description = device.description
        limit = getattr(tokenizer, "model_max_length", None)
        self.max_length = max_length or (
            limit if isinstance(limit, int) and limit < 10**7 else None
        )
        self._encoder = ChatTemplateTokenizer(tokenizer)
        self._lock = threading.Lock()

    # ---- Loading
    @classmethod
    def load(
        cls,
        run_dir: Path,
        adapter: Path | None = None,
        *,
        project: Path | None = None,
        on_progress: Callable[[str], None] | None = None,
        trust_remote_code: bool = False,
    ) -> ChatModel:
        """Load a run's base model and its tuned state.

        Args:
            run_dir: the run folder (it holds ``run.json`` and ``config.yaml``).
            adapter: the adapter, model or checkpoint folder to load (one of
                :func:`list_adapters`); default: the final one, else the newest checkpoint.
            project: the project folder the base model path is relative to (default:
                the folder above the run holding ``project.json``).
            on_progress: called with a sentence before each slow step.
            trust_remote_code: run the base model's own code if it needs some (the user
                allowed it); otherwise such a model raises :class:`InferenceError`.

        Raises:
            InferenceError: not a run folder, nothing to load, a pickled adapter, a
                base model folder that does not exist, or a model that cannot be loaded
                (the message says why and what to do).
        """
        from ftstudio.core.fields import ConfigError
        from ftstudio.core.train_config import load_config

        report = on_progress or (lambda _text: None)
        run = Path(run_dir)
        if not is_run_dir(run):
            raise InferenceError(
                f"{run} is not a training run folder (it has no run.json). Choose a folder "
                "inside the project's runs/ folder."
            )
        try:
            config = load_config(RunPaths(run).config)
        except ConfigError as error:
            raise InferenceError(f"The run's configuration cannot be read: {error}") from None
        choice = Path(adapter) if adapter is not None else _default_adapter(run)
        kind = _folder_kind(choice)
        project_folder = Path(project) if project is not None else find_project_folder(run)
        report(f"Loading the base model {config.base_model}…")
        quantize = config.method == "qlora" and kind == "adapter"
        model, tokenizer, model_path, device = _load_base(
            config.base_model,
            project_folder,
            quantize=quantize,
            double_quant=config.double_quant,
            trust_remote_code=trust_remote_code,
        )
        tuned_model = None
        if kind == "adapter":
            report(f"Loading the adapter {choice.name}…")
            model = _attach_adapter(model, choice)
        else:
            report(f"Loading the tuned model {choice.name}…")
            tuned_model = _from_pretrained(
                str(choice), device, quantize=False, trust_remote_code=trust_remote_code
            )
        return cls(
            model,
            tokenizer,
            base_model=config.base_model,
            model_path=model_path,
            device=device,
            tuned_model=tuned_model,
            has_adapter=kind == "adapter",
            run_dir=run,
            adapter=choice,
            max_length=config.max_length,
        )

    @classmethod
    def load_base(
        cls, base_model: str, project: Path | None = None, *, trust_remote_code: bool = False
    ) -> ChatModel:
        """Load a base model alone (no tuned side: :attr:`has_tuned` is False).

        Args:
            base_model: a catalogue name (``ftstudio:tiny``), a model folder or a hub id
                (from the local cache, downloaded when missing and online).
            project: the folder a relative model path is relative to.
            trust_remote_code: run the model's own code if it needs some (as :meth:`load`).
        """
        model, tokenizer, model_path, device = _load_base(
            base_model, project, quantize=False, trust_remote_code=trust_remote_code
        )
        return cls(model, tokenizer, base_model=base_model, model_path=model_path, device=device)

    # ---- Public API
    @property
    def has_tuned(self) -> bool:
        """Whether a tuned side is loaded (an adapter or a fine-tuned model)."""
        return self._has_adapter or self._tuned_model is not None

    def generate(
        self,
        messages: Sequence[Mapping[str, Any]],
        settings: GenerationSettings,
        *,
        tuned: bool,
        on_text: Callable[[str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> str:
        """The model's answer to a conversation that ends with the user's turn.

        Args:
            messages: ``[{"role", "content"}, ...]``; the chat template writes them with
                the generation prompt.
            settings: temperature (0: greedy), top-p, max new tokens and seed. The seed
                is set before the answer, so both sides sample alike.
            tuned: the tuned model (True) or the base model (False).
            on_text: receives each new piece of the answer as it is generated.
            cancel: polled after every token; when it returns True the answer stops
                there (what was generated is returned).

        Returns:
            The answer, special tokens left out: the ``on_text`` pieces joined.

        Raises:
            InferenceError: no tuned side, no chat template, or the template rejects
                the conversation.
        """
        with self._lock:
            model = self._side(tuned)
            ids = self._prompt_ids(messages)
            decoder = IncrementalDecoder(self.tokenizer)
            if cancel is not None and cancel():
                return ""
            streamer = _Streamer(decoder, on_text)
            kwargs: dict[str, Any] = {
                "input_ids": ids,
                "attention_mask": torch.ones_like(ids),
                "generation_config": self._generation_config(settings),
                "streamer": streamer,
            }
            if cancel is not None:
                kwargs["stopping_criteria"] = _stopping_criteria(cancel)
            torch.manual_seed(settings.seed)
            with self._adapter_state(tuned), torch.inference_mode():
                model.generate(**kwargs)
            return decoder.text

    def answer_loss(
        self, messages: Sequence[Mapping[str, Any]], *, tuned: bool
    ) -> tuple[float, int]:
        """Summed cross-entropy over a conversation's trained tokens, and their count.

        The trained tokens are the dataset studio's mask (the assistant answers and
        their end-of-turn token; an assistant message with ``"weight": 0`` is not
        counted), cut at :attr:`max_length` as in training. Mean loss = sum / count.

        Raises:
            InferenceError: no tuned side, or the chat template rejects the messages.
        """
        return self.example_loss({"messages": [dict(m) for m in messages]}, tuned=tuned)

    def example_loss(self, data: Mapping[str, Any], *, tuned: bool) -> tuple[float, int]:
        """Like :meth:`answer_loss` for any example (chat, completion or preference data)."""
        with self._lock:
            model = self._side(tuned)
            try:
                example = self._encoder.tokenize_example(dict(data))
            except ValueError as error:
                raise InferenceError(f"The example cannot be tokenised: {error}") from None
            ids, labels = list(example.ids), training_labels(example)
            if self.max_length is not None:
                ids, labels = ids[: self.max_length], labels[: self.max_length]
            targets = torch.tensor([labels[1:]], dtype=torch.long, device=self.device)
            count = int((targets != IGNORE_INDEX).sum())
            if count == 0:
                return 0.0, 0
            inputs = torch.tensor([ids], dtype=torch.long, device=self.device)
            with self._adapter_state(tuned), torch.inference_mode():
                logits = model(input_ids=inputs, use_cache=False).logits[:, :-1, :]
                loss = torch.nn.functional.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]),
                    targets.reshape(-1),
                    ignore_index=IGNORE_INDEX,
                    reduction="sum",
                )
            return float(loss), count

    def close(self) -> None:
        """Free the models' memory (the object cannot answer afterwards)."""
        with self._lock:
            self._model = None
            self._tuned_model = None
            self._has_adapter = False
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ---- Internals
    def _side(self, tuned: bool) -> Any:
        if self._model is None:
            raise InferenceError("The model was closed; load it again.")
        if not tuned:
            return self._model
        if self._tuned_model is not None:
            return self._tuned_model
        if self._has_adapter:
            return self._model
        raise InferenceError(
            "Only the base model is loaded, so there is no tuned answer. Load a run to compare."
        )

    @contextlib.contextmanager
    def _adapter_state(self, tuned: bool) -> Iterator[None]:
        if self._has_adapter and not tuned:
            with self._model.disable_adapter():
                yield
        else:
            yield

    def _prompt_ids(self, messages: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        if not getattr(self.tokenizer, "chat_template", None):
            raise InferenceError(
                f"The tokenizer of {self.model_path} has no chat template, so a conversation "
                "cannot be written the way this model expects."
            )
        clean = [{"role": str(m.get("role")), "content": str(m.get("content"))} for m in messages]
        if not clean:
            raise InferenceError("The conversation is empty; write a question first.")
        try:
            text = self._render(clean)
        except Exception as error:  # jinja2 errors from raise_exception, TypeError...
            folded = _fold_system(clean)
            try:
                # As in training: a template without a system role gets the system
                # prompt at the start of the first user message.
                text = self._render(folded) if folded is not None else None
            except Exception:  # the template's own first reason is reported
                text = None
            if text is None:
                reason = str(error).strip() or type(error).__name__
                raise InferenceError(
                    f"The chat template rejects this conversation: {reason}"
                ) from None
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return torch.tensor([ids], dtype=torch.long, device=self.device)

    def _render(self, messages: list[dict[str, str]]) -> str:
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        if not isinstance(text, str):
            raise TypeError("the chat template did not produce text")
        return text

    def _generation_config(self, settings: GenerationSettings) -> Any:
        from transformers import GenerationConfig

        eos = _ids(getattr(self._model.generation_config, "eos_token_id", None))
        eos += [i for i in _ids(self.tokenizer.eos_token_id) if i not in eos]
        pad = self.tokenizer.pad_token_id
        values: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "eos_token_id": eos or None,
            "pad_token_id": pad if pad is not None else (eos[0] if eos else None),
            "bos_token_id": self.tokenizer.bos_token_id,
        }
        if settings.greedy:
            values.update(do_sample=False)
        else:
            values.update(
                do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=0
            )
        return GenerationConfig(**values)


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]] | None:
    """The messages with a leading system prompt moved into the first user message."""
    if len(messages) < 2 or messages[0]["role"] != "system" or messages[1]["role"] != "user":
        return None
    content = messages[0]["content"] + SYSTEM_FOLD_SEPARATOR + messages[1]["content"]
    return [{"role": "user", "content": content}, *messages[2:]]


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def _default_adapter(run: Path) -> Path:
    choices = list_adapters(run)
    if not choices:
        raise InferenceError(
            f"The run {run.name} has no adapter, model or complete checkpoint yet, so there is "
            "no tuned model to load. Let it train until it saves one (every save_steps steps)."
        )
    return choices[0].path


def _folder_kind(folder: Path) -> str:
    """``adapter`` or ``model``; refuses what cannot be loaded safely."""
    if not folder.is_dir():
        raise InferenceError(f"{folder} does not exist. Choose one of the run's adapters.")
    if (folder / ADAPTER_CONFIG).is_file():
        if not (folder / ADAPTER_WEIGHTS).is_file():
            if (folder / PICKLED_ADAPTER).is_file():
                raise InferenceError(
                    f"{folder} holds a pickled adapter ({PICKLED_ADAPTER}); ftstudio loads "
                    f"only {ADAPTER_WEIGHTS}, because pickles can run code. Convert it to "
                    "safetensors first."
                )
            raise InferenceError(f"{folder} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}.")
        return "adapter"
    if _is_model_dir(folder):
        return "model"
    if (folder / "config.json").is_file():
        raise InferenceError(
            f"{folder} holds no safetensors weights; ftstudio does not load pickled weights "
            "(*.bin, *.pt). Convert them to safetensors first."
        )
    raise InferenceError(
        f"{folder} holds neither an adapter ({ADAPTER_CONFIG}) nor a model (config.json). "
        "Choose the run's adapter folder or one of its checkpoints."
    )


def _load_base(
    base_model: str,
    project: Path | None,
    *,
    quantize: bool,
    double_quant: bool = True,
    trust_remote_code: bool = False,
) -> tuple[Any, Any, str, InferenceDevice]:
    """(model, tokenizer, path or hub id, device) of a configured base model."""
    from ftstudio.engine.base_model import (
        RemoteCodeError,
        check_remote_code,
        download_base_model,
        resolve_base_model,
    )
    from ftstudio.engine.chat_mask import load_tokenizer

    try:
        model_path = resolve_base_model(base_model, project)
        if not Path(model_path).is_dir():  # a hub id: from the local cache (or downloaded)
            model_path = str(download_base_model(model_path, trust_remote_code=trust_remote_code))
        check_remote_code(model_path, trust_remote_code, name=base_model)
    except (ConnectionError, FileNotFoundError, RemoteCodeError) as error:
        raise InferenceError(str(error)) from None
    try:
        tokenizer = load_tokenizer(
            Path(model_path), require_chat_template=False, trust_remote_code=trust_remote_code
        )
    except ValueError as error:
        raise InferenceError(str(error)) from None
    device = inference_device()
    model = _from_pretrained(
        model_path,
        device,
        quantize=quantize,
        double_quant=double_quant,
        trust_remote_code=trust_remote_code,
    )
    return model, tokenizer, model_path, device


def _from_pretrained(
    path: str,
    device: InferenceDevice,
    *,
    quantize: bool,
    double_quant: bool = True,
    trust_remote_code: bool = False,
) -> Any:
    """A causal LM from a folder: safetensors only, no custom code unless
    ``trust_remote_code`` (the user allowed it), on ``device``.

    ``quantize`` loads the linear layers in 4-bit NF4 on a CUDA GPU (a QLoRA run's
    base, as it trained); on the CPU it is ignored (fp32).
    """
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "dtype": device.dtype,
        "trust_remote_code": trust_remote_code,
        "use_safetensors": True,
        "local_files_only": True,
    }
    if quantize and device.device == "cuda":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=double_quant,
            bnb_4bit_compute_dtype=device.dtype,
        )
        kwargs["device_map"] = {"": 0}
    try:
        with _quiet_loading():
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as error:
        raise InferenceError(
            f"The model in {path} could not be loaded: {error}. ftstudio loads safetensors "
            "weights only and runs a model's own code only when you allow it."
        ) from None
    if "device_map" not in kwargs:
        model.to(device.device)
    model.eval()
    return model


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar on the terminal (callers report progress)."""
    from transformers.utils import logging

    was_disabled = not logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if not was_disabled:
            logging.enable_progress_bar()


def _attach_adapter(model: Any, folder: Path) -> Any:
    from peft import PeftModel

    try:
        with (folder / ADAPTER_CONFIG).open(encoding="utf-8") as handle:
            json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise InferenceError(f"{folder / ADAPTER_CONFIG} cannot be read: {error}") from None
    try:
        peft_model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise InferenceError(
            f"The adapter in {folder} does not fit the base model: {error}. Was it trained on "
            "another base model?"
        ) from None
    peft_model.eval()
    return peft_model
