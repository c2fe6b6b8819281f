"""The parity check run after every export: does the export behave like the trained model?

The reference is what was trained: the base model with the run's adapter, unmerged,
in fp32 (for a full fine-tuning run, its model folder in fp32). A few validation
examples (training ones when the run kept none back) go through the reference and
through the export, loaded the way users will load it:

==========  ==============================================================  =========
format      loaded as                                                       tolerance
==========  ==============================================================  =========
adapter     the base (fp32) + the exported adapter with peft                1e-4
merged      ``AutoModelForCausalLM.from_pretrained(folder)`` in fp32        fp32: 1e-3;
                                                                            bf16/fp16:
                                                                            see below
gguf        ``from_pretrained(folder, gguf_file=...)`` (dequantised, fp32)  F16: 2 %,
ollama      the same GGUF file                                              Q8_0: 5 %
                                                                            of the logit
                                                                            range
==========  ==============================================================  =========

For each prompt the logits of every position of the whole example (prompt and
answer, up to :data:`MAX_TOKENS` tokens) are compared (max absolute difference),
the most likely next token is compared at every position (top-1 agreement), and
each model generates :attr:`ExportConfig.parity_tokens` tokens greedily from the
prompt: they must be the same tokens (F16, fp32 and adapters), or the same first
:data:`GGUF_Q8_GREEDY` tokens (Q8_0).

A GGUF file is also compared with the merged model it was made from, with that
model's weights rounded in memory exactly as the file stores them (F16, or Q8_0
quantised and dequantised): the ``conversion`` check allows float noise only
(:data:`CONVERSION_TOLERANCE`), so a tensor renamed, permuted or described wrongly
fails it even when the quantisation tolerance above would hide it.

A 16-bit merge cannot match fp32 to 1e-3: storing the base model's weights in
bf16/fp16 already moves the logits. So the check measures that floor: the
reference's base weights are rounded to the number type (the adapter kept in
fp32) and its logits compared with the fp32 reference. The merged model may
differ from the fp32 reference by at most 1e-3 + 2 × that floor: merging must
add no more than the number type itself does. Greedy tokens must equal the fp32
reference's, or the rounded reference's (then the number type, not the merge,
changed a near tie, and a note says so).

The files are checked too: the chat template is the one that trained; EOS is the
trained EOS and the generation config (merged) or GGUF metadata stops on every
end-of-turn token; the GGUF file reads back with ``gguf.GGUFReader`` with the
expected tensors, types and tokenizer metadata, and its tokenizer encodes the
prompts to the same ids; the Ollama Modelfile has its template and a stop
parameter per stop token; no pickled files are exported.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ftstudio.core.export_config import ExportConfig
from ftstudio.core.parity import ParityCheck, ParityReport, ParitySample
from ftstudio.core.runs import utc_now
from ftstudio.engine.export.source import RunSource

MAX_TOKENS = 128
"""Tokens per example compared position by position."""
MAX_PROMPT_TOKENS = 512
"""Prompts longer than this keep their last tokens for the greedy generation."""
ADAPTER_TOLERANCE = 1e-4
FP32_TOLERANCE = 1e-3
FLOOR_FACTOR = 2.0
CONVERSION_TOLERANCE = 1e-4
"""A GGUF against the merged model rounded exactly as the file stores it: float noise only."""
GGUF_RELATIVE_TOLERANCE = {"f16": 0.02, "q8_0": 0.05}
"""A GGUF's max logit difference, as a share of the reference logits' range."""
GGUF_TOP1 = {"f16": 0.95, "q8_0": 0.9}
"""The least top-1 agreement a GGUF needs."""
GGUF_Q8_GREEDY = 4
"""Q8_0: the first greedy tokens that must be equal (later ones may drift on near ties)."""
PICKLES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


@dataclass
class Prompt:
    """One parity example: the whole text's ids (logits) and the prompt's ids (generation)."""

    text: str
    full_ids: list[int]
    prompt_ids: list[int]


@dataclass
class _Outputs:
    logits: list[torch.Tensor]
    greedy: list[list[int]]


def check_parity(
    source: RunSource,
    folder: Path,
    config: ExportConfig,
    *,
    tokenizer: Any = None,
    device: str | None = None,
    merged_dir: Path | None = None,
) -> ParityReport:
    """Compare the export in ``folder`` with the trained model (see the module docstring).

    Args:
        source: the run.
        folder: the export folder.
        config: the export's settings.
        tokenizer: the trained tokenizer (loaded from the run when not given).
        device: where the models run (default: ``cuda`` when available).
        merged_dir: for GGUF exports, the merged folder the file was made from: the
            ``conversion`` check compares the GGUF with it, rounded as the file stores it.
    """
    from ftstudio.engine.chat_mask import load_tokenizer
    from ftstudio.engine.export.template import analyse_template, stop_strings, stop_token_ids

    folder = Path(folder)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if tokenizer is None:
        tokenizer = load_tokenizer(source.tokenizer_dir, require_chat_template=False)
    shape = analyse_template(tokenizer)
    stops = stop_strings(shape, tokenizer)
    stop_ids = stop_token_ids(shape, tokenizer)
    prompts = parity_prompts(source, tokenizer, config.parity_prompts)
    checks: list[ParityCheck] = []
    notes: list[str] = []
    if source.is_full and config.format != "adapter":
        notes.append(
            "A full fine-tuning run's model folder is exported as it was saved; the merge "
            "precision does not apply."
        )
    if source.config.method == "qlora":
        notes.append(
            "The run trained on a 4-bit base; the reference is the base in fp32 with the "
            "adapter, which is what the export is built from."
        )

    # ---- The reference (and, for 16-bit merges, its number-type floor)
    reference_model = _load_reference(source, device)
    reference = _run(reference_model, prompts, config.parity_tokens, device)
    rounded: _Outputs | None = None
    dtype = config.dtype if config.format != "adapter" else ""
    if config.format == "merged" and config.dtype != "fp32" and not source.is_full:
        _round_base_weights(reference_model, config.dtype)
        rounded = _run(reference_model, prompts, config.parity_tokens, device)
    del reference_model
    _free()

    # ---- The export
    gguf_file = next(iter(sorted(folder.glob("*.gguf"))), None)
    try:
        exported_model = _load_export(source, folder, config, gguf_file, device)
        exported = _run(exported_model, prompts, config.parity_tokens, device)
    except Exception as error:  # the export does not load or run: the check fails
        message = str(error).strip() or type(error).__name__
        return ParityReport(
            format=config.format,
            path=str(folder),
            created=utc_now(),
            passed=False,
            reference=_reference_words(source),
            checks=[ParityCheck("load", False, f"the export does not load or run: {message}")],
            dtype=dtype,
            quant=config.quant if config.format in ("gguf", "ollama") else "",
            notes=notes,
        )
    del exported_model
    _free()
    conversion: float | None = None
    if merged_dir is not None and gguf_file is not None:
        conversion = _conversion_diff(merged_dir, config.quant, prompts, exported, device)

    # ---- Numbers
    diff = max(
        (_max_diff(a, b) for a, b in zip(reference.logits, exported.logits, strict=True)),
        default=0.0,
    )
    spread = max((float(t.max() - t.min()) for t in reference.logits), default=0.0)
    agreement = _top1(reference.logits, exported.logits)
    if config.format == "adapter":
        tolerance = ADAPTER_TOLERANCE
        rule = "the same adapter must give the same logits"
    elif config.format == "merged" and rounded is not None:
        floor = max(_max_diff(a, b) for a, b in zip(reference.logits, rounded.logits, strict=True))
        tolerance = FP32_TOLERANCE + FLOOR_FACTOR * floor
        rule = (
            f"1e-3 + {FLOOR_FACTOR:g} × {floor:.2e}, the difference that storing the base "
            f"model in {config.dtype} alone makes"
        )
    elif config.format == "merged":
        tolerance = FP32_TOLERANCE
        rule = "an fp32 merge must match to 1e-3"
    else:
        share = GGUF_RELATIVE_TOLERANCE[config.quant]
        tolerance = share * max(spread, 1.0)
        rule = (
            f"{share:.0%} of the reference logits' range ({spread:.3g}) for {config.quant.upper()}"
        )
    checks.append(
        ParityCheck(
            "logits",
            diff <= tolerance,
            f"max |logit difference| {diff:.3g} over {sum(len(p.full_ids) for p in prompts)} "
            f"positions of {len(prompts)} examples; limit {tolerance:.3g} ({rule}).",
            diff,
            tolerance,
        )
    )
    if conversion is not None:
        checks.append(
            ParityCheck(
                "conversion",
                conversion <= CONVERSION_TOLERANCE,
                f"the GGUF read back through transformers differs from the merged model, "
                f"rounded to {config.quant.upper()} as the file stores it, by {conversion:.3g} "
                f"at most (limit {CONVERSION_TOLERANCE:g}: float noise only, so every tensor "
                "is named, laid out and described correctly).",
                conversion,
                CONVERSION_TOLERANCE,
            )
        )
    if config.format in ("gguf", "ollama"):
        need = GGUF_TOP1[config.quant]
        checks.append(
            ParityCheck(
                "top1",
                agreement >= need,
                f"the most likely next token agrees at {agreement:.1%} of the positions "
                f"(at least {need:.0%} needed).",
                agreement,
                need,
            )
        )
    greedy_equal, greedy_check = _greedy_check(reference, exported, rounded, config, notes)
    checks.append(greedy_check)

    # ---- Files
    checks += _file_checks(
        source, folder, config, tokenizer, shape, stops, stop_ids, gguf_file, prompts
    )
    samples = [
        ParitySample(
            prompt=_short(p.text),
            reference=_decode(tokenizer, r, stop_ids),
            exported=_decode(tokenizer, e, stop_ids),
            max_abs_logit_diff=_max_diff(rl, el),
            greedy_equal=r == e,
        )
        for p, r, e, rl, el in zip(
            prompts,
            reference.greedy,
            exported.greedy,
            reference.logits,
            exported.logits,
            strict=True,
        )
    ]
    return ParityReport(
        format=config.format,
        path=str(folder),
        created=utc_now(),
        passed=all(c.passed for c in checks),
        reference=_reference_words(source),
        prompts=len(prompts),
        max_abs_logit_diff=diff,
        tolerance=tolerance,
        greedy_equal=greedy_equal,
        top1_agreement=agreement,
        logit_range=spread,
        stop_tokens=stops,
        checks=checks,
        samples=samples,
        dtype=dtype,
        quant=config.quant if config.format in ("gguf", "ollama") else "",
        notes=notes,
    )


def parity_prompts(source: RunSource, tokenizer: Any, count: int) -> list[Prompt]:
    """Up to ``count`` examples of the run's validation file (else its training file)."""
    prompts: list[Prompt] = []
    for path in (source.paths.val_file, source.paths.train_file):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if len(prompts) >= count:
                return prompts
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            prompt = _prompt(data, tokenizer)
            if prompt is not None:
                prompts.append(prompt)
        if prompts:
            return prompts
    text = "Hello! How can I help you today?"
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    return [Prompt(text, ids[:MAX_TOKENS], ids)]


# ---------------------------------------------------------------- models


def _load_reference(source: RunSource, device: str) -> Any:
    from ftstudio.engine.export.merge import load_trained

    return load_trained(source, "fp32", device)


def _load_export(
    source: RunSource, folder: Path, config: ExportConfig, gguf_file: Path | None, device: str
) -> Any:
    from ftstudio.engine.export.merge import load_model

    if config.format == "adapter":
        from peft import PeftModel

        base = load_model(source.base_path(), "fp32", device)
        return PeftModel.from_pretrained(base, folder, is_trainable=False).to(device).eval()
    if config.format == "merged":
        return load_model(folder, "fp32", device)
    if gguf_file is None:
        raise FileNotFoundError(f"{folder} holds no .gguf file")
    return load_model(folder, "fp32", device, gguf_file=gguf_file.name)


@torch.no_grad()
def _run(model: Any, prompts: list[Prompt], tokens: int, device: str) -> _Outputs:
    logits, greedy = [], []
    for prompt in prompts:
        ids = torch.tensor([prompt.full_ids], device=device)
        logits.append(model(input_ids=ids, use_cache=False).logits[0].float().cpu())
        greedy.append(_greedy(model, prompt.prompt_ids, tokens, device))
    return _Outputs(logits, greedy)


@torch.no_grad()
def _greedy(model: Any, ids: list[int], tokens: int, device: str) -> list[int]:
    """``tokens`` greedy tokens after ``ids`` (every one, stop tokens included)."""
    out = model(input_ids=torch.tensor([ids], device=device), use_cache=True)
    past = out.cache
    produced: list[int] = []
    next_id = int(out.logits[0, -1].argmax())
    for _ in range(tokens):
        produced.append(next_id)
        if len(produced) == tokens:
            break
        out = model(input_ids=torch.tensor([[next_id]], device=device), cache=past, use_cache=True)
        past = out.cache
        next_id = int(out.logits[0, -1].argmax())
    return produced


def _conversion_diff(
    merged_dir: Path, quant: str, prompts: list[Prompt], exported: _Outputs, device: str
) -> float:
    """Max logit difference between the GGUF and the merged model rounded like it."""
    from ftstudio.engine.export.merge import load_model
    from ftstudio.engine.gguf_export import round_like_gguf

    model = load_model(merged_dir, "fp32", device)
    round_like_gguf(model, quant)
    expected = _run(model, prompts, 1, device)
    del model
    _free()
    return max(
        (_max_diff(a, b) for a, b in zip(expected.logits, exported.logits, strict=True)),
        default=0.0,
    )


def _round_base_weights(model: Any, dtype: str) -> None:
    """Round the base model's weights (not the adapter's) to ``dtype``, in place."""
    from ftstudio.engine.export.merge import TORCH_DTYPES

    target = TORCH_DTYPES[dtype]
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_" in name:
                continue
            parameter.data = parameter.data.to(target).to(torch.float32)


def _free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- numbers


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float((a - b).abs().max())


def _top1(reference: list[torch.Tensor], exported: list[torch.Tensor]) -> float:
    same = total = 0
    for a, b in zip(reference, exported, strict=True):
        if a.shape != b.shape:
            total += a.shape[0]
            continue
        same += int((a.argmax(-1) == b.argmax(-1)).sum())
        total += a.shape[0]
    return same / total if total else 1.0


