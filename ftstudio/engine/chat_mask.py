"""Which tokens the model learns from: the chat template's text and a per-token loss mask.

An example is rendered with the base model's own chat template, exactly as
``tokenizer.apply_chat_template(messages, tokenize=True)`` would, and every token
gets a flag saying whether it carries loss. The training engine, validation
(``too_long``), statistics and the "What the model learns" preview all use this
one mask.

Most real templates (Llama 3, Qwen2.5/ChatML, Mistral, Gemma, Phi-3) have no
``{% generation %}`` markers, so the mask is derived without them:

1. The conversation is rendered once as it is (the training text), and once with
   each trained answer wrapped in two private-use marker characters. The markers
   are removed again; when the result equals the training text, the markers give
   each answer's exact place in it, however the template re-renders earlier turns,
   injects a default system prompt or a date, or moves the system prompt around.
   When the template changes the marked text (it transforms the content), the
   answers are found by searching each message's content in order instead.
2. How the template writes around an answer is learnt once per tokenizer from
   probe conversations: the end of the turn is what a conversation that ends after
   the answer and one that continues both put right after it (``<|eot_id|>``,
   ``<|im_end|>``, ``</s>``, ``<end_of_turn>``, ``<|end|>``), and the answer
   prefix is the whitespace between the generation prompt and the answer.
3. The training text is tokenised once (``add_special_tokens=False``: the template
   already writes BOS, so it is never doubled) with character offsets; a token is
   trained when it overlaps a trained character span.

The masking rule:

- Trained: the content of every assistant turn that is switched on (no
  ``"weight": 0``), plus the end-of-turn text right after it, whitespace before the
  end-of-turn token included (Llama 2 writes ``answer </s>``), and the
  whitespace the template writes between the generation prompt and the answer
  (Mistral's space after ``[/INST]``): the model generates all of it. A token
  that straddles the edge of a trained span is trained.
- Not trained: system and user text, the template's default system prompt or
  date, the assistant header or generation prompt (``<|im_start|>assistant\\n``),
  the newline the template writes after the end-of-turn token (the model stops at
  the token, so it never generates that newline), and what a template adds only
  at the very end of a conversation (Phi-3's trailing ``<|endoftext|>``).
- Templates without a system role (Gemma, Mistral v0.1 raise on it): the system
  prompt is put at the start of the first user message, separated by a blank
  line, as Gemma 3's own template does; a note says so.
- Completion data (``prompt``/``completion``): ``prompt + completion`` is
  tokenised with the tokenizer's usual special tokens (BOS where it adds one) and
  EOS is appended when missing; the completion tokens and EOS are trained.
- Preference data: the prompt and the chosen answer, rendered as one conversation
  (or as prompt + completion for plain-text pairs); only the chosen answer is
  trained.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from ftstudio.core.dataset.tokens import TokenizedExample

SYSTEM_FOLD_SEPARATOR = "\n\n"
"""Between the system prompt and the first user message when a template has no system role."""

IGNORE_INDEX = -100
"""Label of tokens that carry no loss (what PyTorch's cross-entropy ignores)."""

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "tiktoken.model",
)
"""Any of these in a folder means it holds a tokenizer."""

# Private-use code points: never produced by templates, and not whitespace, so
# ``| trim`` and similar filters leave them in place.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PROBE_ANSWER = _OPEN + "Hi" + _CLOSE


@dataclass(frozen=True)
class EncodedExample:
    """An example as the model sees it, with what the preview needs to show it.

    Attributes:
        text: the training text (the rendered chat template; for completion data
            the prompt and completion with the special tokens written out).
        ids: token ids of the text, exactly as training uses them.
        trained: one flag per token: true where the token carries loss.
        pieces: one piece of ``text`` per token; joined they give ``text``
            back. A character split over several byte-level tokens goes with the
            first of them.
        kind: ``chat``, ``completion`` or ``preference``.
        notes: plain-language remarks about how the template treated the example
            (system prompt folded or left out, no end-of-turn token).
    """

    text: str
    ids: list[int]
    trained: list[bool]
    pieces: list[str]
    kind: str
    notes: tuple[str, ...] = field(default=())

    def tokenized(self) -> TokenizedExample:
        """The ids and the loss mask, as :class:`ExampleTokenizer` returns them."""
        return TokenizedExample(ids=list(self.ids), trained=list(self.trained))


