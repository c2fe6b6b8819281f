"""How a chat template writes each turn, learnt by rendering it, for Ollama and stop tokens.

A Jinja chat template is rendered with placeholder messages; the text around each
placeholder gives the pieces every turn is made of (the "shape"): what opens and
closes a system, user and assistant turn, the generation prompt, the BOS text and
any default system block the template writes when there is no system message
(Qwen 2.5, Llama 3.1). The shape is then checked: re-assembled by the same rule
the Ollama template follows, it must give the Jinja template's exact text on
several conversations. Templates that do something the rule cannot express
(Mistral folds the system prompt into the last user message) are marked
unverified, with the reason; a known family's hand-written Ollama template is
used for those when there is one.

The assistant turn's closing text also tells which tokens end a turn
(``<|eot_id|>``, ``<|im_end|>``, ``</s>``, ``<|end|>``): the export's stop tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ftstudio.engine.chat_mask import SYSTEM_FOLD_SEPARATOR

_SYSTEM = "ftsSystemText1"
_USER1, _USER2, _USER3 = "ftsUserText1", "ftsUserText2", "ftsUserText3"
_ANSWER1, _ANSWER2 = "ftsAnswerText1", "ftsAnswerText2"


@dataclass(frozen=True)
class TemplateShape:
    """The pieces a chat template writes around each turn.

    Attributes:
        bos: the BOS text the template writes first (``""`` when it writes none).
        default_system: what it writes where a system turn would go when there is
            no system message (``""`` for most templates).
        system_prefix: text before the system prompt.
        system_suffix: text after it.
        user_prefix: text before each user message.
        user_suffix: text after each user message.
        assistant_prefix: text before an earlier assistant answer.
        assistant_suffix: text after an answer (the end of the turn).
        generation_prompt: what opens the answer the model writes.
        supports_system: whether the template has a system turn of its own.
        verified: whether the shape re-assembles the template's exact text.
        problem: why it does not, in plain words (``""`` when verified).
    """

    bos: str = ""
    default_system: str = ""
    system_prefix: str = ""
    system_suffix: str = ""
    user_prefix: str = ""
    user_suffix: str = ""
    assistant_prefix: str = ""
    assistant_suffix: str = ""
    generation_prompt: str = ""
    supports_system: bool = True
    verified: bool = False
    problem: str = ""

    def render(self, messages: list[dict[str, str]], *, with_bos: bool = True) -> str:
        """The prompt the Ollama template (:func:`ollama_template`) writes for ``messages``.

        ``messages`` ends with a user turn (the model answers next). System messages
        are joined into one system prompt, as Ollama does; a template without a
        system turn gets it at the start of the first user message, as training did.
        """
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m for m in messages if m["role"] != "system"]
        out = [self.bos if with_bos else ""]
        if system and self.supports_system:
            out += [self.system_prefix, system, self.system_suffix]
        else:
            out.append(self.default_system)
        fold = "" if self.supports_system else system
        for index, message in enumerate(turns):
            last = index == len(turns) - 1
            if message["role"] == "user":
                out.append(self.user_prefix)
                if fold:
                    out += [fold, SYSTEM_FOLD_SEPARATOR]
                    fold = ""
                out += [message["content"], self.user_suffix]
                if last:
                    out.append(self.generation_prompt)
            elif message["role"] == "assistant":
                out += [self.assistant_prefix, message["content"]]
                if not last:
                    out.append(self.assistant_suffix)
        return "".join(out)


def analyse_template(tokenizer: Any) -> TemplateShape:
    """The :class:`TemplateShape` of ``tokenizer``'s chat template (see the module docstring)."""
    if not getattr(tokenizer, "chat_template", None):
        return TemplateShape(problem="The tokenizer has no chat template.")

    def render(messages: list[dict[str, str]], generation: bool = False) -> str:
        text = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation
        )
        if not isinstance(text, str):
            raise ValueError("the chat template did not produce text")
        return text

    specials = [str(t) for t in getattr(tokenizer, "all_special_tokens", [])]
    specials += _added_special(tokenizer)
    try:
        shape = _derive(render, str(getattr(tokenizer, "bos_token", None) or ""), specials)
    except Exception as error:  # a template may raise anything on the probes
        return TemplateShape(problem=f"The chat template could not be analysed: {error}")
    try:
        problem = _verify(shape, render)
    except Exception as error:
        problem = f"The chat template rejected a test conversation: {error}"
    return _replace(shape, verified=not problem, problem=problem)