def _greedy_check(
    reference: _Outputs,
    exported: _Outputs,
    rounded: _Outputs | None,
    config: ExportConfig,
    notes: list[str],
) -> tuple[bool, ParityCheck]:
    count = config.parity_tokens
    if config.format in ("gguf", "ollama") and config.quant == "q8_0":
        count = min(count, GGUF_Q8_GREEDY)
    equal = [r[:count] == e[:count] for r, e in zip(reference.greedy, exported.greedy, strict=True)]
    if rounded is not None:
        for index, same in enumerate(equal):
            if not same and rounded.greedy[index][:count] == exported.greedy[index][:count]:
                equal[index] = True
                notes.append(
                    f"Example {index + 1}: the {config.dtype} merge generates what the base "
                    f"model rounded to {config.dtype} does, which differs from fp32 on a near "
                    "tie; the merge itself changed nothing."
                )
    passed = all(equal)
    scope = f"the first {count}" if count < config.parity_tokens else f"all {count}"
    message = (
        f"{scope} greedy tokens are the same for every example ({len(equal)})."
        if passed
        else f"{equal.count(False)} of {len(equal)} examples generate different greedy tokens "
        f"({scope} compared)."
    )
    strict_equal = all(r == e for r, e in zip(reference.greedy, exported.greedy, strict=True))
    return strict_equal, ParityCheck(
        "greedy", passed, message, float(sum(equal)), float(len(equal))
    )


# ---------------------------------------------------------------- files


def _file_checks(
    source: RunSource,
    folder: Path,
    config: ExportConfig,
    tokenizer: Any,
    shape: Any,
    stops: list[str],
    stop_ids: list[int],
    gguf_file: Path | None,
    prompts: list[Prompt],
) -> list[ParityCheck]:
    checks: list[ParityCheck] = []
    pickles = sorted(p.name for p in folder.rglob("*") if p.suffix in PICKLES)
    checks.append(
        ParityCheck(
            "no_pickles",
            not pickles,
            "no pickled files (safetensors only)."
            if not pickles
            else f"pickled files in the export: {', '.join(pickles)}.",
        )
    )
    template = getattr(tokenizer, "chat_template", None) or ""
    if config.format in ("adapter", "merged"):
        checks += _hf_folder_checks(source, folder, config, tokenizer, template, stop_ids)
    if gguf_file is not None:
        checks += _gguf_checks(folder, gguf_file, config, tokenizer, template, stop_ids, prompts)
    if config.format == "ollama":
        checks += _ollama_checks(folder, gguf_file, shape, stops, tokenizer)
    return checks


def _hf_folder_checks(
    source: RunSource,
    folder: Path,
    config: ExportConfig,
    tokenizer: Any,
    template: str,
    stop_ids: list[int],
) -> list[ParityCheck]:
    from ftstudio.engine.chat_mask import load_tokenizer

    checks = []
    try:
        exported = load_tokenizer(folder, require_chat_template=False)
    except (OSError, ValueError) as error:
        return [ParityCheck("tokenizer", False, f"the exported tokenizer does not load: {error}")]
    checks.append(_same_template(exported.chat_template or "", template, "the export's tokenizer"))
    checks.append(
        ParityCheck(
            "eos",
            exported.eos_token == tokenizer.eos_token,
            f"EOS is {exported.eos_token!r}"
            + (
                ""
                if exported.eos_token == tokenizer.eos_token
                else f", but training used {tokenizer.eos_token!r}"
            )
            + ".",
        )
    )
    if config.format == "adapter":
        data = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        named = str(data.get("base_model_name_or_path") or "")
        checks.append(
            ParityCheck(
                "base_model",
                bool(named) and named == source.base_ref,
                f"adapter_config.json names the base model {named!r}"
                + ("." if named == source.base_ref else f", not {source.base_ref!r}."),
            )
        )
        return checks
    path = folder / "generation_config.json"
    eos: Any = None
    if path.is_file():
        eos = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    missing = [i for i in stop_ids if i not in eos_ids]
    checks.append(
        ParityCheck(
            "stop_tokens",
            bool(eos_ids) and not missing,
            f"generation_config.json stops on {sorted(eos_ids)}"
            + (
                f"; missing {missing} ({_names(tokenizer, missing)})."
                if missing
                else f" ({_names(tokenizer, sorted(eos_ids))})."
            ),
        )
    )
    return checks