# ---------------------------------------------------------------- loading


def load_tokenizer(
    model_dir: Path,
    *,
    chat_template: str | None = None,
    require_chat_template: bool = True,
    trust_remote_code: bool = False,
) -> PreTrainedTokenizerBase:
    """Load the tokenizer of a model folder on this computer (never from the hub).

    Args:
        model_dir: the model's folder (``tokenizer.json`` / ``tokenizer_config.json``).
        chat_template: a Jinja chat template to use instead of the folder's own.
        require_chat_template: refuse a tokenizer without a chat template (pass
            False for plain completion data, which needs none).
        trust_remote_code: run the folder's own tokenizer code if it has some (only
            when the user allowed it for this load; see ``engine.base_model``).

    Returns:
        The tokenizer, with a chat template.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: it is not a folder, holds no tokenizer, the tokenizer cannot be
            loaded (or needs custom code, which ftstudio does not run), or it has no
            chat template while one is required.
    """
    folder = Path(model_dir).expanduser()
    if not folder.exists():
        raise FileNotFoundError(
            f"The model folder {folder} does not exist. Choose the folder that holds the "
            "model's tokenizer files (tokenizer.json, tokenizer_config.json)."
        )
    if not folder.is_dir():
        raise ValueError(
            f"{folder} is a file, not a folder. Choose the model folder that holds "
            "tokenizer.json or tokenizer_config.json."
        )
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(
            f"The folder {folder} holds no tokenizer (no tokenizer.json, "
            "tokenizer_config.json or tokenizer.model). Choose the folder of a downloaded "
            "model, or the model's snapshot folder in the Hugging Face cache."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, trust_remote_code=trust_remote_code
        )
    except Exception as error:  # transformers raises OSError, ValueError, KeyError...
        raise ValueError(
            f"The tokenizer in {folder} could not be loaded: {error}. If it needs its own "
            "code (trust_remote_code), allow it when asked (or --trust-remote-code on the "
            "command line), or choose another model folder."
        ) from error
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    if require_chat_template and not tokenizer.chat_template:
        raise ValueError(
            f"The tokenizer in {folder} has no chat template, so ftstudio cannot tell how "
            "conversations are written for this model or which tokens it learns. Choose a "
            "template (or the instruct version of the model, which has one)."
        )
    return tokenizer


# ---------------------------------------------------------------- tokenising


class ChatTemplateTokenizer:
    """Tokenises examples through a tokenizer's chat template, with the loss mask.

    Implements :class:`ftstudio.core.dataset.tokens.ExampleTokenizer`. See the
    module docstring for the masking rule.

    Args:
        tokenizer: a fast (``tokenizers``-backed) Hugging Face tokenizer. Chat and
            conversational data need its chat template; plain completion data does
            not (a base model without a template can train on it).

    Raises:
        ValueError: the tokenizer cannot give character offsets.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"The tokenizer ({type(tokenizer).__name__}) cannot map tokens back to the "
                "text; ftstudio needs a model folder with tokenizer.json."
            )
        self.tokenizer = tokenizer
        self._template_shape: _TemplateShape | None = None

    # ---- Public API
    def tokenize_example(self, data: dict[str, Any]) -> TokenizedExample:
        """Token ids and loss flags of one record's data (chat, completion or preference).

        Raises:
            ValueError: the data has no recognised shape, or the chat template
                rejects it (the message says why).
        """
        return self.encode(data).tokenized()

    def encode(self, data: dict[str, Any]) -> EncodedExample:
        """Like :meth:`tokenize_example`, with the text, token pieces and notes."""
        if not isinstance(data, dict):
            raise ValueError(f"An example must be an object, not {_type_name(data)}.")
        if "messages" in data:
            turns = _turns(data["messages"], "messages", trained=True)
            return self._encode_chat(turns, "chat")
        if "chosen" in data:
            prompt, chosen = data.get("prompt"), data["chosen"]
            if isinstance(prompt, str) and isinstance(chosen, str):
                return self._encode_completion(prompt, chosen, "preference")
            turns = _turns(prompt, "prompt", trained=False) + _turns(chosen, "chosen", trained=True)
            return self._encode_chat(turns, "preference")
        if "prompt" in data and "completion" in data:
            prompt, completion = data["prompt"], data["completion"]
            if isinstance(prompt, str) and isinstance(completion, str):
                return self._encode_completion(prompt, completion, "completion")
            if isinstance(prompt, list) and isinstance(completion, list):
                turns = _turns(prompt, "prompt", trained=False)
                turns += _turns(completion, "completion", trained=True)
                return self._encode_chat(turns, "completion")
            raise ValueError(
                '"prompt" and "completion" must both be text (or both lists of messages).'
            )
        raise ValueError(
            'The example has no "messages", no "prompt"/"completion" and no '
            '"prompt"/"chosen"/"rejected", so there is nothing to tokenise.'
        )

    # ---- Chat
    def _encode_chat(self, turns: list[_Turn], kind: str) -> EncodedExample:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(
                "The tokenizer has no chat template, so conversations cannot be written "
                "the way this model expects. Choose a template (or the model's instruct "
                "version, which has one)."
            )
        notes: list[str] = []
        messages = [{"role": t.role, "content": t.content} for t in turns]
        try:
            text = self._render(messages)
        except ValueError as error:
            folded = _fold_system(turns)
            if folded is None:
                raise
            folded_messages = [{"role": t.role, "content": t.content} for t in folded]
            try:
                text = self._render(folded_messages)
            except ValueError:
                raise error from None  # folding did not help: the template's own reason
            turns, messages = folded, folded_messages
            notes.append(
                "This model's chat template has no system role, so the system prompt was "
                "put at the start of the first user message."
            )
        for turn in turns:
            if turn.role == "system" and turn.content.strip() and turn.content.strip() not in text:
                notes.append(
                    "This model's chat template leaves out the system prompt in this "
                    "conversation, so the model does not see it during training."
                )
                break

        spans = self._answer_spans(turns, messages, text)
        encoding = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids: list[int] = list(encoding["input_ids"])
        offsets: list[tuple[int, int]] = [tuple(o) for o in encoding["offset_mapping"]]

        shape = self._shape()
        char_spans: list[tuple[int, int]] = []
        missing_eot = False
        for start, end in spans:
            prefix = shape.answer_prefix
            if prefix and text[max(start - len(prefix), 0) : start] == prefix:
                start -= len(prefix)
            stop = self._eot_end(text, end, ids, offsets, shape.end_of_turn)
            if stop is None:
                missing_eot = True
                stop = end
            char_spans.append((start, stop))
        if missing_eot:
            notes.append(
                "No end-of-turn token follows an answer here, so the model may not learn "
                "to stop after answering."
            )
        trained = _overlapping(offsets, char_spans)
        return EncodedExample(
            text=text,
            ids=ids,
            trained=trained,
            pieces=_pieces(text, offsets),
            kind=kind,
            notes=tuple(notes),
        )

    def _render(self, messages: list[dict[str, str]], *, generation_prompt: bool = False) -> str:
        try:
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation_prompt
            )
        except Exception as error:  # jinja2 TemplateError from raise_exception, TypeError...
            message = str(error).strip() or type(error).__name__
            raise ValueError(message) from error
        if not isinstance(text, str):
            raise ValueError("The chat template did not produce text.")
        return text

    def _answer_spans(
        self, turns: list[_Turn], messages: list[dict[str, str]], text: str
    ) -> list[tuple[int, int]]:
        """Character span of each trained answer's content in ``text``."""
        wanted = [i for i, t in enumerate(turns) if t.trained]
        if not wanted:
            return []
        spans = self._spans_by_markers(wanted, messages, text)
        if spans is None:
            spans = _spans_by_search(wanted, turns, text)
        return spans

    def _spans_by_markers(
        self, wanted: list[int], messages: list[dict[str, str]], text: str
    ) -> list[tuple[int, int]] | None:
        if any(_OPEN in m["content"] or _CLOSE in m["content"] for m in messages):
            return None
        marked = [dict(m) for m in messages]
        cores: list[tuple[str, str, str]] = []
        for i in wanted:
            content = marked[i]["content"]
            core = content.strip()
            lead = content[: len(content) - len(content.lstrip())]
            trail = content[len(lead) + len(core) :]
            cores.append((lead, core, trail))
            # Markers around the stripped core, so a template's ``| trim`` gives the same text.
            marked[i]["content"] = f"{lead}{_OPEN}{core}{_CLOSE}{trail}"
        try:
            rendered = self._render(marked)
        except ValueError:
            return None
        plain: list[str] = []
        spans: list[tuple[int, int]] = []
        position = 0  # in the text without markers
        cursor = 0  # in the marked text
        for _ in wanted:
            opened = rendered.find(_OPEN, cursor)
            closed = rendered.find(_CLOSE, opened + 1) if opened >= 0 else -1
            if opened < 0 or closed < 0 or _OPEN in rendered[opened + 1 : closed]:
                return None
            plain.append(rendered[cursor:opened])
            position += opened - cursor
            start = position
            plain.append(rendered[opened + 1 : closed])
            position += closed - opened - 1
            spans.append((start, position))
            cursor = closed + 1
        plain.append(rendered[cursor:])
        if _OPEN in rendered[cursor:] or _CLOSE in rendered[cursor:] or "".join(plain) != text:
            return None
        # Whitespace around the content that the template kept belongs to the answer.
        widened = []
        for (start, end), (lead, _core, trail) in zip(spans, cores, strict=True):
            if lead and text[max(start - len(lead), 0) : start] == lead:
                start -= len(lead)
            if trail and text[end : end + len(trail)] == trail:
                end += len(trail)
            widened.append((start, end))
        return widened

    def _shape(self) -> _TemplateShape:
        """How this template writes around an answer, learnt once from probe conversations."""
        if self._template_shape is None:
            self._template_shape = self._probe_shape()
        return self._template_shape

    def _probe_shape(self) -> _TemplateShape:
        question = {"role": "user", "content": "Hello"}
        answer = {"role": "assistant", "content": _PROBE_ANSWER}
        try:
            prompt = self._render([question], generation_prompt=True)
            last = self._render([question, answer])
        except ValueError:
            return _TemplateShape("", None)
        if last.count(_OPEN) != 1 or last.count(_CLOSE) != 1:
            return _TemplateShape("", None)
        # What the template writes between the generation prompt and the answer; the
        # model generates it, so it is trained (whitespace only, never a header).
        opened = last.index(_OPEN)
        prefix = last[len(prompt) : opened] if last.startswith(prompt) else ""
        prefix = prefix if not prefix.strip() else ""
        try:
            more = self._render([question, answer, {"role": "user", "content": "Bye"}])
        except ValueError:
            return _TemplateShape(prefix, None)
        if more.count(_CLOSE) != 1:
            return _TemplateShape(prefix, None)
        after_last = last[last.index(_CLOSE) + 1 :]
        after_more = more[more.index(_CLOSE) + 1 :]
        common = 0
        for a, b in zip(after_last, after_more, strict=False):
            if a != b:
                break
            common += 1
        # Whole tokens of the common text only, then the whitespace after the last one dropped.
        encoding = self.tokenizer(after_last, add_special_tokens=False, return_offsets_mapping=True)
        end = 0
        for _start, stop in encoding["offset_mapping"]:
            if stop > common:
                break
            end = max(end, stop)
        return _TemplateShape(prefix, after_last[:end].rstrip())

    def _eot_end(
        self,
        text: str,
        end: int,
        ids: list[int],
        offsets: list[tuple[int, int]],
        eot: str | None,
    ) -> int | None:
        """Where the end-of-turn text after an answer ending at ``end`` stops (None: none)."""
        if eot:
            return end + len(eot) if text.startswith(eot, end) else None
        if eot == "":
            return None
        # The probe failed: take the first special token after the answer (after whitespace).
        special = self._special_ids()
        index = bisect_right([stop for _start, stop in offsets], end)
        while index < len(ids):
            start, stop = offsets[index]
            if ids[index] in special:
                return stop
            if text[start:stop].strip():
                return None
            index += 1
        return None

    def _special_ids(self) -> set[int]:
        ids = set(self.tokenizer.all_special_ids)
        for token_id, token in self.tokenizer.added_tokens_decoder.items():
            if getattr(token, "special", False):
                ids.add(token_id)
        return ids

    # ---- Completion
    def _encode_completion(self, prompt: str, completion: str, kind: str) -> EncodedExample:
        text = prompt + completion
        encoding = self.tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        ids: list[int] = list(encoding["input_ids"])
        offsets: list[tuple[int, int]] = [tuple(o) for o in encoding["offset_mapping"]]
        special = self._special_ids()
        # Special tokens the tokenizer adds (BOS) have empty offsets: shown by name.
        added = [
            token_id in special and start == stop
            for token_id, (start, stop) in zip(ids, offsets, strict=True)
        ]
        trained = _overlapping(offsets, [(len(prompt), len(text))] if completion else [])
        eos = self.tokenizer.eos_token_id
        if eos is None:
            raise ValueError(
                "The tokenizer has no end-of-sequence token, so the model could not learn "
                "where a completion ends."
            )
        if ids and ids[-1] == eos:
            trained[-1] = True
        else:
            ids.append(eos)
            offsets.append((len(text), len(text)))
            trained.append(True)
            added.append(True)
        pieces = _pieces(text, offsets)
        names = self.tokenizer.convert_ids_to_tokens(ids)
        pieces = [names[i] if added[i] else piece for i, piece in enumerate(pieces)]
        return EncodedExample(
            text="".join(pieces), ids=ids, trained=trained, pieces=pieces, kind=kind
        )


