"""``ftstudio data ACTION``: validate, stats, convert, split and preview dataset files."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ftstudio.cli.common import CommandFailed, add_json_option, count, print_json

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    from ftstudio.core.dataset.records import Dataset, Issue
    from ftstudio.core.dataset.stats import DatasetStats
    from ftstudio.core.dataset.tokens import ExampleTokenizer

DATA_FORMATS = ("chat", "completion", "preference", "alpaca", "sharegpt", "csv", "parquet", "arrow")
"""Dataset formats (as ``ftstudio.core.dataset.formats.FORMATS``; kept here so that
building the parser imports nothing)."""


def add_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
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
        add_json_option(sub)

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

    def short_file_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("file", type=Path, help="the dataset file")
        sub.add_argument("--format", choices=DATA_FORMATS, help="the file's format")

    split = actions.add_parser(
        "split",
        help="assign examples to training and validation; stored in FILE.split.json",
    )
    short_file_options(split)
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
    add_json_option(split)

    preview = actions.add_parser(
        "preview",
        help="show the exact training text of one example and which tokens carry loss",
    )
    short_file_options(preview)
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
    add_json_option(preview)
    return actions


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
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
        "validate": _validate,
        "stats": _stats,
        "convert": _convert,
        "split": _split,
        "preview": _preview,
    }
    try:
        return handlers[args.data_command](args)
    except DatasetReadError as error:
        raise CommandFailed(str(error), 2) from error


def _load_data(path: Path, format: str | None) -> Dataset:
    """Any dataset file: text formats in core, Parquet/Arrow through the engine."""
    from ftstudio.core.dataset.formats import detect_format, load_dataset

    format = format or detect_format(path)
    if format in ("parquet", "arrow"):
        from ftstudio.engine.tabular import load_any

        return load_any(path, format)
    return load_dataset(path, format)


def _tokenizer_failure(model_dir: Path, error: Exception) -> CommandFailed:
    """The --tokenizer folder cannot be used (exit code 2)."""
    return CommandFailed(f"--tokenizer {model_dir}: {error}", 2)


def _example_tokenizer(model_dir: Path | None) -> ExampleTokenizer | None:
    """The chat-template tokenizer of ``model_dir`` (loads transformers), memoised per example."""
    if model_dir is None:
        return None
    from ftstudio.core.dataset.tokens import MemoTokenizer
    from ftstudio.engine.chat_mask import ChatTemplateTokenizer, load_tokenizer

    try:
        return MemoTokenizer(ChatTemplateTokenizer(load_tokenizer(model_dir)))
    except (OSError, ValueError) as error:
        raise _tokenizer_failure(model_dir, error) from error


def _checked(args: argparse.Namespace) -> tuple[Dataset, list[Issue], DatasetStats]:
    from ftstudio.core.dataset.stats import compute_stats
    from ftstudio.core.dataset.validate import validate_dataset

    dataset = _load_data(args.file, args.format)
    tokenizer = _example_tokenizer(args.tokenizer)
    issues = validate_dataset(dataset, tokenizer=tokenizer, max_length=args.max_length)
    stats = compute_stats(dataset, issues=issues, tokenizer=tokenizer, max_length=args.max_length)
    return dataset, issues, stats


def _validate(args: argparse.Namespace) -> int:
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
        print_json(report)
        return 1 if errors else 0
    for issue in issues:
        field = f" {issue.field}" if issue.field else ""
        print(f"{args.file}:{issue.line}: {issue.severity} {issue.code}{field}: {issue.message}")
    warnings = len(issues) - len(errors)
    affected = len({issue.record for issue in issues if issue.record >= 0})
    print(
        f"{args.file}: {dataset.format}, {len(dataset.records):,} examples, {valid:,} valid; "
        f"{count(len(errors), 'error')} and {count(warnings, 'warning')}"
        + (f" in {count(affected, 'example')}." if issues else ".")
    )
    print(stats.band.verdict)
    if errors:
        print("Fix the errors above; examples with errors are left out of training.")
    return 1 if errors else 0


def _stats(args: argparse.Namespace) -> int:
    _, _, stats = _checked(args)
    if args.json:
        print_json(stats.to_json())
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
    tags = ", ".join(f"{tag} {number:,}" for tag, number in stats.tags.items())
    lines.append(f"Tags: {tags or 'none'}; untagged {stats.untagged:,}")
    lines.append(
        f"System prompts: {len(stats.system_prompts):,} distinct; "
        f"{stats.no_system_prompt:,} examples without one"
    )
    for text, number in stats.system_prompts[:5]:
        shown = " ".join(text.split())
        shown = shown if len(shown) <= 70 else shown[:69] + "…"
        lines.append(f"  {number:>6,}  {shown}")
    lines.append(
        f"Exact duplicates: {_groups(stats.exact_duplicates)}; near-duplicates: "
        f"{_groups(stats.near_duplicates)}"
    )
    print("\n".join(lines))
    return 0


def _groups(groups: list[list[int]]) -> str:
    if not groups:
        return "none"
    copies = sum(len(group) - 1 for group in groups)
    extra = "1 extra copy" if copies == 1 else f"{copies:,} extra copies"
    return f"{count(len(groups), 'group')} ({extra})"


def _convert(args: argparse.Namespace) -> int:
    from ftstudio.core.dataset.formats import DatasetWriteError, export_openai, save_dataset

    source, target_path = args.input, args.output
    if target_path.exists() and source.exists() and target_path.samefile(source):
        raise CommandFailed(
            f"{target_path} is the input file; write the converted dataset to another file.", 2
        )
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
        raise CommandFailed(str(error), 1) from error
    except OSError as error:
        raise CommandFailed(f"cannot write {target_path}: {error}", 1) from error
    left_out = len(dataset.records) - written
    note = f" ({count(left_out, 'example')} left out: rejected or unusable)" if left_out else ""
    print(
        f"Wrote {count(written, 'example')} from {source} ({dataset.format}) to "
        f"{target_path} ({target}){note}."
    )
    return 0


def _format_for(path: Path, kind: str) -> str:
    suffix = path.suffix.lower()
    by_suffix = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow"}
    return by_suffix.get(suffix, kind)


def _split(args: argparse.Namespace) -> int:
    from ftstudio.core.dataset.split import assign_split, save_split

    dataset = _load_data(args.file, args.format)
    split = assign_split(dataset, args.val_fraction, args.seed, stratify=args.stratify)
    try:
        written = save_split(args.file, split)
    except OSError as error:
        raise CommandFailed(f"cannot write the split beside {args.file}: {error}", 1) from error
    if args.json:
        report = split.to_json()
        report["file"] = str(written)
        print_json(report)
        return 0
    print(
        f"{len(split.train):,} training and {len(split.val):,} validation examples "
        f"(fraction {args.val_fraction:g}, seed {args.seed}); "
        f"{count(len(split.excluded), 'example')} left out (rejected or unreadable)."
    )
    if len(split.strata) > 1 or "" not in split.strata:
        width = max(len(name or "(untagged)") for name in split.strata)
        print(f"{'tag':<{width}}  {'train':>7}  {'val':>7}")
        for name, (train, val) in split.strata.items():
            print(f"{name or '(untagged)':<{width}}  {train:>7,}  {val:>7,}")
    print(f"Saved the split to {written}.")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from ftstudio.engine.chat_mask import load_tokenizer, preview_example

    dataset = _load_data(args.file, args.format)
    if not 0 <= args.index < len(dataset.records):
        raise CommandFailed(
            f"{args.file} has {len(dataset.records)} examples; "
            f"--index must be 0 to {len(dataset.records) - 1}.",
            2,
        )
    record = dataset.records[args.index]
    if not record.is_parsed or not isinstance(record.data, dict):
        print(
            f"ftstudio: {args.file}, line {record.line}: this example cannot be parsed; fix "
            "it first (ftstudio data validate shows why).",
            file=sys.stderr,
        )
        return 1
    try:
        tokenizer = load_tokenizer(args.tokenizer)
    except (OSError, ValueError) as error:
        raise _tokenizer_failure(args.tokenizer, error) from error
    try:
        preview = preview_example(tokenizer, record.data, args.max_length)
    except ValueError as error:
        raise CommandFailed(f"{args.file}, line {record.line}: {error}", 1) from error
    if args.json:
        print_json(preview)
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
