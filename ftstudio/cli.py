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

PAGES = ("guide", "dataset", "train", "runs", "export", "wizard")
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

    add_data_commands(commands)
    add_plan_command(commands)
    add_train_commands(commands)
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
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    parser.error(f"unknown command {command}")
    return 2


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
        out = render_page(args.out, args.page, args.project, (width, height))
    except (ProjectError, OSError) as error:
        print(f"ftstudio: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {out} ({args.page} page, {width}x{height}).")
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
        "--demo",
        action="store_true",
        help="train the sample project's examples on the tiny model (offline, minutes on a CPU)",
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
        config, project = _demo_config(args.out, args.max_steps or DEMO_STEPS)
    else:
        if args.config is None:
            parser.error("give a configuration file (ftstudio train CONFIG.yaml), or --demo")
        if args.max_steps is not None or args.out is not None:
            parser.error("--max-steps and --out go with --demo (set max_steps in the file)")
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

    printer = _ProgressPrinter()
    try:
        result = run_training(
            config, printer, stop, project=Path(project), resume=resume, name=args.name
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


def _demo_config(out: Path | None, max_steps: int) -> tuple[TrainConfig, Path]:
    """The sample project (installed into ``out`` when needed) and a short QLoRA config."""
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
    config = dataclasses.replace(
        defaults_for("qlora"),
        dataset=project.datasets.get("train", "datasets/it_support.jsonl"),
        max_steps=max_steps,
        epochs=1,
        per_device_batch_size=4,
        grad_accum=1,
        learning_rate=2e-3,
        max_length=512,
        eval_steps=max(1, min(10, max_steps // 3)),
        save_steps=max(1, min(10, max_steps // 3)),
        early_stopping_patience=0,
        gradient_checkpointing=gpu,
        precision="bf16" if gpu else "fp32",
        optimizer="paged_adamw_32bit" if gpu else "adamw_torch",
    )
    saved = save_config(config, project.folder / "demo.yaml")
    print(f"Demo: {project.folder} (configuration saved as {saved.name}).")
    return config, project.folder


class _ProgressPrinter:
    """Prints events: one updating progress line on a terminal, else a line per step."""

    def __init__(self) -> None:
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
                f"Run {event.run_id}: {event.method} on {event.device}, {event.train_examples:,} "
                f"training and {event.val_examples:,} validation examples, {event.total_steps:,} "
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