# ---------------------------------------------------------------- preview


def preview_example(
    tokenizer: PreTrainedTokenizerBase | ChatTemplateTokenizer,
    data: dict[str, Any],
    max_length: int | None,
) -> dict[str, Any]:
    """What the model learns from one example, ready to show or print as JSON.

    Args:
        tokenizer: a tokenizer with a chat template, or a :class:`ChatTemplateTokenizer`
            (reuse one while the user types: it remembers the end-of-turn text).
        data: the record's data (chat, completion or preference).
        max_length: the training max length in tokens, or None for no limit.

    Returns:
        ``{"text", "tokens": [{"token", "id", "trained"}], "count", "trained_count",
        "max_length", "truncated", "truncated_trained", "kind", "notes"}``, where
        ``text`` is the exact training text, the ``token`` pieces join back to it,
        ``truncated`` counts the tokens beyond ``max_length`` and
        ``truncated_trained`` the trained ones among them.

    Raises:
        ValueError: as :meth:`ChatTemplateTokenizer.tokenize_example`.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"The max length must be at least 1 token, not {max_length}.")
    encoder = (
        tokenizer
        if isinstance(tokenizer, ChatTemplateTokenizer)
        else ChatTemplateTokenizer(tokenizer)
    )
    example = encoder.encode(data)
    count = len(example.ids)
    cut = count if max_length is None else min(count, max_length)
    return {
        "text": example.text,
        "tokens": [
            {"token": piece, "id": token_id, "trained": flag}
            for piece, token_id, flag in zip(
                example.pieces, example.ids, example.trained, strict=True
            )
        ],
        "count": count,
        "trained_count": sum(example.trained),
        "max_length": max_length,
        "truncated": count - cut,
        "truncated_trained": sum(example.trained[cut:]),
        "kind": example.kind,
        "notes": list(example.notes),
    }


def training_labels(example: TokenizedExample, ignore_index: int = IGNORE_INDEX) -> list[int]:
    """Labels for causal-LM training: the token id where trained, ``ignore_index`` elsewhere."""
    return [
        token_id if flag else ignore_index
        for token_id, flag in zip(example.ids, example.trained, strict=True)
    ]


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _TemplateShape:
    """What a template writes around an answer.

    Attributes:
        answer_prefix: whitespace between the generation prompt and the answer
            (Mistral's space after ``[/INST]``).
        end_of_turn: the text that closes an answer ("" when nothing does; None
            when the probe failed and the first special token is used instead).
    """

    answer_prefix: str
    end_of_turn: str | None


@dataclass(frozen=True)
class _Turn:
    role: str
    content: str
    trained: bool


def _turns(messages: Any, where: str, *, trained: bool) -> list[_Turn]:
    """Validated turns of a message list; ``trained`` marks assistant turns of this part."""
    if not isinstance(messages, list):
        raise ValueError(f'"{where}" must be a list of messages, not {_type_name(messages)}.')
    turns = []
    for index, message in enumerate(messages):
        path = f"{where}[{index}]"
        if not isinstance(message, dict):
            raise ValueError(f"{path} must be an object, not {_type_name(message)}.")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str):
            raise ValueError(f'{path} has no "role" text.')
        if not isinstance(content, str):
            raise ValueError(
                f"{path}.content must be text, not {_type_name(content)}. Turn it into text."
            )
        on = trained and role == "assistant" and message.get("weight", 1) != 0
        turns.append(_Turn(role, content, on))
    return turns


def _fold_system(turns: list[_Turn]) -> list[_Turn] | None:
    """The turns with a leading system prompt moved into the first user message, if possible."""
    if len(turns) < 2 or turns[0].role != "system" or turns[1].role != "user":
        return None
    system, user = turns[0], turns[1]
    merged = _Turn("user", system.content + SYSTEM_FOLD_SEPARATOR + user.content, False)
    return [merged, *turns[2:]]


def _spans_by_search(wanted: list[int], turns: list[_Turn], text: str) -> list[tuple[int, int]]:
    """Answer spans found by searching every message's content in order (the fallback)."""
    wanted_set = set(wanted)
    spans = []
    cursor = 0
    for index, turn in enumerate(turns):
        needle = turn.content.strip()
        found = text.find(needle, cursor) if needle else -1
        if index in wanted_set:
            if needle and found < 0:
                raise ValueError(
                    f"The answer in message {index + 1} is not in the text the chat template "
                    "writes (the template changes it), so ftstudio cannot tell which tokens "
                    "the model learns. Choose another template."
                )
            if not needle:
                found = cursor
            spans.append((found, found + len(needle)))
        if found >= 0:
            cursor = found + len(needle)
    return spans


def _overlapping(offsets: Sequence[tuple[int, int]], spans: list[tuple[int, int]]) -> list[bool]:
    """One flag per token: whether its characters overlap any span."""
    flags = [False] * len(offsets)
    if not spans:
        return flags
    ends = [stop for _start, stop in offsets]
    for span_start, span_end in spans:
        if span_end <= span_start:
            continue
        index = bisect_right(ends, span_start)
        while index < len(offsets) and offsets[index][0] < span_end:
            start, stop = offsets[index]
            if stop > span_start and stop > start:
                flags[index] = True
            index += 1
    return flags


def _pieces(text: str, offsets: Sequence[tuple[int, int]]) -> list[str]:
    """One piece of ``text`` per token; gaps go to the next token, the rest to the last."""
    pieces = []
    position = 0
    for _start, stop in offsets:
        if stop > position:
            pieces.append(text[position:stop])
            position = stop
        else:
            pieces.append("")
    if pieces and position < len(text):
        pieces[-1] += text[position:]
    return pieces


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__
