"""``ftstudio runs list`` and ``ftstudio runs show``: a project's training runs."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ftstudio.cli.common import CommandFailed, add_json_option, duration, print_json, print_table


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``ftstudio runs ACTION`` (the run list, one run)."""
    runs = commands.add_parser("runs", help="list a project's training runs")
    actions = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every run: status, steps, losses, folder")
    show = actions.add_parser(
        "show",
        help="one run: summary, configuration, final metrics, checkpoints, exports "
        "(exit 2: no such run)",
    )
    show.add_argument("id", help="the run's id (or a unique start of it), name, or folder")
    for sub, instead in ((listing, "a table"), (show, "text")):
        sub.add_argument(
            "--project",
            type=Path,
            metavar="DIR",
            help="the project folder (default: the nearest folder with project.json, else here)",
        )
        add_json_option(sub, instead)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio runs ACTION``."""
    if args.runs_command == "show":
        return _show(args)
    return _list(args)


def _list(args: argparse.Namespace) -> int:
    """``ftstudio runs list``: 0 listed, 1 the database cannot be read."""
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
            raise CommandFailed(str(error), 1) from error
    if args.json:
        print_json([record.to_json() for record in records])
        return 0
    if not records:
        print(f"No runs in {project}.")
        return 0
    header = ("id", "status", "steps", "final loss", "best eval", "method", "name")
    rows = [
        [
            str(cell)
            for cell in (
                record.id,
                record.status,
                f"{record.step}/{record.total_steps}",
                _loss(record.final_loss),
                _loss(record.best_eval_loss),
                record.method,
                record.name,
            )
        ]
        for record in records
    ]
    print_table([header, *rows])
    return 0


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _show(args: argparse.Namespace) -> int:
    """``ftstudio runs show ID``: 0 shown, 2 no such run (the existing ids are listed)."""
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
            raise CommandFailed(f"no run {args.id!r} in {project}. Its runs: {ids}.", 2)
        summary = found
    details = run_details(summary, Path(project))
    if args.json:
        print_json(details)
        return 0
    print(_run_text(details))
    return 0


def _run_text(details: dict[str, Any]) -> str:
    """``runs show`` as text: the summary, then config, metrics and files."""
    from ftstudio.core.runs_compare import format_value

    run = details["summary"]
    batch = "-"
    if run["effective_batch"] is not None:
        batch = f"{run['batch_size']} x {run['grad_accum']} = {run['effective_batch']}"
    training_time = "-" if run["duration_s"] is None else duration(run["duration_s"])
    examples = ""
    if run["train_examples"] is not None:
        examples = f", {run['train_examples']} training / {run['val_examples'] or 0} validation"
    lines = [
        f"Run {run['id']} ({run['name']}): {run['status']}",
        f"  folder         {run['path']}",
        f"  created        {run['created'] or '-'}",
        f"  started/ended  {run['started'] or '-'} / {run['ended'] or '-'}",
        f"  training time  {training_time}",
        f"  method         {run['method'] or '-'} {run['objective'] or ''}".rstrip(),
        f"  base model     {run['base_model'] or '-'}",
        f"  data           {run['dataset'] or '-'} (sha256 {run['data_hash'] or '?'}{examples})",
        f"  learning rate  {format_value(run['learning_rate'])}",
        f"  epochs         {format_value(run['epochs'])}, max steps {run['max_steps'] or '-'}",
        f"  LoRA r/alpha   {format_value(run['r'])} / {format_value(run['alpha'])}",
        f"  batch          {batch}",
        f"  max length     {format_value(run['max_length'])}",
        f"  steps          {run['step']}/{run['total_steps']}",
        f"  best eval loss {_loss(run['best_eval_loss'])}",
        f"  final loss     {_loss(run['final_loss'])}",
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
