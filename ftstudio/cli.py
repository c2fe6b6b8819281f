"""Command-line composition root: ``ftstudio [COMMAND] ...``.

Nothing heavy is imported at module level: ``ftstudio --version`` answers at once,
and torch loads only for commands that build or train a model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ftstudio

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    from ftstudio.core.dataset.records import Dataset, Issue
    from ftstudio.core.dataset.stats import DatasetStats
    from ftstudio.core.dataset.tokens import ExampleTokenizer
    from ftstudio.core.settings import AppSettings

PAGES = ("guide", "dataset", "train", "evaluate", "runs", "export", "wizard")
DATA_FORMATS = ("chat", "completion", "preference", "alpaca", "sharegpt", "csv", "parquet", "arrow")
"""Dataset formats (as ``ftstudio.core.dataset.formats.FORMATS``; kept here so that
building the parser imports nothing)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ftstudio command."""
    parser = argparse.ArgumentParser(
        prog="ftstudio",
        description="Fine-tune language models on your own GPU. Without a command, the "
        "studio window opens.",
    )
    parser.add_argument("--version", action="version", version=f"ftstudio {ftstudio.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = commands.add_parser("gui", help="open the studio window (the default)")
    gui.add_argument("project", nargs="?", type=Path, help="project folder to open")

    tiny = commands.add_parser(
        "tiny-model",
        help="build a tiny local Llama model and tokenizer (offline, for trying the flow)",
    )
    tiny.add_argument("out_dir", type=Path, help="new or empty folder to write the model to")
    tiny.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    tiny.add_argument("--vocab-size", type=int, default=1024, help="tokenizer vocabulary size")

    shot = commands.add_parser("screenshot", help="render one page offscreen to a PNG file")
    shot.add_argument("out", type=Path, help="PNG file to write")
    shot.add_argument("--page", choices=PAGES, default="dataset", help="page to render")
    shot.add_argument("--project", type=Path, help="project folder (default: the sample)")
    shot.add_argument("--size", default="1200x780", help="window size as WIDTHxHEIGHT")
    shot.add_argument(
        "--theme", choices=("light", "dark"), default="light", help="colour theme to render"
    )

    add_data_commands(commands)
    add_plan_command(commands)
    add_train_commands(commands)
    add_eval_commands(commands)
    add_openai_commands(commands)
    add_secrets_commands(commands)
    add_export_commands(commands)
    return parser


def add_data_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add ``ftstudio data ACTION``; returns its sub-parsers (``data preview`` joins them)."""
    data = commands.add_parser("data", help="check, describe, convert and split dataset files")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    def file_options(sub: argparse.ArgumentParser, *, tokens: bool) -> None:
        sub.add_argument("file", type=Path, help="the dataset file")
        sub.add_argument(
            "--format",
            choices=DATA_FORMATS,
            help="the file's format (default: detected from its name and content)",
        )
        if tokens:
            sub.add_argument(
                "--tokenizer",
                type=Path,
                metavar="MODEL_DIR",
                help="count tokens with this model folder's tokenizer and chat template",
            )
            sub.add_argument(
                "--max-length",
                type=int,
                metavar="N",
                help="training max length in tokens (with --tokenizer): flag examples it cuts",
            )
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")

    validate = actions.add_parser(
        "validate",
        help="list every problem at its line (exit 0: no errors, 1: errors, 2: unreadable)",
    )
    file_options(validate, tokens=True)

    stats = actions.add_parser("stats", help="size, lengths, tags, prompts and duplicates")
    file_options(stats, tokens=True)

    convert = actions.add_parser("convert", help="write a dataset in another format")
    convert.add_argument("input", type=Path, help="the dataset file to read")
    convert.add_argument("output", type=Path, help="the file to write (not the input)")
    convert.add_argument(
        "--from", dest="format", choices=DATA_FORMATS, help="the input's format (default: detected)"
    )
    convert.add_argument(
        "--to",
        choices=(*DATA_FORMATS, "openai"),
        help="the output format; openai: chat JSONL for OpenAI fine-tuning, curation "
        "fields stripped, rejected examples left out (default: from the output's "
        "extension, else the input's kind: chat, completion or preference)",
    )

    split = actions.add_parser(
        "split",
        help="assign examples to training and validation; stored in FILE.split.json",
    )
    split.add_argument("file", type=Path, help="the dataset file")
    split.add_argument("--format", choices=DATA_FORMATS, help="the file's format")
    split.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of examples for validation"
    )
    split.add_argument("--seed", type=int, default=0, help="random seed (same seed, same split)")
    split.add_argument(
        "--no-stratify",
        dest="stratify",
        action="store_false",
        help="ignore tags (default: each first tag is split on its own)",
    )
    split.add_argument("--json", action="store_true", help="print JSON instead of text")

    preview = actions.add_parser(
        "preview",
        help="show the exact training text of one example and which tokens carry loss",
    )
    preview.add_argument("file", type=Path, help="the dataset file")
    preview.add_argument("--format", choices=DATA_FORMATS, help="the file's format")
    preview.add_argument(
        "--tokenizer",
        type=Path,
        metavar="MODEL_DIR",
        required=True,
        help="model folder whose tokenizer and chat template are used",
    )
    preview.add_argument(
        "--index", type=int, default=0, metavar="N", help="which example (0-based, default 0)"
    )
    preview.add_argument(
        "--max-length", type=int, metavar="N", help="mark the tokens training would cut"
    )
    preview.add_argument("--json", action="store_true", help="print JSON instead of text")
    return actions


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = args.command or "gui"
    _apply_settings()
    try:
        if command == "gui":
            from ftstudio.app import run_gui
            from ftstudio.qt.style import install_message_filter

            install_message_filter()

            return run_gui(getattr(args, "project", None))
        if command == "tiny-model":
            return _tiny_model(args)
        if command == "screenshot":
            return _screenshot(args, parser)
        if command == "data":
            return _data(args, parser)
        if command == "plan":
            return _plan(args, parser)
        if command == "train":
            return _train(args, parser)
        if command == "runs":
            return _runs(args)
        if command == "eval":
            return _eval(args)
        if command == "losses":
            return _losses(args)
        if command == "openai":
            return _openai(args, parser)
        if command == "secrets":
            return _secrets(args)
        if command in ("merge", "export"):
            return _export(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    parser.error(f"unknown command {command}")
    return 2


def _apply_settings() -> AppSettings:
    """The saved settings (Project ▸ Settings in the studio), with the model cache folder
    and offline mode applied to the environment before any Hugging Face library loads."""
    from ftstudio.core.settings import apply_environment, read_settings

    settings = read_settings()
    apply_environment(settings)
    return settings


def _offline_refusal(what: str) -> int | None:
    """Exit code 1 with a plain message when offline mode is on, else ``None``."""
    from ftstudio.core.settings import OFFLINE_SETTING, read_settings

    if not read_settings().offline:
        return None
    print(
        f"ftstudio: offline mode is on ({OFFLINE_SETTING}), so nothing is sent to OpenAI: "
        f"{what}. Turn offline mode off in the studio's settings first.",
        file=sys.stderr,
    )
    return 1


def _offline_counter() -> Any:
    """The token estimate in offline mode (tiktoken may download its encodings), else
    ``None`` (the default counter)."""
    from ftstudio.core.settings import read_settings

    if not read_settings().offline:
        return None
    from ftstudio.core.openai_data import ESTIMATE

    return ESTIMATE


def _tiny_model(args: argparse.Namespace) -> int:
    from ftstudio.engine.tiny_model import TinyModelSpec, build_tiny_model

    if args.vocab_size < 300:
        print("ftstudio: --vocab-size must be at least 300 (256 bytes + merges).", file=sys.stderr)
        return 2
    try:
        info = build_tiny_model(
            args.out_dir, TinyModelSpec(seed=args.seed, vocab_size=args.vocab_size)
        )
    except (FileExistsError, ValueError, OSError) as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    print(
        f"Built a tiny Llama in {info.path}: {info.parameters:,} parameters, "
        f"vocabulary of {info.vocab_size} tokens, seed {info.spec.seed}.\n"
        "Load it with AutoModelForCausalLM.from_pretrained / AutoTokenizer.from_pretrained."
    )
    return 0


def _screenshot(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        width, height = (int(part) for part in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size must look like 1200x780, not {args.size!r}")
    from ftstudio.core.project import ProjectError
    from ftstudio.qt.screenshot import render_page
    from ftstudio.qt.style import install_message_filter

    install_message_filter()

    try:
        out = render_page(args.out, args.page, args.project, (width, height), args.theme)
    except (ProjectError, OSError) as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {out} ({args.page} page, {width}x{height}, {args.theme} theme).")
    return 0


# ---------------------------------------------------------------------------- data


def _data(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio data ACTION``: 0 done (no errors), 1 errors found or not written, 2 unreadable."""
    from ftstudio.core.dataset.formats import DatasetReadError

    if getattr(args, "max_length", None) is not None:
        if args.tokenizer is None:
            parser.error("--max-length needs --tokenizer (tokens are counted with it)")
        if args.max_length < 1:
            parser.error("--max-length must be a positive number of tokens")
    if args.data_command == "split" and not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be between 0 and 1 (e.g. 0.1), not {args.val_fraction}")
    handlers = {
        "validate": _data_validate,
        "stats": _data_stats,
        "convert": _data_convert,
        "split": _data_split,
        "preview": _data_preview,
    }
    try:
        return handlers[args.data_command](args)
    except DatasetReadError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 2
    except _TokenizerUnavailable as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 2


class _TokenizerUnavailable(Exception):
    """The --tokenizer folder cannot be used (message says why)."""


def _load_data(path: Path, format: str | None) -> Dataset:
    """Any dataset file: text formats in core, Parquet/Arrow through the engine."""
    from ftstudio.core.dataset.formats import detect_format, load_dataset

    format = format or detect_format(path)
    if format in ("parquet", "arrow"):
        from ftstudio.engine.tabular import load_any

        return load_any(path, format)
    return load_dataset(path, format)


def _example_tokenizer(model_dir: Path | None) -> ExampleTokenizer | None:
    """The chat-template tokenizer of ``model_dir`` (loads transformers), memoised per example."""
    if model_dir is None:
        return None
    from ftstudio.core.dataset.tokens import MemoTokenizer
    from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer

    try:
        return MemoTokenizer(ChatTemplateTokenizer(load_tokenizer(model_dir)))
    except (OSError, ValueError) as error:
        raise _TokenizerUnavailable(f"--tokenizer {model_dir}: {error}") from error


def _checked(args: argparse.Namespace) -> tuple[Dataset, list[Issue], DatasetStats]:
    from ftstudio.core.dataset.stats import compute_stats
    from ftstudio.core.dataset.validate import validate_dataset

    dataset = _load_data(args.file, args.format)
    tokenizer = _example_tokenizer(args.tokenizer)
    issues = validate_dataset(dataset, tokenizer=tokenizer, max_length=args.max_length)
    stats = compute_stats(dataset, issues=issues, tokenizer=tokenizer, max_length=args.max_length)
    return dataset, issues, stats


def _data_validate(args: argparse.Namespace) -> int:
    import json

    dataset, issues, stats = _checked(args)
    errors = [issue for issue in issues if issue.severity == "error"]
    bad = {issue.record for issue in errors}
    valid = sum(1 for index in range(len(dataset.records)) if index not in bad)
    if args.json:
        report = {
            "ok": not errors,
            "format": dataset.format,
            "examples": valid,
            "issues": [issue.to_json() for issue in issues],
            "stats": stats.to_json(),
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 1 if errors else 0
    for issue in issues:
        field = f" {issue.field}" if issue.field else ""
        print(f"{args.file}:{issue.line}: {issue.severity} {issue.code}{field}: {issue.message}")
    warnings = len(issues) - len(errors)
    affected = len({issue.record for issue in issues if issue.record >= 0})
    print(
        f"{args.file}: {dataset.format}, {len(dataset.records):,} examples, {valid:,} valid; "
        f"{_count(len(errors), 'error')} and {_count(warnings, 'warning')}"
        + (f" in {_count(affected, 'example')}." if issues else ".")
    )
    print(stats.band.verdict)
    if errors:
        print("Fix the errors above; examples with errors are left out of training.")
    return 1 if errors else 0


def _data_stats(args: argparse.Namespace) -> int:
    import json

    _, _, stats = _checked(args)
    if args.json:
        print(json.dumps(stats.to_json(), ensure_ascii=False, indent=2))
        return 0
    lines = [
        f"{args.file}: {stats.records:,} examples: {stats.usable:,} usable, "
        f"{stats.with_errors:,} with errors, {stats.rejected:,} rejected, "
        f"{stats.unparseable:,} unreadable.",
        stats.band.verdict,
        f"Review: {stats.review['draft']:,} draft, {stats.review['approved']:,} approved, "
        f"{stats.review['rejected']:,} rejected.",
    ]
    for title, summary in (
        ("Turns per example", stats.turns),
        ("Characters per example", stats.example_chars),
        ("Characters per answer", stats.assistant_chars),
        ("Tokens per example", stats.example_tokens),
        ("Trained tokens per example", stats.trained_tokens),
    ):
        if summary is not None:
            lines.append(
                f"{title}: min {summary.min:,.0f}, mean {summary.mean:,.1f}, median "
                f"{summary.median:,.0f}, p95 {summary.p95:,.0f}, max {summary.max:,.0f}"
            )
    if stats.over_max_length is not None:
        lines.append(f"Longer than {stats.max_length:,} tokens: {stats.over_max_length:,}")
    tags = ", ".join(f"{tag} {count:,}" for tag, count in stats.tags.items())
    lines.append(f"Tags: {tags or 'none'}; untagged {stats.untagged:,}")
    lines.append(
        f"System prompts: {len(stats.system_prompts):,} distinct; "
        f"{stats.no_system_prompt:,} examples without one"
    )
    for text, count in stats.system_prompts[:5]:
        shown = " ".join(text.split())
        shown = shown if len(shown) <= 70 else shown[:69] + "…"
        lines.append(f"  {count:>6,}  {shown}")
    lines.append(
        f"Exact duplicates: {_groups(stats.exact_duplicates)}; near-duplicates: "
        f"{_groups(stats.near_duplicates)}"
    )
    print("\n".join(lines))
    return 0


def _data_convert(args: argparse.Namespace) -> int:
    from ftstudio.core.dataset.formats import DatasetWriteError, export_openai, save_dataset

    source, target_path = args.input, args.output
    if target_path.exists() and source.exists() and target_path.samefile(source):
        print(
            f"ftstudio: {target_path} is the input file; write the converted dataset to "
            "another file.",
            file=sys.stderr,
        )
        return 2
    dataset = _load_data(source, args.format)
    target = args.to or _format_for(target_path, dataset.kind)
    try:
        if target == "openai":
            written = export_openai(dataset, target_path)
        elif target in ("parquet", "arrow"):
            from ftstudio.engine.tabular import save_tabular

            save_tabular(dataset, target_path, target)
            written = len(dataset.records)
        else:
            save_dataset(dataset, target_path, target)
            written = len(dataset.records)
    except DatasetWriteError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"ftstudio: cannot write {target_path}: {error}", file=sys.stderr)
        return 1
    left_out = len(dataset.records) - written
    note = f" ({_count(left_out, 'example')} left out: rejected or unusable)" if left_out else ""
    print(
        f"Wrote {_count(written, 'example')} from {source} ({dataset.format}) to "
        f"{target_path} ({target}){note}."
    )
    return 0


def _format_for(path: Path, kind: str) -> str:
    suffix = path.suffix.lower()
    by_suffix = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow"}
    return by_suffix.get(suffix, kind)


def _data_split(args: argparse.Namespace) -> int:
    import json

    from ftstudio.core.dataset.split import assign_split, save_split

    dataset = _load_data(args.file, args.format)
    split = assign_split(dataset, args.val_fraction, args.seed, stratify=args.stratify)
    try:
        written = save_split(args.file, split)
    except OSError as error:
        print(f"ftstudio: cannot write the split beside {args.file}: {error}", file=sys.stderr)
        return 1
    if args.json:
        report = split.to_json()
        report["file"] = str(written)
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(
        f"{len(split.train):,} training and {len(split.val):,} validation examples "
        f"(fraction {args.val_fraction:g}, seed {args.seed}); "
        f"{_count(len(split.excluded), 'example')} left out (rejected or unreadable)."
    )
    if len(split.strata) > 1 or "" not in split.strata:
        width = max(len(name or "(untagged)") for name in split.strata)
        print(f"{'tag':<{width}}  {'train':>7}  {'val':>7}")
        for name, (train, val) in split.strata.items():
            print(f"{name or '(untagged)':<{width}}  {train:>7,}  {val:>7,}")
    print(f"Saved the split to {written}.")
    return 0


def _data_preview(args: argparse.Namespace) -> int:
    import json

    from ftstudio.engine.chat_mask import load_tokenizer, preview_example

    dataset = _load_data(args.file, args.format)
    if not 0 <= args.index < len(dataset.records):
        print(
            f"ftstudio: {args.file} has {len(dataset.records)} examples; "
            f"--index must be 0 to {len(dataset.records) - 1}.",
            file=sys.stderr,
        )
        return 2
    record = dataset.records[args.index]
    if not record.is_parsed or not isinstance(record.data, dict):
        print(f"ftstudio: {args.file}, line {record.line}: this example cannot be parsed.")
        return 1
    try:
        tokenizer = load_tokenizer(args.tokenizer)
    except (OSError, ValueError) as error:
        print(f"ftstudio: --tokenizer {args.tokenizer}: {error}", file=sys.stderr)
        return 2
    try:
        preview = preview_example(tokenizer, record.data, args.max_length)
    except ValueError as error:
        print(f"ftstudio: {args.file}, line {record.line}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(preview, ensure_ascii=False, indent=2))
        return 0
    print(preview["text"])
    print()
    limit = f" of max {preview['max_length']}" if preview["max_length"] else ""
    print(f"{preview['count']} tokens{limit}, {preview['trained_count']} trained (marked *)")
    for position, token in enumerate(preview["tokens"]):
        cut = " (cut)" if preview["max_length"] and position >= preview["max_length"] else ""
        mark = "*" if token["trained"] else " "
        print(f"{position:6d} {mark} {token['id']:7d}  {token['token']!r}{cut}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _groups(groups: list[list[int]]) -> str:
    if not groups:
        return "none"
    copies = sum(len(group) - 1 for group in groups)
    extra = "1 extra copy" if copies == 1 else f"{copies:,} extra copies"
    return f"{_count(len(groups), 'group')} ({extra})"


# ---------------------------------------------------------------------------- plan

PLAN_METHODS = ("qlora", "lora", "full")

if TYPE_CHECKING:
    from ftstudio.core.memory import MemoryEstimate, MemoryInputs
    from ftstudio.core.models import ModelSpec


def add_plan_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``ftstudio plan``: a training run's GPU memory, part by part, against a GPU."""
    plan = commands.add_parser(
        "plan",
        help="estimate a training run's GPU memory: breakdown, verdict, fixes (exit 1: won't fit)",
    )
    plan.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="a catalogue name (e.g. llama-3.1-8b), a model folder, its config.json, or a hub "
        "id that is in the catalogue or the download cache (nothing is downloaded)",
    )
    plan.add_argument(
        "--method", choices=PLAN_METHODS, default="qlora", help="training method (default qlora)"
    )
    plan.add_argument("--rank", type=int, metavar="R", help="LoRA rank (default 16)")
    plan.add_argument("--max-length", type=int, metavar="N", help="tokens per example (1024)")
    plan.add_argument("--batch", type=int, metavar="B", help="batch size per GPU (default 4)")
    plan.add_argument("--grad-accum", type=int, metavar="G", help="gradient accumulation (8)")
    plan.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="recompute activations: less memory, about 30%% slower (default on)",
    )
    plan.add_argument(
        "--gpu-gb",
        type=float,
        metavar="GB",
        help="the GPU's memory (default: the GPU found through torch, else 24)",
    )
    plan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return plan


def _plan(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio plan``: 0 fits (or tight), 1 won't fit, 2 the model cannot be read."""
    import dataclasses
    import json

    from ftstudio.core.memory import MemoryInputs, estimate_memory
    from ftstudio.core.models import ModelError, resolve_model_spec
    from ftstudio.core.train_config import defaults_for

    for name in ("rank", "max_length", "batch", "grad_accum"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    if args.gpu_gb is not None and not args.gpu_gb > 0:
        parser.error(f"--gpu-gb must be above 0, not {args.gpu_gb}")
    try:
        spec = resolve_model_spec(args.model, Path.cwd(), require_tokenizer=False)
    except ModelError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 2
    gpu_gb, gpu_name, notes = _plan_gpu(args.gpu_gb)
    config = defaults_for(args.method)
    inputs = dataclasses.replace(
        MemoryInputs.from_config(config),
        r=args.rank or config.r,
        target_modules=tuple(spec.target_module_presets()["recommended"]),
        max_length=args.max_length or config.max_length,
        batch=args.batch or config.per_device_batch_size,
        grad_accum=args.grad_accum or config.grad_accum,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    estimate = estimate_memory(spec, inputs, gpu_gb)
    if spec.source == "local" and not _has_tokenizer(spec.location):
        notes.append(f"{spec.location} has no tokenizer files yet; training will need them.")
    if args.json:
        report = {
            "model": spec.name,
            "source": spec.source,
            "method": inputs.method,
            "settings": {
                "rank": inputs.r if inputs.method != "full" else None,
                "target_modules": list(inputs.target_modules or ()),
                "max_length": inputs.max_length,
                "batch": inputs.batch,
                "grad_accum": inputs.grad_accum,
                "gradient_checkpointing": inputs.gradient_checkpointing,
                "optimizer": inputs.optimizer,
            },
            "gpu": gpu_name,
            **estimate.to_json(),
        }
        report["caveats"] = [*report["caveats"], *notes]
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(_plan_table(spec, inputs, estimate, gpu_name, notes))
    return 0 if estimate.fits else 1


def _plan_gpu(gpu_gb: float | None) -> tuple[float, str | None, list[str]]:
    """The GPU's memory, its name when detected, and notes on the choice."""
    if gpu_gb is not None:
        return gpu_gb, None, []
    from ftstudio.engine.hardware import detect_gpus  # imports torch

    gpus = detect_gpus()
    if not gpus:
        return 24.0, None, ["No CUDA GPU found: planned for a 24 GB card (set --gpu-gb)."]
    return gpus[0].total_gb, gpus[0].name, []


def _has_tokenizer(folder: str) -> bool:
    from ftstudio.core.models.catalogue import has_tokenizer

    return has_tokenizer(Path(folder))


def _plan_table(
    spec: ModelSpec,
    inputs: MemoryInputs,
    estimate: MemoryEstimate,
    gpu_name: str | None,
    notes: list[str],
) -> str:
    names = {"qlora": "QLoRA", "lora": "LoRA", "full": "full fine-tuning"}
    adapters = ""
    if inputs.method != "full":
        adapters = f", rank {inputs.r} on {', '.join(inputs.target_modules or ())}"
    lines = [
        f"{spec.name} ({spec.source}): {names[inputs.method]}{adapters}",
        f"max length {inputs.max_length:,} tokens, batch {inputs.batch} × accumulation "
        f"{inputs.grad_accum}, gradient checkpointing "
        f"{'on' if inputs.gradient_checkpointing else 'off'}, {inputs.optimizer}",
        "",
    ]
    width = max(len(label) for _, label, _ in estimate.rows())
    for _, label, gb in estimate.rows():
        lines.append(f"  {label:<{width}}  {gb:7.2f} GB")
    gpu = f" ({gpu_name})" if gpu_name else ""
    lines.append(f"  {'Total':<{width}}  {estimate.total_gb:7.2f} GB")
    lines.append("")
    lines.append(f"{estimate.verdict.capitalize()} on {estimate.gpu_gb:g} GB{gpu}.")
    if estimate.suggestions:
        lines.append("To make it fit, cheapest first:")
        lines += [f"  - {suggestion.text}" for suggestion in estimate.suggestions]
    lines += [f"Note: {caveat}" for caveat in (*estimate.caveats, *notes)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- train and runs

if TYPE_CHECKING:
    from ftstudio.core.events import TrainingEvent
    from ftstudio.core.train_config import TrainConfig

DEMO_STEPS = 30


def add_train_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio train`` (headless training) and ``ftstudio runs`` (the run list)."""
    train = commands.add_parser(
        "train",
        help="train a configuration headless (exit 0: finished, 1: failed, 2: bad "
        "configuration, 130: stopped with Ctrl-C)",
        description="Train CONFIG.yaml with the same engine as the studio, writing a run "
        "folder under the project's runs/ and its row in runs/runs.sqlite. Ctrl-C stops at "
        "the end of the step and saves a checkpoint; --resume continues from it. Works "
        "under `accelerate launch` for several GPUs or machines.",
    )
    train.add_argument("config", nargs="?", type=Path, help="the training configuration (YAML)")
    train.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="RUN_DIR",
        help="resume a run from its last complete checkpoint (a run folder or one of its "
        "checkpoints; alone: the project's newest run that did not finish)",
    )
    train.add_argument("--name", help="a display name for the run")
    train.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the project folder (default: the nearest folder with project.json above the "
        "configuration, else the configuration's folder)",
    )
    train.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a base model that needs its own Python code (auto_map in its "
        "config.json) to run it, for this run only; only for repositories you trust",
    )
    train.add_argument(
        "--demo",
        action="store_true",
        help="train the sample project's examples on the tiny model (offline, minutes on a CPU)",
    )
    train.add_argument(
        "--objective",
        choices=("sft", "dpo"),
        help="with --demo: sft trains the sample chats (the default); dpo trains the sample "
        "preference pairs, on top of the project's newest finished LoRA/QLoRA SFT run on the "
        "same base model if there is one",
    )
    train.add_argument(
        "--max-steps",
        type=int,
        metavar="N",
        help=f"with --demo: optimizer steps (default {DEMO_STEPS})",
    )
    train.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="with --demo: the project folder to train in (default: the sample project's "
        "copy in your data folder)",
    )

    runs = commands.add_parser("runs", help="list a project's training runs")
    actions = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every run: status, steps, losses, folder")
    listing.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the project folder (default: the nearest folder with project.json, else here)",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show = actions.add_parser(
        "show",
        help="one run: summary, configuration, final metrics, checkpoints, exports "
        "(exit 2: no such run)",
    )
    show.add_argument("id", help="the run's id (or a unique start of it), name, or folder")
    show.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the project folder (default: the nearest folder with project.json, else here)",
    )
    show.add_argument("--json", action="store_true", help="print JSON instead of text")


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio train``: run the engine headless with a progress line."""
    import signal
    import threading

    from ftstudio.core.fields import ConfigError
    from ftstudio.core.runs import find_project_folder
    from ftstudio.core.train_config import load_config

    if args.demo:
        if args.config is not None:
            parser.error("--demo trains the sample project; leave out CONFIG")
        if args.max_steps is not None and args.max_steps < 1:
            parser.error(f"--max-steps must be at least 1, not {args.max_steps}")
        objective = args.objective or "sft"
        config, project = _demo_config(args.out, args.max_steps or DEMO_STEPS, objective)
    else:
        if args.config is None:
            parser.error("give a configuration file (ftstudio train CONFIG.yaml), or --demo")
        if args.max_steps is not None or args.out is not None or args.objective is not None:
            parser.error("--max-steps, --out and --objective go with --demo (set them in the file)")
        try:
            config = load_config(args.config)
        except ConfigError as error:
            print(f"ftstudio: {error}", file=sys.stderr)
            return 2
        folder = args.config.resolve().parent
        project = args.project or find_project_folder(folder) or folder
    resume = args.resume
    if isinstance(resume, str):
        resume = Path(resume)
    if args.trust_remote_code and _apply_settings().trust_remote_code == "never":
        print(
            "ftstudio: --trust-remote-code is refused: the settings say never to run a model's "
            "own code (Settings ▸ Privacy ▸ Custom model code: never). Change it to 'ask' "
            "first.",
            file=sys.stderr,
        )
        return 2

    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum: int, frame: Any) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        stop.set()
        print(
            "\nStopping at the end of this step and saving a checkpoint (Ctrl-C again to abort)…",
            file=sys.stderr,
        )

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, interrupt)
    from ftstudio.engine.training import run_training

    printer = _ProgressPrinter(config.objective)
    try:
        result = run_training(
            config,
            printer,
            stop,
            project=Path(project),
            resume=resume,
            name=args.name,
            trust_remote_code=args.trust_remote_code,
        )
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        printer.close()
    if result.status == "failed":
        return 1
    if result.status == "stopped":
        return 130
    return 0


def _demo_config(
    out: Path | None, max_steps: int, objective: str = "sft"
) -> tuple[TrainConfig, Path]:
    """The sample project (installed into ``out`` when needed) and a short QLoRA config.

    ``objective`` ``dpo`` trains the sample's preference pairs, starting from the
    project's newest finished SFT run on the same base model when there is one.
    """
    import dataclasses

    import torch

    from ftstudio.core.project import MANIFEST, open_project
    from ftstudio.core.sample import install_sample
    from ftstudio.core.train_config import defaults_for, save_config

    if out is not None and (out / MANIFEST).is_file():
        project = open_project(out)
    else:
        project = install_sample(out)
    gpu = torch.cuda.is_available()
    dpo = objective == "dpo"
    if dpo:
        dataset = project.datasets.get("preferences", "datasets/preferences.jsonl")
    else:
        dataset = project.datasets.get("train", "datasets/it_support.jsonl")
    config = dataclasses.replace(
        defaults_for("qlora", objective),
        dataset=dataset,
        max_steps=max_steps,
        epochs=1,
        per_device_batch_size=4,
        grad_accum=1,
        learning_rate=5e-3 if dpo else 2e-3,
        max_length=512,
        eval_steps=max(1, min(10, max_steps // 3)),
        save_steps=max(1, min(10, max_steps // 3)),
        early_stopping_patience=0,
        gradient_checkpointing=gpu,
        precision="bf16" if gpu else "fp32",
        optimizer="paged_adamw_32bit" if gpu else "adamw_torch",
    )
    start = ""
    if dpo:
        sft_run = _newest_sft_run(project.folder, config.base_model)
        if sft_run is not None:
            config = dataclasses.replace(config, init_adapter=str(sft_run))
            start = f" DPO starts from the SFT run {sft_run.name} (its adapter is the reference)."
        else:
            start = (
                " DPO starts from the base model (run `ftstudio train --demo` first to start "
                "from an SFT adapter)."
            )
    saved = save_config(config, project.folder / ("demo-dpo.yaml" if dpo else "demo.yaml"))
    print(f"Demo: {project.folder} (configuration saved as {saved.name}).{start}")
    return config, project.folder


def _newest_sft_run(project: Path, base_model: str) -> Path | None:
    """The project's newest finished LoRA/QLoRA SFT run on ``base_model``, or ``None``."""
    from ftstudio.core.runs import RUNS_FOLDER, RunStoreError, is_run_dir, read_run_file

    runs = project / RUNS_FOLDER
    folders = (
        sorted((p for p in runs.iterdir() if is_run_dir(p)), reverse=True) if runs.is_dir() else []
    )
    for folder in folders:
        try:
            info = read_run_file(folder)
        except RunStoreError:
            continue
        if (
            info.get("status") == "finished"
            and info.get("objective", "sft") == "sft"
            and info.get("base_model") == base_model
            and (folder / "adapter" / "adapter_config.json").is_file()
        ):
            return folder
    return None


class _ProgressPrinter:
    """Prints events: one updating progress line on a terminal, else a line per step."""

    def __init__(self, objective: str = "sft") -> None:
        self.objective = objective
        self.tty = sys.stdout.isatty()
        self.open_line = False
        self.eval_loss: float | None = None

    def __call__(self, event: TrainingEvent) -> None:
        kind = event.kind
        if kind == "step":
            self._progress(event)
        elif kind == "evaluated":
            self.eval_loss = event.eval_loss
            if not self.tty:
                print(f"step {event.step}: eval loss {event.eval_loss:.4f}", flush=True)
        elif kind == "started":
            resumed = f", resumed at step {event.start_step}" if event.start_step else ""
            self._line(
                f"Run {event.run_id}: {event.method} {self.objective.upper()} on {event.device}, "
                f"{event.train_examples:,} training and {event.val_examples:,} validation "
                f"{'pairs' if self.objective == 'dpo' else 'examples'}, {event.total_steps:,} "
                f"steps{resumed}.\nFolder: {event.run_dir}"
            )
        elif kind == "checkpoint":
            if not self.tty:
                print(f"Saved {event.path}", flush=True)
        elif kind == "warning":
            self._line(f"warning ({event.code}): {event.message}", err=True)
        elif kind == "finished":
            best = f", best eval loss {event.best_eval_loss:.4f}" if event.best_eval_loss else ""
            final = f"final loss {event.final_loss:.4f}" if event.final_loss is not None else ""
            self._line(f"{event.reason} {final}{best}.\nSaved: {event.adapter_dir}")
        elif kind == "failed":
            where = f" Last checkpoint: {event.last_checkpoint}." if event.last_checkpoint else ""
            text = f"ftstudio: training failed ({event.code}): {event.message}{where}"
            self._line(text, err=True)

    def _progress(self, event: Any) -> None:
        parts = [
            f"step {event.step}/{event.total_steps}",
            f"{100 * event.fraction:3.0f}%",
            f"loss {event.loss:.4f}",
        ]
        for name, shown in (("rewards/margins", "{:+.4f}"), ("rewards/accuracies", "{:.2f}")):
            if name in event.metrics:
                parts.append(f"{name} {shown.format(event.metrics[name])}")
        if self.eval_loss is not None:
            parts.append(f"eval {self.eval_loss:.4f}")
        parts.append(f"lr {event.learning_rate:.2e}")
        if event.tokens_per_second:
            parts.append(f"{event.tokens_per_second:,.0f} tok/s")
        if event.memory_gb is not None:
            label = "GPU" if event.memory_kind == "gpu" else "RSS"
            parts.append(f"{label} {event.memory_gb:.1f} GB")
        if event.eta_s is not None:
            parts.append(f"ETA {_duration(event.eta_s)}")
        text = "  ".join(parts)
        if self.tty:
            print("\r" + text.ljust(100), end="", flush=True)
            self.open_line = True
        else:
            print(text, flush=True)

    def _line(self, text: str, *, err: bool = False) -> None:
        self.close()
        print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def close(self) -> None:
        if self.open_line:
            print(flush=True)
            self.open_line = False


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _runs(args: argparse.Namespace) -> int:
    """``ftstudio runs list``: 0 listed, 1 the database cannot be read."""
    import json

    if args.runs_command == "show":
        return _runs_show(args)
    from ftstudio.core.runs import (
        DB_NAME,
        RUNS_FOLDER,
        RunStore,
        RunStoreError,
        find_project_folder,
    )

    project = args.project or find_project_folder(Path.cwd()) or Path.cwd()
    db_path = Path(project) / RUNS_FOLDER / DB_NAME
    records = []
    if db_path.is_file():
        try:
            records = RunStore(db_path).list()
        except RunStoreError as error:
            print(f"ftstudio: {error}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps([record.to_json() for record in records], ensure_ascii=False, indent=2))
        return 0
    if not records:
        print(f"No runs in {project}.")
        return 0
    header = ("id", "status", "steps", "final loss", "best eval", "method", "name")
    rows = [
        (
            record.id,
            record.status,
            f"{record.step}/{record.total_steps}",
            f"{record.final_loss:.4f}" if record.final_loss is not None else "-",
            f"{record.best_eval_loss:.4f}" if record.best_eval_loss is not None else "-",
            record.method,
            record.name,
        )
        for record in records
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


# ---------------------------------------------------------------------------- eval


def add_eval_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio eval`` (base vs tuned answers) and ``ftstudio losses`` (per example)."""
    evaluate = commands.add_parser(
        "eval",
        help="compare a run's tuned model with its base model (exit 0: done, 1: failed, "
        "2: not a run or unreadable data, 130: stopped with Ctrl-C)",
        description="Both models answer the run's validation examples (or --data FILE) "
        "greedily; prints exact match, ROUGE-L, BLEU, the loss and perplexity on the reference "
        "answers, and the forgetting check on general prompts. The report, with every answer, "
        "is saved as RUN_DIR/eval/report.json (the studio's Evaluate page shows it). Rank the "
        "examples by their loss with `ftstudio losses RUN_DIR`.",
    )
    evaluate.add_argument("run_dir", type=Path, help="the run folder (runs/<run id>)")
    evaluate.add_argument(
        "--data",
        type=Path,
        metavar="FILE",
        help="evaluate on this dataset file (any format the dataset studio reads) instead of "
        "the run's validation split",
    )
    evaluate.add_argument(
        "--limit", type=int, metavar="N", help="evaluate only the first N examples"
    )
    evaluate.add_argument(
        "--max-new-tokens",
        type=int,
        metavar="N",
        help="longest answer in tokens (default 256)",
    )
    evaluate.add_argument(
        "--adapter",
        type=Path,
        metavar="DIR",
        help="the adapter or checkpoint folder to evaluate (default: the run's final one)",
    )
    evaluate.add_argument(
        "--json",
        action="store_true",
        help="print the summary as JSON (base, tuned, forgetting, source, report path); "
        "with --examples the answers too",
    )
    evaluate.add_argument(
        "--examples", action="store_true", help="with --json: include every example's answers"
    )

    losses = commands.add_parser(
        "losses",
        help="rank a run's training and validation examples by the tuned model's loss and "
        "flag outliers, near-duplicates and train/validation leakage (exit codes as eval)",
        description="Measures the tuned model's loss on every example the run trained and "
        "validated on, highest first, with the example's line in the dataset file. Saved as "
        "RUN_DIR/eval/example_losses.jsonl.",
    )
    losses.add_argument("run_dir", type=Path, help="the run folder (runs/<run id>)")
    losses.add_argument(
        "--top", type=int, default=20, metavar="N", help="rows to print (default 20; 0: all)"
    )
    losses.add_argument(
        "--adapter",
        type=Path,
        metavar="DIR",
        help="the adapter or checkpoint folder to measure (default: the run's final one)",
    )
    losses.add_argument("--json", action="store_true", help="print every row as JSON")


class _EvalProgress:
    """One updating progress line on stderr when it is a terminal; silent otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.open_line = False

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.tty:
            line = f"\r[{done}/{total}] {text}"[:100].ljust(100)
            print(line, end="", file=sys.stderr, flush=True)
            self.open_line = True

    def close(self) -> None:
        if self.open_line:
            print(file=sys.stderr, flush=True)
            self.open_line = False


def _eval_input_problem(args: argparse.Namespace) -> str | None:
    from ftstudio.core.runs import is_run_dir

    if not is_run_dir(args.run_dir):
        return (
            f"{args.run_dir} is not a training run folder (it has no run.json). Give a folder "
            "inside the project's runs/ folder (ftstudio runs list shows them)."
        )
    for name in ("limit", "max_new_tokens", "top"):
        value = getattr(args, name, None)
        if value is not None and value < (0 if name == "top" else 1):
            return f"--{name.replace('_', '-')} must be at least 1, not {value}."
    if getattr(args, "examples", False) and not args.json:
        return "--examples goes with --json."
    return None


def _eval(args: argparse.Namespace) -> int:
    """``ftstudio eval RUN_DIR``: base vs tuned on the validation split or --data."""
    import dataclasses
    import json

    problem = _eval_input_problem(args)
    if problem:
        print(f"ftstudio: {problem}", file=sys.stderr)
        return 2
    from ftstudio.core.evaluation.results import report_path
    from ftstudio.core.evaluation.settings import EVAL_SETTINGS
    from ftstudio.engine.evaluate import EvaluationError, run_evaluation

    settings = EVAL_SETTINGS
    if args.max_new_tokens is not None:
        settings = dataclasses.replace(settings, max_new_tokens=args.max_new_tokens)
    progress = _EvalProgress()
    try:
        report = run_evaluation(
            args.run_dir,
            data=args.data,
            settings=settings,
            limit=args.limit,
            on_progress=progress,
            adapter=args.adapter,
        )
    except EvaluationError as error:
        progress.close()
        print(f"ftstudio: {error}", file=sys.stderr)
        return 2 if error.bad_input else 1
    finally:
        progress.close()
    saved = report_path(args.run_dir)
    if args.json:
        summary = {
            "run_id": report.run_id,
            "source": report.source,
            "adapter": report.adapter,
            "examples": len(report.examples),
            "base": report.base.to_json(),
            "tuned": report.tuned.to_json(),
            "forgetting": report.forgetting.to_json() if report.forgetting else None,
            "notes": list(report.notes),
            "report": str(saved),
        }
        if args.examples:
            summary["answers"] = [example.to_json() for example in report.examples]
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
        return 0
    for line in eval_summary_lines(report):
        print(line)
    print(f"Report saved: {saved}")
    return 0


def eval_summary_lines(report: Any) -> list[str]:
    """An :class:`~ftstudio.core.evaluation.results.EvalReport` as printed by ``ftstudio eval``."""
    base, tuned = report.base, report.tuned
    rows = [
        ("", "base", "tuned"),
        ("exact match", _share(base.exact_match), _share(tuned.exact_match)),
        ("ROUGE-L", f"{base.rouge_l:.3f}", f"{tuned.rouge_l:.3f}"),
        ("BLEU", f"{base.bleu:.2f}", f"{tuned.bleu:.2f}"),
        ("loss", _number(base.loss, 4), _number(tuned.loss, 4)),
        ("perplexity", _number(base.perplexity, 2), _number(tuned.perplexity, 2)),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"Run {report.run_id}: {len(report.examples):,} example(s) from the {report.source}"
        if report.source == "validation split"
        else f"Run {report.run_id}: {len(report.examples):,} example(s) from {report.source}",
        f"Tuned model: {report.adapter}",
        "",
    ]
    for name, left, right in rows:
        lines.append(
            f"  {name.ljust(widths[0])}  {left.rjust(widths[1])}  {right.rjust(widths[2])}"
        )
    lines.append("")
    if report.forgetting is not None:
        warning = "WARNING: " if report.forgetting.degraded else ""
        lines.append(warning + report.forgetting.message)
    else:
        lines.append("The forgetting check could not run.")
    lines.extend(f"Note: {note}" for note in report.notes)
    return lines


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def _number(value: float | None, digits: int) -> str:
    import math

    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:,.{digits}f}"


def _losses(args: argparse.Namespace) -> int:
    """``ftstudio losses RUN_DIR``: every example's loss, highest first, with flags."""
    import json

    problem = _eval_input_problem(args)
    if problem:
        print(f"ftstudio: {problem}", file=sys.stderr)
        return 2
    from ftstudio.core.evaluation.example_loss import losses_path
    from ftstudio.engine.evaluate import EvaluationError
    from ftstudio.engine.example_loss import compute_example_losses

    progress = _EvalProgress()
    try:
        rows = compute_example_losses(args.run_dir, on_progress=progress, adapter=args.adapter)
    except EvaluationError as error:
        progress.close()
        print(f"ftstudio: {error}", file=sys.stderr)
        return 2 if error.bad_input else 1
    finally:
        progress.close()
    saved = losses_path(args.run_dir)
    if args.json:
        print(json.dumps([row.to_json() for row in rows], ensure_ascii=False, indent=2))
        return 0
    shown = rows if args.top == 0 else rows[: args.top]
    header = ("loss", "tokens", "split", "line", "flags", "example")
    table = [
        (
            _number(row.loss, 3) if row.tokens else "-",
            str(row.tokens),
            row.split,
            str(row.line) if row.line else "?",
            ",".join(row.flags) or "-",
            row.preview[:60],
        )
        for row in shown
    ]
    widths = [max(len(line[i]) for line in (header, *table)) for i in range(len(header) - 1)]
    for line in (header, *table):
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)]
        print("  ".join([*cells, line[-1]]))
    flagged = [row for row in rows if row.flags]
    files = sorted({row.dataset for row in rows if row.dataset})
    print(
        f"{len(rows):,} example(s), {len(flagged):,} flagged"
        + (f"; lines refer to {', '.join(files)}" if files else "")
        + "."
    )
    for row in flagged[: args.top or None]:
        print(f"  {row.split} line {row.line}: {row.detail}")
    print(f"Saved: {saved}")
    return 0


# ---------------------------------------------------------------------------- openai and secrets

SECRET_CHOICES = ("huggingface", "openai")
"""As ``ftstudio.core.secrets.SECRET_NAMES`` (kept here so that building the parser
imports nothing)."""

if TYPE_CHECKING:
    from ftstudio.core.openai_data import OpenAIDataReport
    from ftstudio.engine.openai_finetune import JobStatus, OpenAIRunResult


def add_openai_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio openai ACTION``: check, export and train on OpenAI (no GPU needed)."""
    openai = commands.add_parser(
        "openai",
        help="fine-tune on OpenAI without a GPU: check, export, train, attach, cancel",
        description="Fine-tune an OpenAI model on a curated dataset. Nothing is uploaded "
        "without a confirmation naming exactly what leaves the machine; the API key is read "
        "from the OS keyring (ftstudio secrets set openai).",
    )
    actions = openai.add_subparsers(dest="openai_command", metavar="ACTION", required=True)

    def model_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--model",
            default=None,
            metavar="MODEL",
            help="the OpenAI model to fine-tune (default gpt-4o-mini-2024-07-18)",
        )

    def epochs_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--epochs",
            default="auto",
            metavar="N|auto",
            help="epochs to train (default auto: OpenAI picks them from the dataset size)",
        )

    check = actions.add_parser(
        "check",
        help="check a dataset against OpenAI's fine-tuning rules (exit 0 usable, 1 not, "
        "2 unreadable)",
    )
    check.add_argument("dataset", type=Path, help="the dataset file")
    model_option(check)
    epochs_option(check)
    check.add_argument("--json", action="store_true", help="print JSON instead of text")

    export = actions.add_parser(
        "export", help="write the usable examples as an OpenAI chat JSONL training file"
    )
    export.add_argument("dataset", type=Path, help="the dataset file")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="file to write")
    model_option(export)

    train = actions.add_parser(
        "train",
        help="upload a dataset and fine-tune on OpenAI, following the job (exit 0 finished "
        "or detached, 1 failed or not confirmed, 2 refused)",
        description="Shows exactly what would be uploaded, asks for confirmation (or takes "
        "--yes), uploads, creates the job and follows it. Ctrl-C stops following; the job "
        "goes on at OpenAI (ftstudio openai attach RUN_DIR follows it again, ftstudio openai "
        "cancel RUN_DIR cancels it).",
    )
    train.add_argument("dataset", type=Path, help="the dataset file (relative: to --project)")
    model_option(train)
    epochs_option(train)
    train.add_argument("--suffix", default="", help="added to the fine-tuned model's name")
    train.add_argument("--seed", type=int, default=0, help="the job's seed (default 0)")
    train.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="share held back for validation when the dataset has no stored split (0: none)",
    )
    train.add_argument(
        "--validation-file", metavar="FILE", default="", help="a separate validation dataset"
    )
    train.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the project folder for the run (default: the nearest folder with project.json "
        "above the dataset, else the dataset's folder)",
    )
    train.add_argument("--name", help="a display name for the run")
    train.add_argument(
        "--base-url",
        metavar="URL",
        help="the API address (default https://api.openai.com/v1)",
    )
    train.add_argument(
        "--yes", action="store_true", help="upload without asking (the plan is still printed)"
    )
    train.add_argument(
        "--poll", type=float, default=10.0, metavar="S", help="seconds between looks at the job"
    )

    attach = actions.add_parser("attach", help="follow the job of an OpenAI run folder again")
    attach.add_argument("run_dir", type=Path, help="the run folder")
    attach.add_argument(
        "--poll", type=float, default=10.0, metavar="S", help="seconds between looks at the job"
    )

    cancel = actions.add_parser("cancel", help="cancel the job of an OpenAI run folder")
    cancel.add_argument("run_dir", type=Path, help="the run folder")


def add_secrets_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio secrets ACTION``: tokens in the OS keyring (values never printed)."""
    secrets = commands.add_parser(
        "secrets",
        help="store the Hugging Face token and the OpenAI API key in the OS keyring",
    )
    actions = secrets.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    setter = actions.add_parser(
        "set",
        help="store a secret, typed hidden (or piped on standard input); never an argument",
    )
    setter.add_argument("name", choices=SECRET_CHOICES, help="which secret")
    deleter = actions.add_parser("delete", help="remove a secret from the keyring")
    deleter.add_argument("name", choices=SECRET_CHOICES, help="which secret")
    status = actions.add_parser("status", help="which secrets are set (values are never shown)")
    status.add_argument("--json", action="store_true", help="print JSON instead of text")


def _epochs_arg(value: str, parser: argparse.ArgumentParser) -> int:
    """``--epochs``: 0 for auto, else a whole number from 1 to 50."""
    if value.strip().lower() == "auto":
        return 0
    try:
        epochs = int(value)
    except ValueError:
        epochs = -1
    if not 1 <= epochs <= 50:
        parser.error(f"--epochs must be auto or a whole number from 1 to 50, not {value!r}")
    return epochs


def _openai(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio openai ACTION``."""
    from ftstudio.core.dataset.formats import DatasetReadError

    try:
        if args.openai_command == "check":
            return _openai_check(args, parser)
        if args.openai_command == "export":
            return _openai_export(args)
        if args.openai_command == "train":
            return _openai_train(args, parser)
        if args.openai_command == "attach":
            return _openai_attach(args)
        return _openai_cancel(args)
    except DatasetReadError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 2


def _openai_report_lines(path: Path, report: OpenAIDataReport) -> list[str]:
    lines = []
    for issue in report.issues:
        where = f"{path}:{issue.line}" if issue.line else f"{path}"
        field = f" {issue.field}" if issue.field else ""
        lines.append(f"{where}: {issue.severity} {issue.code}{field}: {issue.message}")
    lines.append(report.summary())
    return lines


def _openai_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import json

    from ftstudio.core.openai_data import DEFAULT_MODEL, check_openai_dataset

    report = check_openai_dataset(
        args.dataset,
        args.model or DEFAULT_MODEL,
        n_epochs=_epochs_arg(args.epochs, parser),
        counter=_offline_counter(),
    )
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print("\n".join(_openai_report_lines(args.dataset, report)))
        if not report.ok:
            print("Not usable for OpenAI fine-tuning until the errors above are fixed.")
    return 0 if report.ok else 1


def _openai_export(args: argparse.Namespace) -> int:
    from ftstudio.core.dataset.formats import load_dataset
    from ftstudio.core.openai_data import (
        DEFAULT_MODEL,
        OpenAIDataError,
        check_openai_dataset,
        write_openai_file,
    )

    if args.out.exists() and args.dataset.exists() and args.out.samefile(args.dataset):
        print(
            f"ftstudio: {args.out} is the dataset itself; write to another file.", file=sys.stderr
        )
        return 2
    dataset = load_dataset(args.dataset)
    report = check_openai_dataset(dataset, args.model or DEFAULT_MODEL)
    try:
        written = write_openai_file(dataset, args.out, report=report)
    except OpenAIDataError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"ftstudio: cannot write {args.out}: {error}", file=sys.stderr)
        return 1
    left = f" ({_count(report.left_out, 'example')} left out)" if report.left_out else ""
    print(f"Wrote {_count(len(report.usable), 'example')} to {written} for {report.model}{left}.")
    print(report.summary())
    return 0


def _openai_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ftstudio.core.openai_data import DEFAULT_MODEL
    from ftstudio.core.runs import find_project_folder
    from ftstudio.engine.openai_finetune import (
        OpenAIJobConfig,
        OpenAIJobError,
        run_openai_job,
        upload_plan,
    )

    refused = _offline_refusal("no file was uploaded and no job was started")
    if refused is not None:
        return refused
    if not 0 <= args.val_fraction <= 0.5:
        parser.error(f"--val-fraction must be from 0 to 0.5, not {args.val_fraction}")
    if args.poll < 0:
        parser.error("--poll must not be negative")
    config = OpenAIJobConfig(
        model=args.model or DEFAULT_MODEL,
        n_epochs=_epochs_arg(args.epochs, parser),
        suffix=args.suffix,
        seed=args.seed,
        validation_share=args.val_fraction,
        validation_file=args.validation_file,
    )
    dataset_path = args.dataset
    if args.project is not None and not dataset_path.is_absolute():
        dataset_path = args.project / dataset_path
    project = args.project or find_project_folder(dataset_path.resolve().parent)
    project = Path(project or dataset_path.resolve().parent)
    plan = upload_plan(
        dataset_path, config, project=project, base_url=args.base_url, counter=_offline_counter()
    )
    print(plan.confirmation_text())
    for note in plan.notes:
        print(f"Note: {note}")
    if plan.problems:
        for problem in plan.problems:
            print(f"ftstudio: {problem}", file=sys.stderr)
        print("Nothing was uploaded.", file=sys.stderr)
        return 1
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "ftstudio: not uploading: confirm on a terminal, or add --yes once you have "
                "read the plan above.",
                file=sys.stderr,
            )
            return 2
        answer = input(f"Upload to {plan.host} and start the job? Type yes to confirm: ")
        if answer.strip().lower() not in ("yes", "y"):
            print("Nothing was uploaded.")
            return 1
    printer = _OpenAIPrinter()
    with _detach_on_interrupt() as detach:
        try:
            result = run_openai_job(
                plan,
                printer,
                None,
                project=project,
                confirmed=True,
                name=args.name,
                poll_interval=args.poll,
                on_status=printer.status,
                detach=detach,
            )
        except OpenAIJobError as error:
            print(f"ftstudio: {error}", file=sys.stderr)
            return 1
        finally:
            printer.close()
    return _openai_exit(result)


def _openai_attach(args: argparse.Namespace) -> int:
    from ftstudio.engine.openai_finetune import OpenAIJobError, attach_openai_job

    refused = _offline_refusal("the job was not followed")
    if refused is not None:
        return refused
    printer = _OpenAIPrinter()
    with _detach_on_interrupt() as detach:
        try:
            result = attach_openai_job(
                args.run_dir,
                printer,
                poll_interval=args.poll,
                on_status=printer.status,
                detach=detach,
            )
        except OpenAIJobError as error:
            print(f"ftstudio: {error}", file=sys.stderr)
            return 1
        finally:
            printer.close()
    return _openai_exit(result)


def _openai_cancel(args: argparse.Namespace) -> int:
    from ftstudio.engine.openai_finetune import OpenAIJobError, cancel_openai_job

    refused = _offline_refusal("the job was not cancelled")
    if refused is not None:
        return refused
    try:
        status = cancel_openai_job(args.run_dir)
    except OpenAIJobError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    print(f"The job of {args.run_dir} is now {status}.")
    return 0


def _openai_exit(result: OpenAIRunResult) -> int:
    if result.status == "detached":
        print(
            f"{result.message}\nFollow it again: ftstudio openai attach {result.run_dir}\n"
            f"Cancel it: ftstudio openai cancel {result.run_dir}"
        )
        return 0
    return {"finished": 0, "stopped": 130}.get(result.status, 1)


class _detach_on_interrupt:  # noqa: N801 - used as a context manager, like a function
    """Ctrl-C sets the returned event (stop following; the job goes on); twice aborts."""

    def __enter__(self) -> Any:
        import signal
        import threading

        self.event = threading.Event()
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.previous = signal.getsignal(signal.SIGINT)

            def interrupt(signum: int, frame: Any) -> None:
                if self.event.is_set():
                    signal.signal(signal.SIGINT, self.previous)
                    raise KeyboardInterrupt
                self.event.set()
                print(
                    "\nStopping to follow the job; it goes on at OpenAI (Ctrl-C again to abort).",
                    file=sys.stderr,
                )

            signal.signal(signal.SIGINT, interrupt)
        return self.event

    def __exit__(self, *exc: object) -> None:
        if self.active:
            import signal

            signal.signal(signal.SIGINT, self.previous)


class _OpenAIPrinter:
    """Prints an OpenAI job's events and status; one updating line per step on a terminal."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.open_line = False
        self.eval_loss: float | None = None

    def __call__(self, event: TrainingEvent) -> None:
        kind = event.kind
        if kind == "started":
            self._line(f"Run {event.run_id}: {event.device}.\nFolder: {event.run_dir}")
        elif kind == "step":
            parts = [f"step {event.step}/{event.total_steps or '?'}", f"loss {event.loss:.4f}"]
            accuracy = event.metrics.get("train_mean_token_accuracy")
            if accuracy is not None:
                parts.append(f"token accuracy {accuracy:.3f}")
            if self.eval_loss is not None:
                parts.append(f"eval {self.eval_loss:.4f}")
            text = "  ".join(parts)
            if self.tty:
                print("\r" + text.ljust(80), end="", flush=True)
                self.open_line = True
            else:
                print(text, flush=True)
        elif kind == "evaluated":
            self.eval_loss = event.eval_loss
            if not self.tty:
                print(f"step {event.step}: eval loss {event.eval_loss:.4f}", flush=True)
        elif kind == "warning":
            self._line(f"warning ({event.code}): {event.message}", err=True)
        elif kind == "finished":
            final = f" Final loss {event.final_loss:.4f}." if event.final_loss is not None else ""
            best = (
                f" Best eval loss {event.best_eval_loss:.4f}."
                if event.best_eval_loss is not None
                else ""
            )
            self._line(f"{event.reason}{final}{best}")
        elif kind == "failed":
            self._line(f"ftstudio: OpenAI job failed ({event.code}): {event.message}", err=True)

    def status(self, update: JobStatus) -> None:
        """``on_status``: OpenAI's messages and status changes."""
        self._line(f"OpenAI: {update.message}" if update.message else f"Status: {update.status}")

    def _line(self, text: str, *, err: bool = False) -> None:
        self.close()
        print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def close(self) -> None:
        if self.open_line:
            print(flush=True)
            self.open_line = False


def _secrets(args: argparse.Namespace) -> int:
    """``ftstudio secrets ACTION``: 0 done, 1 the keyring cannot be used or refused."""
    import json

    from ftstudio.core.secrets import (
        SECRET_LABELS,
        SecretStoreError,
        delete_secret,
        secret_status,
        set_secret,
    )

    label = SECRET_LABELS.get(getattr(args, "name", ""), "")
    try:
        if args.secrets_command == "set":
            value = _read_secret(label)
            try:
                set_secret(args.name, value)
            except ValueError as error:
                print(f"ftstudio: {error}", file=sys.stderr)
                return 1
            print(f"Stored the {label} in the OS keyring.")
            return 0
        if args.secrets_command == "delete":
            removed = delete_secret(args.name)
            print(f"Removed the {label}." if removed else f"No {label} was stored.")
            return 0
        status = secret_status()
    except SecretStoreError as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    for name, is_set in status.items():
        print(f"{SECRET_LABELS[name]} ({name}): {'set' if is_set else 'not set'}")
    return 0


def _read_secret(label: str) -> str:
    """The secret's value: typed hidden on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{label} (input hidden): ")
    return sys.stdin.readline()


# ---------------------------------------------------------------- merge and export


def add_export_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio merge`` and ``ftstudio export`` (exports checked for parity)."""
    from ftstudio.core.export_config import DTYPES, FORMATS, QUANTS

    codes = "exit 0: exported and parity passed, 1: export or parity failed, 2: bad arguments"
    merge = commands.add_parser(
        "merge",
        help=f"merge a run's adapter into its base model ({codes})",
        description="Load the run's base model in --dtype (never 4-bit), merge the LoRA "
        "adapter into it and save a Hugging Face folder (safetensors, tokenizer, chat "
        "template, EOS ids), then check it against the trained model (parity.json).",
    )
    export = commands.add_parser(
        "export",
        help=f"export a run as adapter, merged, gguf or ollama ({codes})",
        description="Export a finished run and check that the export behaves like the "
        "trained model: logits and greedy tokens on validation prompts, chat template and "
        "stop tokens (written to parity.json beside the export). The export is written "
        "beside --out and renamed into place when complete; an existing --out is replaced "
        "only when it holds an earlier ftstudio export.",
    )
    for sub in (merge, export):
        sub.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder")
        if sub is export:
            sub.add_argument("--format", choices=FORMATS, required=True, help="what to export")
        sub.add_argument(
            "--out",
            type=Path,
            metavar="DIR",
            help="the export folder (default: RUN_DIR/exports/<format>)",
        )
        sub.add_argument(
            "--dtype",
            choices=DTYPES,
            default="bf16",
            help="number type of the merged weights (default bf16; fp32 is exact)",
        )
        if sub is export:
            sub.add_argument(
                "--quant",
                choices=QUANTS,
                default="q8_0",
                help="GGUF weight type for gguf and ollama (default q8_0)",
            )
        sub.add_argument(
            "--checkpoint",
            type=int,
            default=0,
            metavar="STEP",
            help="export the checkpoint saved at STEP instead of the final adapter",
        )
        sub.add_argument(
            "--parity-prompts",
            type=int,
            default=4,
            metavar="N",
            help="validation examples the parity check compares (default 4)",
        )
        sub.add_argument(
            "--json", action="store_true", help="print the result and parity report as JSON"
        )


def _export(args: argparse.Namespace) -> int:
    """``ftstudio merge`` / ``ftstudio export``: 0 passed, 1 failed, 2 bad arguments."""
    import json
    import signal
    import threading

    from ftstudio.core.export_config import ExportConfig

    if args.checkpoint < 0 or not 1 <= args.parity_prompts <= 64:
        print(
            "ftstudio: --checkpoint must be 0 or more, --parity-prompts 1 to 64.", file=sys.stderr
        )
        return 2
    config = ExportConfig(
        format=getattr(args, "format", "merged"),
        out=str(args.out) if args.out is not None else "",
        dtype=args.dtype,
        quant=getattr(args, "quant", "q8_0"),
        checkpoint=args.checkpoint,
        parity_prompts=args.parity_prompts,
    )
    progress_stream = sys.stderr if args.json else sys.stdout

    def progress(done: int, total: int, message: str) -> None:
        print(f"[{done}/{total}] {message}", file=progress_stream, flush=True)

    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    from ftstudio.engine.export import ExportError, export_run

    try:
        result = export_run(args.run_dir, config, on_progress=progress, cancel=stop)
    except ExportError as error:
        print(f"ftstudio: export failed ({error.code}): {error}", file=sys.stderr)
        if error.code == "cancelled":
            return 130
        usage = {
            "not_a_run",
            "no_adapter",
            "bad_checkpoint",
            "exists",
            "unsupported_arch",
            "missing_package",
        }
        return 2 if error.code in usage else 1
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    report = result.parity
    if args.json:
        data = {
            "path": str(result.path),
            "format": result.format,
            "passed": report.passed,
            "files": result.files,
            "size_bytes": result.size_bytes,
            "elapsed_s": round(result.elapsed_s, 2),
            "parity": report.to_json(),
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0 if report.passed else 1
    print(
        f"Exported {result.config.describe()} to {result.path} ({len(result.files)} files, "
        f"{_export_size(result.size_bytes)}) in {result.elapsed_s:.1f} s."
    )
    print(f"Parity {'PASSED' if report.passed else 'FAILED'} against {report.reference}:")
    for check in report.checks:
        print(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}: {check.message}")
    for note in report.notes:
        print(f"  note: {note}")
    if not report.passed:
        print(
            f"ftstudio: the export does not behave like the trained model; it is kept in "
            f"{result.path} and parity.json says what differs.",
            file=sys.stderr,
        )
        return 1
    return 0


def _export_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _runs_show(args: argparse.Namespace) -> int:
    """``ftstudio runs show ID``: 0 shown, 2 no such run (the existing ids are listed)."""
    import json

    from ftstudio.core.runs import find_project_folder, is_run_dir
    from ftstudio.core.runs_compare import find_run, project_runs, run_details, run_summary

    as_path = Path(args.id).expanduser()
    if is_run_dir(as_path):
        summary = run_summary(as_path.resolve())
        project = args.project or find_project_folder(as_path) or as_path.resolve().parent.parent
    else:
        project = args.project or find_project_folder(Path.cwd()) or Path.cwd()
        listing = project_runs(Path(project))
        if listing.warning:
            print(f"ftstudio: warning: {listing.warning}", file=sys.stderr)
        found = find_run(listing.runs, args.id)
        if found is None:
            ids = ", ".join(run.id for run in listing.runs) or "none"
            print(f"ftstudio: no run {args.id!r} in {project}. Its runs: {ids}.", file=sys.stderr)
            return 2
        summary = found
    details = run_details(summary, Path(project))
    if args.json:
        print(json.dumps(details, ensure_ascii=False, indent=2))
        return 0
    print(_run_text(details))
    return 0


def _run_text(details: dict[str, Any]) -> str:
    """``runs show`` as text: the summary, then config, metrics and files."""
    from ftstudio.core.runs_compare import format_value

    run = details["summary"]

    def loss(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    batch = "-"
    if run["effective_batch"] is not None:
        batch = f"{run['batch_size']} x {run['grad_accum']} = {run['effective_batch']}"
    duration = "-" if run["duration_s"] is None else _duration(run["duration_s"])
    examples = ""
    if run["train_examples"] is not None:
        examples = f", {run['train_examples']} training / {run['val_examples'] or 0} validation"
    lines = [
        f"Run {run['id']} ({run['name']}): {run['status']}",
        f"  folder         {run['path']}",
        f"  created        {run['created'] or '-'}",
        f"  started/ended  {run['started'] or '-'} / {run['ended'] or '-'}",
        f"  training time  {duration}",
        f"  method         {run['method'] or '-'} {run['objective'] or ''}".rstrip(),
        f"  base model     {run['base_model'] or '-'}",
        f"  data           {run['dataset'] or '-'} (sha256 {run['data_hash'] or '?'}{examples})",
        f"  learning rate  {format_value(run['learning_rate'])}",
        f"  epochs         {format_value(run['epochs'])}, max steps {run['max_steps'] or '-'}",
        f"  LoRA r/alpha   {format_value(run['r'])} / {format_value(run['alpha'])}",
        f"  batch          {batch}",
        f"  max length     {format_value(run['max_length'])}",
        f"  steps          {run['step']}/{run['total_steps']}",
        f"  best eval loss {loss(run['best_eval_loss'])}",
        f"  final loss     {loss(run['final_loss'])}",
    ]
    if run["message"]:
        lines.append(f"  message        {run['message']}")
    lines.append("Configuration:")
    config = details["config"]
    if config:
        width = max(len(key) for key in config)
        lines += [f"  {key.ljust(width)}  {format_value(value)}" for key, value in config.items()]
    else:
        lines.append("  (config.yaml cannot be read)")
    metrics = details["final_metrics"]
    lines.append(f"Final metrics (step {metrics.get('step', '-')}):")
    shown = {key: value for key, value in metrics.items() if key not in ("step", "time")}
    for key, value in shown.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"  {key}: {text}")
    if not shown:
        lines.append("  (none logged)")
    checkpoints = [Path(path).name for path in details["checkpoints"]]
    lines.append(f"Checkpoints: {', '.join(checkpoints) or 'none'}")
    exports = [
        f"{item['path']} ({item['description'] or item['format'] or '?'}, parity {item['parity']})"
        for item in details["exports"]
    ]
    lines.append("Exports:" + ("".join(f"\n  {item}" for item in exports) or " none"))
    reports = [Path(path).name for path in details["eval"]]
    lines.append(f"Evaluation: {', '.join(reports) or 'none'}")
    return "\n".join(lines)