def _gguf_checks(
    folder: Path,
    gguf_file: Path,
    config: ExportConfig,
    tokenizer: Any,
    template: str,
    stop_ids: list[int],
    prompts: list[Prompt],
) -> list[ParityCheck]:
    from ftstudio.engine.gguf_export import QUANT_BLOCK, read_gguf_strings, read_gguf_summary

    checks = []
    summary = read_gguf_summary(gguf_file)
    meta = summary.metadata
    arch = summary.architecture
    expected_keys = [
        "general.architecture",
        "general.name",
        f"{arch}.context_length",
        f"{arch}.embedding_length",
        f"{arch}.block_count",
        f"{arch}.feed_forward_length",
        f"{arch}.attention.head_count",
        f"{arch}.attention.head_count_kv",
        f"{arch}.rope.freq_base",
        f"{arch}.attention.layer_norm_rms_epsilon",
        "tokenizer.ggml.model",
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type",
        "tokenizer.ggml.eos_token_id",
    ]
    if template:
        expected_keys.append("tokenizer.chat_template")
    missing = [key for key in expected_keys if key not in meta]
    checks.append(
        ParityCheck(
            "gguf_metadata",
            not missing,
            f"GGUFReader reads {len(meta)} metadata keys and {len(summary.tensors)} tensors"
            + (f"; missing {', '.join(missing)}." if missing else "."),
        )
    )
    counts = summary.type_counts()
    eligible = [t for t in summary.tensors if len(t.shape) >= 2 and t.shape[0] % QUANT_BLOCK == 0]
    if config.quant == "q8_0":
        ok = counts.get("Q8_0", 0) == len(eligible) and len(eligible) > 0
        rule = "every 2-D tensor with rows of a multiple of 32 values in Q8_0, the rest in F16/F32"
    else:
        ok = counts.get("F16", 0) == sum(1 for t in summary.tensors if len(t.shape) >= 2)
        rule = "every 2-D tensor in F16, 1-D tensors in F32"
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    checks.append(ParityCheck("gguf_tensors", ok, f"tensor types: {kinds} ({rule})."))
    eos_ok = meta.get("tokenizer.ggml.eos_token_id") == tokenizer.eos_token_id
    others = [i for i in stop_ids if i != tokenizer.eos_token_id]
    eot = meta.get("tokenizer.ggml.eot_token_id")
    eot_ok = not others or eot in others
    checks.append(
        ParityCheck(
            "eos",
            eos_ok and eot_ok,
            f"EOS id {meta.get('tokenizer.ggml.eos_token_id')} (trained: {tokenizer.eos_token_id})"
            + (f", end-of-turn id {eot}" if others else "")
            + ("." if eos_ok and eot_ok else "; the GGUF would not stop where training did."),
        )
    )
    if template:
        stored = str(meta.get("tokenizer.chat_template") or "")
        checks.append(_same_template(stored, template, "the GGUF file"))
    tokens = read_gguf_strings(gguf_file, "tokenizer.ggml.tokens")
    vocab = tokenizer.get_vocab()
    wrong = [i for i, t in enumerate(tokens) if i < len(tokens) and vocab.get(t, i) != i]
    checks.append(
        ParityCheck(
            "gguf_vocab",
            not wrong and len(tokens) >= len(tokenizer),
            f"{len(tokens)} tokens in the GGUF vocabulary (tokenizer: {len(tokenizer)})"
            + (f"; {len(wrong)} at another id." if wrong else "."),
        )
    )
    checks.append(_gguf_tokenizer_check(folder, gguf_file, tokenizer, prompts))
    return checks


def _gguf_tokenizer_check(
    folder: Path, gguf_file: Path, tokenizer: Any, prompts: list[Prompt]
) -> ParityCheck:
    from transformers import AutoTokenizer

    try:
        loaded = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file.name)
    except Exception as error:  # transformers raises many kinds
        return ParityCheck("gguf_tokenizer", False, f"the GGUF tokenizer does not load: {error}")
    different = 0
    for prompt in prompts:
        text = prompt.text
        if (
            loaded(text, add_special_tokens=False)["input_ids"]
            != tokenizer(text, add_special_tokens=False)["input_ids"]
        ):
            different += 1
    return ParityCheck(
        "gguf_tokenizer",
        different == 0,
        f"the tokenizer rebuilt from the GGUF metadata encodes {len(prompts) - different} of "
        f"{len(prompts)} examples to the same ids as the trained tokenizer.",
        float(len(prompts) - different),
        float(len(prompts)),
    )