def stop_strings(shape: TemplateShape, tokenizer: Any) -> list[str]:
    """The tokens that end a turn: the special tokens closing an answer, and EOS.

    When the answer's closing text holds no special token (a plain-text template),
    that text itself is the stop string.
    """
    special = sorted(
        {str(t) for t in getattr(tokenizer, "all_special_tokens", [])}
        | {str(t) for t in _added_special(tokenizer)},
        key=len,
        reverse=True,
    )
    found: list[str] = []
    suffix = shape.assistant_suffix
    for token in special:
        if token and token in suffix and token not in found:
            found.append(token)
    found.sort(key=suffix.find)
    if not found and suffix.strip():
        found.append(suffix.strip())
    eos = getattr(tokenizer, "eos_token", None)
    if eos and str(eos) not in found:
        found.append(str(eos))
    return found


def stop_token_ids(shape: TemplateShape, tokenizer: Any, extra: Any = None) -> list[int]:
    """Ids of :func:`stop_strings` that are single tokens, plus ``extra`` ids (EOS of configs)."""
    ids: list[int] = []
    vocab = tokenizer.get_vocab()
    for text in stop_strings(shape, tokenizer):
        token_id = vocab.get(text)
        if token_id is not None and token_id not in ids:
            ids.append(int(token_id))
    if extra is not None:
        for token_id in extra if isinstance(extra, list | tuple) else [extra]:
            if isinstance(token_id, int) and token_id not in ids:
                ids.append(token_id)
    return ids


def ollama_template(shape: TemplateShape, *, with_bos: bool) -> str:
    """An Ollama (Go text/template) ``TEMPLATE`` that writes what :meth:`TemplateShape.render` does.

    Every piece of fixed text is a Go string constant (``{{ "<|im_end|>\\n" }}``), so
    the layout's own line breaks can be trimmed without touching the template's.
    Leave out the BOS text (``with_bos=False``) when the GGUF file tells llama.cpp to
    add BOS itself.
    """
    q = _go
    lines = [q(shape.bos) if with_bos and shape.bos else ""]
    if shape.supports_system:
        lines += [
            f"{{{{- if .System }}}}{q(shape.system_prefix)}{{{{ .System }}}}"
            f"{q(shape.system_suffix)}",
            f"{{{{- else }}}}{q(shape.default_system)}{{{{ end }}}}",
        ]
        fold = ""
    else:
        lines.append(f"{{{{- $system := .System }}}}{q(shape.default_system)}")
        fold = (
            f"{{{{- if $system }}}}{{{{ $system }}}}{q(SYSTEM_FOLD_SEPARATOR)}"
            '{{- $system = "" }}{{ end }}'
        )
    lines += [
        "{{- range $i, $_ := .Messages }}",
        "{{- $last := eq (len (slice $.Messages $i)) 1 }}",
        f'{{{{- if eq .Role "user" }}}}{q(shape.user_prefix)}{fold}{{{{ .Content }}}}'
        f"{q(shape.user_suffix)}",
        f"{{{{- if $last }}}}{q(shape.generation_prompt)}{{{{ end }}}}",
        f'{{{{- else if eq .Role "assistant" }}}}{q(shape.assistant_prefix)}{{{{ .Content }}}}',
        f"{{{{- if not $last }}}}{q(shape.assistant_suffix)}{{{{ end }}}}",
        "{{- end }}",
        "{{- end }}",
    ]
    return "\n".join(line for line in lines if line)


def family(chat_template: str) -> str:
    """The template's family from its markers: ``llama3``, ``chatml``, ``mistral`` or ``""``."""
    if "<|start_header_id|>" in chat_template:
        return "llama3"
    if "<|im_start|>" in chat_template:
        return "chatml"
    if "[INST]" in chat_template:
        return "mistral"
    return ""


MISTRAL_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    '{{- if eq .Role "user" }}{{ "[INST] " }}'
    '{{- if and $.System $last }}{{ $.System }}{{ "\\n\\n" }}{{ end }}'
    '{{ .Content }}{{ "[/INST]" }}\n'
    '{{- else if eq .Role "assistant" }}{{ " " }}{{ .Content }}'
    '{{- if not $last }}{{ "</s>" }}{{ end }}\n'
    "{{- end }}\n"
    "{{- end }}"
)
"""Ollama's usual Mistral template: the system prompt goes into the last user message."""


# ---------------------------------------------------------------- internals


