"""``ftstudio openai ACTION``: check, export and fine-tune on OpenAI (no GPU needed)."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftstudio.cli.common import CommandFailed, add_json_option, count, print_json
from ftstudio.cli.progress import EventPrinter, StopOnInterrupt

if TYPE_CHECKING:  # type hints only: nothing is imported at run time
    import threading

    from ftstudio.core.openai_data import OpenAIDataReport
    from ftstudio.engine.openai_finetune import JobStatus, OpenAIRunResult


def add_commands(commands: argparse._SubParsersAction) -> None:
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

    def poll_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--poll", type=float, default=10.0, metavar="S", help="seconds between looks at the job"
        )

    check = actions.add_parser(
        "check",
        help="check a dataset against OpenAI's fine-tuning rules (exit 0 usable, 1 not, "
        "2 unreadable)",
    )
    check.add_argument("dataset", type=Path, help="the dataset file")
    model_option(check)
    epochs_option(check)
    add_json_option(check)

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
    poll_option(train)

    attach = actions.add_parser("attach", help="follow the job of an OpenAI run folder again")
    attach.add_argument("run_dir", type=Path, help="the run folder")
    poll_option(attach)

    cancel = actions.add_parser("cancel", help="cancel the job of an OpenAI run folder")
    cancel.add_argument("run_dir", type=Path, help="the run folder")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio openai ACTION``."""
    from ftstudio.core.dataset.formats import DatasetReadError

    try:
        if args.openai_command == "check":
            return _check(args, parser)
        if args.openai_command == "export":
            return _export(args)
        if args.openai_command == "train":
            return _train(args, parser)
        if args.openai_command == "attach":
            return _attach(args)
        return _cancel(args)
    except DatasetReadError as error:
        raise CommandFailed(str(error), 2) from error


def _refuse_offline(what: str) -> None:
    """Fail with exit code 1 and a plain message when offline mode is on."""
    from ftstudio.core.settings import OFFLINE_SETTING, read_settings

    if read_settings().offline:
        raise CommandFailed(
            f"offline mode is on ({OFFLINE_SETTING}), so nothing is sent to OpenAI: "
            f"{what}. Turn offline mode off in the studio's settings first.",
            1,
        )


def _offline_counter() -> Any:
    """The token estimate in offline mode (tiktoken may download its encodings), else
    ``None`` (the default counter)."""
    from ftstudio.core.settings import read_settings

    if not read_settings().offline:
        return None
    from ftstudio.core.openai_data import ESTIMATE

    return ESTIMATE


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


