"""The Ollama export: the GGUF file and a ``Modelfile`` with the chat template and stop tokens.

``ollama create NAME -f Modelfile`` in the export folder makes the model. The
Modelfile's ``TEMPLATE`` is the chat template translated into Ollama's Go
template syntax (:mod:`ftstudio.engine.export.template`) and checked against the
Jinja template; each token that ends a turn becomes a ``PARAMETER stop``, so the
model stops where it was trained to. A template that could not be translated
exactly is still written, with a comment saying so, and the parity check fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ftstudio
from ftstudio.core.atomic import atomic_write_text
from ftstudio.engine.chat_mask import SYSTEM_FOLD_SEPARATOR
from ftstudio.engine.export.source import RunSource
from ftstudio.engine.export.template import (
    MISTRAL_TEMPLATE,
    TemplateShape,
    family,
    ollama_template,
    stop_strings,
)

MODELFILE = "Modelfile"
DEFAULT_SAMPLING = {"temperature": 0.7, "top_p": 0.9}
MAX_CONTEXT = 4096
"""``num_ctx`` is the model's context length, at most this (Ollama reserves memory for it)."""


@dataclass(frozen=True)
class ModelfileInfo:
    """What :func:`write_modelfile` wrote.

    Attributes:
        path: the Modelfile.
        template: the ``TEMPLATE`` text.
        stops: the ``PARAMETER stop`` values.
        translated: how the template was made: ``checked`` (translated and checked
            against the chat template), ``family`` (a known family's template, checked),
            or ``unchecked`` (it could not be checked; the comment says why).
        problem: why the template could not be checked (``""`` otherwise).
    """

    path: Path
    template: str
    stops: list[str]
    translated: str
    problem: str = ""


def write_modelfile(
    folder: Path, gguf_file: Path, tokenizer: Any, shape: TemplateShape, source: RunSource
) -> ModelfileInfo:
    """Write ``<folder>/Modelfile`` for ``gguf_file`` (see the module docstring)."""
    from ftstudio.engine.gguf_export import read_gguf_summary

    metadata = read_gguf_summary(gguf_file).metadata
    add_bos = bool(metadata.get("tokenizer.ggml.add_bos_token", False))
    template, translated, problem = choose_template(tokenizer, shape, with_bos=not add_bos)
    stops = stop_strings(shape, tokenizer)
    lines = [
        f"# Ollama Modelfile written by ftstudio {ftstudio.__version__} for run {source.name}",
        f"# (base model {source.base_ref or source.base_model}).",
        "# Create the model in this folder with:  "
        f"ollama create {_model_name(source)} -f Modelfile",
    ]
    if translated == "checked":
        lines.append(
            "# TEMPLATE: the model's chat template translated to Ollama's syntax; it writes "
            "the same prompts as training did."
        )
    elif translated == "family":
        lines.append(
            f"# TEMPLATE: Ollama's usual {family(tokenizer.chat_template or '')} template; it "
            "writes the same prompts as training did."
        )
    else:
        lines.append(
            "# WARNING: the chat template could not be translated exactly to Ollama's syntax, "
            "so prompts may differ from training:"
        )
        lines += [f"#   {line}" for line in _wrap(problem)]
    lines += ["", f"FROM ./{Path(gguf_file).name}", "", f'TEMPLATE """{template}"""', ""]
    lines += [f"PARAMETER stop {_quoted(stop)}" for stop in stops]
    for key, value in _sampling(source).items():
        lines.append(f"PARAMETER {key} {value}")
    context = int(metadata.get(f"{metadata.get('general.architecture')}.context_length") or 0)
    if context:
        lines.append(f"PARAMETER num_ctx {min(context, MAX_CONTEXT)}")
    path = Path(folder) / MODELFILE
    atomic_write_text(path, "\n".join(lines) + "\n")
    return ModelfileInfo(path, template, stops, translated, problem)


def choose_template(
    tokenizer: Any, shape: TemplateShape, *, with_bos: bool
) -> tuple[str, str, str]:
    """``(Go template, how it was made, problem)``; see :class:`ModelfileInfo`."""
    if shape.verified:
        return ollama_template(shape, with_bos=with_bos), "checked", ""
    chat_template = getattr(tokenizer, "chat_template", None) or ""
    if family(chat_template) == "mistral" and _mistral_matches(tokenizer, shape):
        bos = f"{{{{ {json.dumps(shape.bos)} }}}}" if with_bos and shape.bos else ""
        return bos + MISTRAL_TEMPLATE, "family", ""
    problem = shape.problem or "The chat template could not be analysed."
    if shape.user_prefix or shape.generation_prompt:
        return ollama_template(shape, with_bos=with_bos), "unchecked", problem
    return "{{ .Prompt }}", "unchecked", problem


def parse_modelfile(path: Path) -> dict[str, Any]:
    """The ``FROM``, ``TEMPLATE`` and ``PARAMETER`` values of a Modelfile ftstudio wrote."""
    text = Path(path).read_text(encoding="utf-8")
    result: dict[str, Any] = {"from": "", "template": "", "parameters": {}}
    start = text.find('TEMPLATE """')
    if start >= 0:
        end = text.find('"""', start + len('TEMPLATE """'))
        result["template"] = text[start + len('TEMPLATE """') : end]
    for line in text.splitlines():
        if line.startswith("FROM "):
            result["from"] = line[5:].strip()
        elif line.startswith("PARAMETER "):
            _, key, value = line.split(" ", 2)
            if value.startswith('"'):
                value = json.loads(value)
            result["parameters"].setdefault(key, []).append(value)
    return result


def render_mistral(messages: list[dict[str, str]], bos: str) -> str:
    """The prompt :data:`MISTRAL_TEMPLATE` writes (system prompt in the last user message)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    out = [bos]
    for index, message in enumerate(turns):
        last = index == len(turns) - 1
        if message["role"] == "user":
            extra = system + SYSTEM_FOLD_SEPARATOR if system and last else ""
            out.append(f"[INST] {extra}{message['content']}[/INST]")
        elif message["role"] == "assistant":
            out.append(f" {message['content']}" + ("</s>" if not last else ""))
    return "".join(out)


def _mistral_matches(tokenizer: Any, shape: TemplateShape) -> bool:
    samples = [
        [{"role": "user", "content": "Hi"}],
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ],
    ]
    for messages in samples:
        try:
            expected = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except Exception:
            return False
        if render_mistral(messages, shape.bos) != expected:
            return False
    return True


def _sampling(source: RunSource) -> dict[str, Any]:
    """The base model's own sampling defaults when it has them, else ftstudio's."""
    values = dict(DEFAULT_SAMPLING)
    try:
        folder = source.weights_dir if source.is_full else source.base_path()
        config = json.loads((folder / "generation_config.json").read_text("utf-8"))
    except (OSError, ValueError, Exception):  # a missing base is reported elsewhere
        return values
    if config.get("do_sample"):
        for key in ("temperature", "top_p", "top_k"):
            if isinstance(config.get(key), int | float):
                values[key] = config[key]
    return values


def _model_name(source: RunSource) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in source.name.lower())
    return name.strip("-.") or "ftstudio-model"


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _wrap(text: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines
