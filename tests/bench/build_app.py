"""Build the one-folder application with PyInstaller and smoke-test it (on demand, not pytest).

    python tests/bench/build_app.py [--dist DIR] [--work DIR] [--skip-build] [--keep]

Builds ``packaging/pyinstaller/ftstudio.spec`` with the running interpreter's
environment (PyInstaller comes with ``pip install -e ".[package]"``), then runs the
built program the way a user would, each command in a fresh process with its own
empty user folders and no network:

- ``--version``, ``data validate`` on the bundled sample (the resources are there),
- ``tiny-model`` (torch, transformers, tokenizers), ``train --demo`` (trl, peft,
  accelerate, datasets), ``eval`` (ROUGE-L and BLEU), ``export --format gguf`` (gguf),
- ``secrets status`` (keyring and its backends; must answer as ``python -m ftstudio``
  does, because a machine without a desktop session has no keyring to reach),
- ``screenshot`` (Qt offscreen, pyqtgraph, the stylesheet and icons), and the window
  of ``ftstudio`` and ``ftstudio-gui`` shown and closed (``FTSTUDIO_STARTUP_PROBE``).

Prints PASS/FAIL per command with its time, the build time and the folder's size;
exits 1 when a command failed. Takes 10-20 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "pyinstaller" / "ftstudio.spec"
SAMPLE_IN_BUNDLE = Path("_internal", "ftstudio", "_resources", "sample_project", "datasets")


@dataclass
class Smoke:
    """One command run against the built app and what it must show."""

    label: str
    argv: Callable[[], list[str]]
    check: Callable[[subprocess.CompletedProcess[str]], str] = lambda _: ""
    """Returns "" when the result is right, else why not (after exit code 0)."""
    program: str = "ftstudio"
    timeout_s: float = 600.0
    same_as_source: bool = False
    """Pass when exit code and output equal ``python -m ftstudio``'s (which may fail too:
    e.g. no OS keyring on a headless machine), instead of needing exit code 0."""


def folder_size(folder: Path) -> int:
    """Bytes in the files under ``folder`` (links not followed)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on the spec; returns the seconds it took."""
    start = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(SPEC),
    ]
    print("$", " ".join(command), flush=True)
    log = work.parent / "pyinstaller.log"
    work.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        print("\n".join(tail))
        raise SystemExit(f"PyInstaller failed (exit {result.returncode}); full log: {log}")
    return time.perf_counter() - start


def newest_run(project: Path) -> Path:
    """The most recent run folder of a project (run ids sort by time)."""
    runs = sorted(p for p in (project / "runs").iterdir() if p.is_dir())
    if not runs:
        raise FileNotFoundError(f"no run in {project / 'runs'}")
    return runs[-1]


def smokes(app: Path, scratch: Path) -> list[Smoke]:
    """The smoke commands, in order (later ones use what earlier ones wrote)."""
    tiny, demo, shot = scratch / "tiny", scratch / "demo", scratch / "shot.png"
    sample = app / SAMPLE_IN_BUNDLE / "it_support.jsonl"

    def contains(text: str) -> Callable[[subprocess.CompletedProcess[str]], str]:
        def check(result: subprocess.CompletedProcess[str]) -> str:
            return "" if text in result.stdout else f"no {text!r} in the output"

        return check

    def exists(path: Path) -> Callable[[subprocess.CompletedProcess[str]], str]:
        return lambda _: "" if path.exists() else f"{path} was not written"

    def png(_: subprocess.CompletedProcess[str]) -> str:
        if not shot.is_file():
            return f"{shot} was not written"
        head = shot.read_bytes()[:8]
        return "" if head == b"\x89PNG\r\n\x1a\n" else f"{shot} is not a PNG"

    return [
        Smoke("version", lambda: ["--version"], contains("ftstudio ")),
        Smoke("data validate (bundled sample)", lambda: ["data", "validate", str(sample)]),
        Smoke("tiny-model", lambda: ["tiny-model", str(tiny)], exists(tiny / "config.json")),
        Smoke(
            "train --demo --max-steps 2",
            lambda: ["train", "--demo", "--max-steps", "2", "--out", str(demo)],
            lambda _: "" if (demo / "runs").is_dir() else "no runs folder",
        ),
        Smoke(
            "eval (ROUGE-L, BLEU)",
            lambda: ["eval", str(newest_run(demo)), "--limit", "2", "--max-new-tokens", "8"],
        ),
        Smoke(
            "export --format gguf",
            lambda: [
                "export",
                str(newest_run(demo)),
                "--format",
                "gguf",
                "--out",
                str(scratch / "gguf"),
            ],
        ),
        Smoke("secrets status (keyring)", lambda: ["secrets", "status"], same_as_source=True),
        Smoke(
            "screenshot --page dataset", lambda: ["screenshot", str(shot), "--page", "dataset"], png
        ),
        Smoke("window shown: ftstudio", list, contains("ftstudio-window-shown")),
        Smoke(
            "window shown: ftstudio-gui",
            list,
            contains("ftstudio-window-shown"),
            program="ftstudio-gui",
        ),
    ]


def compare_with_source(
    frozen: subprocess.CompletedProcess[str], argv: list[str], env: dict[str, str], timeout_s: float
) -> tuple[bool, str]:
    """Whether ``python -m ftstudio ARGV`` gives the same exit code and output; (same, note)."""
    source = subprocess.run(
        [sys.executable, "-m", "ftstudio", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    got = (frozen.returncode, frozen.stdout, frozen.stderr)
    expected = (source.returncode, source.stdout, source.stderr)
    if got != expected:
        return False, f"frozen: {got}\nsource: {expected}"
    if frozen.returncode:
        return True, f"exit {frozen.returncode}, as from source: {frozen.stderr.strip()[:200]}"
    return True, ""


def run_smoke(app: Path, smoke: Smoke, env: dict[str, str]) -> tuple[bool, float, str]:
    """Run one smoke command; (passed, seconds, why it failed or "")."""
    start = time.perf_counter()
    try:
        argv = smoke.argv()
    except OSError as error:
        return False, 0.0, f"could not prepare: {error}"
    try:
        result = subprocess.run(
            [str(app / smoke.program), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=smoke.timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - start, f"timed out after {smoke.timeout_s:g} s"
    seconds = time.perf_counter() - start
    if smoke.same_as_source:
        passed, why = compare_with_source(result, argv, env, smoke.timeout_s)
        return passed, seconds, why
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        return False, seconds, f"exit {result.returncode}\n{tail}"
    why = smoke.check(result)
    return not why, seconds, why


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, help="PyInstaller's dist folder (default: temporary)")
    parser.add_argument("--work", type=Path, help="PyInstaller's build folder (default: temporary)")
    parser.add_argument(
        "--skip-build", action="store_true", help="smoke-test the app already in --dist"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    if args.skip_build and args.dist is None:
        parser.error("--skip-build needs --dist (the folder holding ftstudio/)")
    scratch = Path(tempfile.mkdtemp(prefix="ftstudio-build-"))
    dist, work = args.dist or scratch / "dist", args.work or scratch / "build"
    try:
        build_s = None if args.skip_build else build(dist, work)
        app = dist / "ftstudio"
        if not (app / "ftstudio").is_file():
            raise SystemExit(f"no built program at {app / 'ftstudio'}")
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "FTSTUDIO_CONFIG_DIR": str(scratch / "user" / "config"),
            "FTSTUDIO_DATA_DIR": str(scratch / "user" / "data"),
            "FTSTUDIO_STARTUP_PROBE": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(scratch / "user" / "hf"),
            "TOKENIZERS_PARALLELISM": "false",
        }
        # The frozen app must not lean on the source tree or the development environment.
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        failed, checks = 0, smokes(app, scratch / "smoke")
        for smoke in checks:
            (scratch / "smoke").mkdir(parents=True, exist_ok=True)
            passed, seconds, why = run_smoke(app, smoke, env)
            failed += not passed
            print(f"{'PASS' if passed else 'FAIL'}  {smoke.label:<34} {seconds:7.1f} s", flush=True)
            if why:
                print("      " + why.replace("\n", "\n      "), flush=True)
        size_gb = folder_size(app) / 1e9
        if build_s is not None:
            print(f"build: {build_s / 60:.1f} min")
        print(f"size of {app}: {size_gb:.2f} GB")
        print(f"{failed} of {len(checks)} smoke commands failed" if failed else "all passed")
        return 1 if failed else 0
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