def _report_lines(path: Path, report: OpenAIDataReport) -> list[str]:
    lines = []
    for issue in report.issues:
        where = f"{path}:{issue.line}" if issue.line else f"{path}"
        field = f" {issue.field}" if issue.field else ""
        lines.append(f"{where}: {issue.severity} {issue.code}{field}: {issue.message}")
    lines.append(report.summary())
    return lines


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ftstudio.core.openai_data import DEFAULT_MODEL, check_openai_dataset

    report = check_openai_dataset(
        args.dataset,
        args.model or DEFAULT_MODEL,
        n_epochs=_epochs_arg(args.epochs, parser),
        counter=_offline_counter(),
    )
    if args.json:
        print_json(report.to_json())
    else:
        print("\n".join(_report_lines(args.dataset, report)))
        if not report.ok:
            print("Not usable for OpenAI fine-tuning until the errors above are fixed.")
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from ftstudio.core.dataset.formats import load_dataset
    from ftstudio.core.openai_data import (
        DEFAULT_MODEL,
        OpenAIDataError,
        check_openai_dataset,
        write_openai_file,
    )

    if args.out.exists() and args.dataset.exists() and args.out.samefile(args.dataset):
        raise CommandFailed(f"{args.out} is the dataset itself; write to another file.", 2)
    dataset = load_dataset(args.dataset)
    report = check_openai_dataset(dataset, args.model or DEFAULT_MODEL)
    try:
        written = write_openai_file(dataset, args.out, report=report)
    except OpenAIDataError as error:
        raise CommandFailed(str(error), 1) from error
    except OSError as error:
        raise CommandFailed(f"cannot write {args.out}: {error}", 1) from error
    left = f" ({count(report.left_out, 'example')} left out)" if report.left_out else ""
    print(f"Wrote {count(len(report.usable), 'example')} to {written} for {report.model}{left}.")
    print(report.summary())
    return 0


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ftstudio.core.openai_data import DEFAULT_MODEL
    from ftstudio.core.runs import find_project_folder
    from ftstudio.engine.openai_finetune import OpenAIJobConfig, run_openai_job, upload_plan

    _refuse_offline("no file was uploaded and no job was started")
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
            raise CommandFailed(
                "not uploading: confirm on a terminal, or add --yes once you have read the "
                "plan above.",
                2,
            )
        answer = input(f"Upload to {plan.host} and start the job? Type yes to confirm: ")
        if answer.strip().lower() not in ("yes", "y"):
            print("Nothing was uploaded.")
            return 1
    return _follow(
        lambda printer, detach: run_openai_job(
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
    )


def _attach(args: argparse.Namespace) -> int:
    from ftstudio.engine.openai_finetune import attach_openai_job

    _refuse_offline("the job was not followed")
    return _follow(
        lambda printer, detach: attach_openai_job(
            args.run_dir,
            printer,
            poll_interval=args.poll,
            on_status=printer.status,
            detach=detach,
        )
    )


def _follow(job: Callable[[_OpenAIPrinter, threading.Event], OpenAIRunResult]) -> int:
    """Run ``job(printer, detach)``, which follows an OpenAI job until it ends, or until
    Ctrl-C sets ``detach`` (the job goes on at OpenAI); its exit code."""
    from ftstudio.engine.openai_finetune import OpenAIJobError

    printer = _OpenAIPrinter()
    following = "\nStopping to follow the job; it goes on at OpenAI (Ctrl-C again to abort)."
    with StopOnInterrupt(following) as detach:
        try:
            result = job(printer, detach)
        except OpenAIJobError as error:
            raise CommandFailed(str(error), 1) from error
        finally:
            printer.close()
    if result.status == "detached":
        print(
            f"{result.message}\nFollow it again: ftstudio openai attach {result.run_dir}\n"
            f"Cancel it: ftstudio openai cancel {result.run_dir}"
        )
        return 0
    return {"finished": 0, "stopped": 130}.get(result.status, 1)


def _cancel(args: argparse.Namespace) -> int:
    from ftstudio.engine.openai_finetune import OpenAIJobError, cancel_openai_job

    _refuse_offline("the job was not cancelled")
    try:
        status = cancel_openai_job(args.run_dir)
    except OpenAIJobError as error:
        raise CommandFailed(str(error), 1) from error
    print(f"The job of {args.run_dir} is now {status}.")
    return 0


class _OpenAIPrinter(EventPrinter):
    """Prints an OpenAI job's events and status; one updating line per step on a terminal."""

    def on_event(self, event: Any) -> None:
        kind = event.kind
        if kind == "started":
            self.line(f"Run {event.run_id}: {event.device}.\nFolder: {event.run_dir}")
        elif kind == "step":
            parts = [f"step {event.step}/{event.total_steps or '?'}", f"loss {event.loss:.4f}"]
            accuracy = event.metrics.get("train_mean_token_accuracy")
            if accuracy is not None:
                parts.append(f"token accuracy {accuracy:.3f}")
            if self.eval_loss is not None:
                parts.append(f"eval {self.eval_loss:.4f}")
            self.progress("  ".join(parts), 80)
        elif kind == "finished":
            final = f" Final loss {event.final_loss:.4f}." if event.final_loss is not None else ""
            best = (
                f" Best eval loss {event.best_eval_loss:.4f}."
                if event.best_eval_loss is not None
                else ""
            )
            self.line(f"{event.reason}{final}{best}")
        elif kind == "failed":
            self.line(f"ftstudio: OpenAI job failed ({event.code}): {event.message}", err=True)

    def status(self, update: JobStatus) -> None:
        """``on_status``: OpenAI's messages and status changes."""
        self.line(f"OpenAI: {update.message}" if update.message else f"Status: {update.status}")