def _ollama_checks(
    folder: Path, gguf_file: Path | None, shape: Any, stops: list[str], tokenizer: Any
) -> list[ParityCheck]:
    from ftstudio.engine.export.ollama import MODELFILE, choose_template, parse_modelfile

    path = folder / MODELFILE
    if not path.is_file():
        return [ParityCheck("modelfile", False, "the export has no Modelfile.")]
    parsed = parse_modelfile(path)
    checks = []
    target = parsed["from"]
    ok_from = gguf_file is not None and target == f"./{gguf_file.name}"
    checks.append(ParityCheck("modelfile_from", ok_from, f"FROM {target}."))
    _, how, problem = choose_template(tokenizer, shape, with_bos=True)
    checks.append(
        ParityCheck(
            "ollama_template",
            bool(parsed["template"]) and how != "unchecked",
            "TEMPLATE writes the same prompts as the chat template that trained."
            if how != "unchecked"
            else f"TEMPLATE could not be checked against the chat template: {problem}",
        )
    )
    written = parsed["parameters"].get("stop", [])
    missing = [s for s in stops if s not in written]
    checks.append(
        ParityCheck(
            "ollama_stop",
            bool(written) and not missing,
            f"PARAMETER stop for {', '.join(repr(s) for s in written) or 'nothing'}"
            + (f"; missing {missing}." if missing else "."),
        )
    )
    return checks


def _same_template(found: str, trained: str, where: str) -> ParityCheck:
    if not trained:
        return ParityCheck(
            "chat_template", True, "the trained tokenizer has no chat template (plain text)."
        )
    same = found == trained
    return ParityCheck(
        "chat_template",
        same,
        f"{where} carries the chat template that trained."
        if same
        else f"{where} {'has no chat template' if not found else 'has a different chat template'}.",
    )


# ---------------------------------------------------------------- helpers


def _prompt(data: Any, tokenizer: Any) -> Prompt | None:
    if not isinstance(data, dict):
        return None
    messages = None
    if isinstance(data.get("messages"), list):
        messages = [m for m in data["messages"] if isinstance(m, dict)]
    elif isinstance(data.get("prompt"), list) and isinstance(data.get("chosen"), list):
        messages = data["prompt"] + data["chosen"]
    elif isinstance(data.get("prompt"), list) and isinstance(data.get("completion"), list):
        messages = data["prompt"] + data["completion"]
    if messages is not None and getattr(tokenizer, "chat_template", None):
        messages = [{"role": m.get("role"), "content": m.get("content")} for m in messages]
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
        if last < 1:
            return None
        try:
            full = _render(tokenizer, messages[: last + 1], False)
            head = _render(tokenizer, messages[:last], True)
        except Exception:  # a template that rejects the example: skip it
            return None
        full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        prompt_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
        return Prompt(head, full_ids[:MAX_TOKENS], prompt_ids[-MAX_PROMPT_TOKENS:])
    prompt, completion = data.get("prompt"), data.get("completion", data.get("chosen"))
    if isinstance(prompt, str) and isinstance(completion, str):
        full_ids = tokenizer(prompt + completion, add_special_tokens=True)["input_ids"]
        prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        return Prompt(prompt, full_ids[:MAX_TOKENS], prompt_ids[-MAX_PROMPT_TOKENS:])
    return None


def _render(tokenizer: Any, messages: list[dict[str, Any]], generation: bool) -> str:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    return str(text)


def _decode(tokenizer: Any, ids: list[int], stop_ids: list[int]) -> str:
    cut = next((i + 1 for i, t in enumerate(ids) if t in stop_ids), len(ids))
    return tokenizer.decode(ids[:cut], skip_special_tokens=False)


def _names(tokenizer: Any, ids: list[int]) -> str:
    return ", ".join(repr(tokenizer.convert_ids_to_tokens(i)) for i in ids)


def _short(text: str, size: int = 200) -> str:
    return text if len(text) <= size else "…" + text[-size:]


def _reference_words(source: RunSource) -> str:
    if source.is_full:
        return f"the run's fully fine-tuned model ({source.weights_dir.name}/) in fp32"
    where = f"checkpoint-{source.step}" if source.step else "the final adapter"
    return f"the base model in fp32 with {where}, unmerged (peft)"
