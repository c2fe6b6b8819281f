"""``ftstudio eval`` (base vs tuned answers) and ``ftstudio losses`` (loss per example)."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftstudio.cli.common import CommandFailed, print_json, print_table
from ftstudio.cli.progress import LinePrinter


def add_commands(commands: argparse._SubParsersAction) -> None:
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
    _run_dir_argument(evaluate)
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
    _adapter_option(evaluate, "evaluate")
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
    _run_dir_argument(losses)
    losses.add_argument(
        "--top", type=int, default=20, metavar="N", help="rows to print (default 20; 0: all)"
    )
    _adapter_option(losses, "measure")
    losses.add_argument("--json", action="store_true", help="print every row as JSON")


def _run_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the run folder (runs/<run id>)")


def _adapter_option(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--adapter",
        type=Path,
        metavar="DIR",
        help=f"the adapter or checkpoint folder to {verb} (default: the run's final one)",
    )


class _EvalProgress(LinePrinter):
    """One updating progress line on stderr when it is a terminal; silent otherwise."""

    def __init__(self) -> None:
        super().__init__(stderr=True)

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.tty:
            # 100 columns, the carriage return included.
            self.progress(f"[{done}/{total}] {text}"[:99], 99)


@contextmanager
def _measuring(args: argparse.Namespace) -> Iterator[_EvalProgress]:
    """Check the arguments (exit code 2), then show the progress of the models' work;
    an :class:`~ftstudio.engine.evaluate.EvaluationError` fails the command (2 when
    the input is bad, else 1)."""
    problem = _input_problem(args)
    if problem:
        raise CommandFailed(problem, 2)
    from ftstudio.engine.evaluate import EvaluationError

    progress = _EvalProgress()
    try:
        yield progress
    except EvaluationError as error:
        raise CommandFailed(str(error), 2 if error.bad_input else 1) from error
    finally:
        progress.close()


def _input_problem(args: argparse.Namespace) -> str | None:
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


def run_eval(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio eval RUN_DIR``: base vs tuned on the validation split or --data."""
    import dataclasses

    with _measuring(args) as progress:
        from ftstudio.core.evaluation.results import report_path
        from ftstudio.core.evaluation.settings import EVAL_SETTINGS
        from ftstudio.engine.evaluate import run_evaluation

        settings = EVAL_SETTINGS
        if args.max_new_tokens is not None:
            settings = dataclasses.replace(settings, max_new_tokens=args.max_new_tokens)
        report = run_evaluation(
            args.run_dir,
            data=args.data,
            settings=settings,
            limit=args.limit,
            on_progress=progress,
            adapter=args.adapter,
        )
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
        print_json(summary, default=str)
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


def run_losses(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio losses RUN_DIR``: every example's loss, highest first, with flags."""
    with _measuring(args) as progress:
        from ftstudio.core.evaluation.example_loss import losses_path
        from ftstudio.engine.example_loss import compute_example_losses

        rows = compute_example_losses(args.run_dir, on_progress=progress, adapter=args.adapter)
    saved = losses_path(args.run_dir)
    if args.json:
        print_json([row.to_json() for row in rows])
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
    print_table([header, *table], pad_last=False)
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