def _derive(render: Any, bos_token: str, specials: list[str]) -> TemplateShape:
    one = render([_user(_USER1)])
    one_open = render([_user(_USER1)], True)
    head, closed_tail = _split(one, _USER1)
    head_open, open_tail = _split(one_open, _USER1)
    if head != head_open:
        raise ValueError("the generation prompt changes the start of the conversation")
    # Some templates end a finished conversation with EOS (Phi-3): the user turn's
    # closing text is what both endings share, cut at a whole special token.
    user_suffix = closed_tail[: _common_prefix(closed_tail, open_tail, specials)]
    generation = open_tail[len(user_suffix) :]

    answered = render([_user(_USER1), _assistant(_ANSWER1)])
    _, final_suffix = _split(answered, _ANSWER1)
    two = render([_user(_USER1), _assistant(_ANSWER1), _user(_USER2)])
    between_ua = _between(two, _USER1, _ANSWER1)
    between_au = _between(two, _ANSWER1, _USER2)
    if not between_ua.startswith(user_suffix):
        raise ValueError("a user turn ends differently when an answer follows")
    assistant_prefix = between_ua[len(user_suffix) :]
    # The answer's closing text is the longest start of the text between an answer
    # and the next user message that a conversation ending on the answer shares.
    size = _common_prefix(between_au, final_suffix, specials)
    assistant_suffix, user_prefix = between_au[:size], between_au[size:]
    bos = bos_token if bos_token and head.startswith(bos_token) else ""
    if not head.endswith(user_prefix):
        raise ValueError("the first user turn opens differently from later ones")
    default_system = head[len(bos) : len(head) - len(user_prefix)]

    system_prefix = system_suffix = ""
    supports = True
    try:
        with_system = render([{"role": "system", "content": _SYSTEM}, _user(_USER1)])
        before, after = _split(with_system, _SYSTEM)
        middle, _ = _split(after, _USER1)
        if not before.startswith(bos) or not middle.endswith(user_prefix):
            supports = False
        else:
            system_prefix = before[len(bos) :]
            system_suffix = middle[: len(middle) - len(user_prefix)]
    except Exception:  # templates without a system role raise
        supports = False
    return TemplateShape(
        bos=bos,
        default_system=default_system,
        system_prefix=system_prefix,
        system_suffix=system_suffix,
        user_prefix=user_prefix,
        user_suffix=user_suffix,
        assistant_prefix=assistant_prefix,
        assistant_suffix=assistant_suffix,
        generation_prompt=generation,
        supports_system=supports,
    )


def _verify(shape: TemplateShape, render: Any) -> str:
    system = {"role": "system", "content": _SYSTEM}
    one = [_user(_USER1)]
    two = [_user(_USER1), _assistant(_ANSWER1), _user(_USER2)]
    three = [*two, _assistant(_ANSWER2), _user(_USER3)]
    for messages in (one, two, three, [system, *one], [system, *two], [system, *three]):
        try:
            expected = render(messages, True)
        except Exception:  # no system role: training put it into the first user message
            folded = _fold(messages)
            if folded is None:
                raise
            expected = render(folded, True)
        got = shape.render(messages)
        if got != expected:
            roles = "/".join(m["role"] for m in messages)
            return (
                f"Re-assembled, a {roles} conversation differs from the chat template's text: "
                f"expected {expected!r}, got {got!r}."
            )
    return ""


def _fold(messages: list[dict[str, str]]) -> list[dict[str, str]] | None:
    system = [m for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if not system or not rest or rest[0]["role"] != "user":
        return None
    joined = "\n\n".join(m["content"] for m in system)
    rest[0]["content"] = joined + SYSTEM_FOLD_SEPARATOR + rest[0]["content"]
    return rest


def _split(text: str, marker: str) -> tuple[str, str]:
    index = text.find(marker)
    if index < 0:
        raise ValueError(f"the template dropped or changed a message ({marker})")
    return text[:index], text[index + len(marker) :]


def _between(text: str, first: str, second: str) -> str:
    _, rest = _split(text, first)
    middle, _ = _split(rest, second)
    return middle


def _common_prefix(a: str, b: str, specials: list[str]) -> int:
    """Length of the text ``a`` and ``b`` start with, never ending inside a special token."""
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    for token in specials:
        for k in range(min(len(token) - 1, size), 0, -1):
            start = size - k
            if a[start:size] == token[:k] and (
                a.startswith(token, start) or b.startswith(token, start)
            ):
                return start
    return size


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _added_special(tokenizer: Any) -> list[str]:
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return [str(token) for token in decoder.values() if getattr(token, "special", False)]


def _go(text: str) -> str:
    """``text`` as a Go template action printing it (empty text prints nothing)."""
    if not text:
        return ""
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def _replace(shape: TemplateShape, **changes: Any) -> TemplateShape:
    from dataclasses import replace

    return replace(shape, **changes)
