"""``ftstudio secrets ACTION``: tokens in the OS keyring (values never printed)."""

# ruff: noqa: T201  (a command line prints)

from __future__ import annotations

import argparse
import sys

from ftstudio.cli.common import CommandFailed, add_json_option, print_json

SECRET_CHOICES = ("huggingface", "openai")
"""As ``ftstudio.core.secrets.SECRET_NAMES`` (kept here so that building the parser
imports nothing)."""


def add_commands(commands: argparse._SubParsersAction) -> None:
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
    deleter = actions.add_parser("delete", help="remove a secret from the keyring")
    for sub in (setter, deleter):
        sub.add_argument("name", choices=SECRET_CHOICES, help="which secret")
    status = actions.add_parser("status", help="which secrets are set (values are never shown)")
    add_json_option(status)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``ftstudio secrets ACTION``: 0 done, 1 the keyring cannot be used or refused."""
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
                raise CommandFailed(str(error), 1) from error
            print(f"Stored the {label} in the OS keyring.")
            return 0
        if args.secrets_command == "delete":
            removed = delete_secret(args.name)
            print(f"Removed the {label}." if removed else f"No {label} was stored.")
            return 0
        status = secret_status()
    except SecretStoreError as error:
        raise CommandFailed(str(error), 1) from error
    if args.json:
        print_json(status)
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
