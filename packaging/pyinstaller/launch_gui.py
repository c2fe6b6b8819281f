"""Frozen-app entry of ``ftstudio-gui``: the studio window, built without a console on Windows.

PyInstaller builds the ``ftstudio-gui`` executable from this script (see ``ftstudio.spec``).
"""

import multiprocessing
import os
import sys


def _give_streams_a_home() -> None:
    """Send output to a log file when there is no console (a windowed Windows build).

    Without a console ``sys.stdout`` and ``sys.stderr`` are ``None``, and the first
    library that writes a warning or a progress bar would fail. The log goes to
    ``gui.log`` in the user data folder (platformdirs), else nowhere.
    """
    if sys.stdout is not None and sys.stderr is not None:
        return
    from ftstudio.core.paths import data_dir

    try:
        folder = data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stream = open(folder / "gui.log", "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    except OSError:
        stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    for name in ("stdout", "stderr", "__stdout__", "__stderr__"):
        if getattr(sys, name) is None:
            setattr(sys, name, stream)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    _give_streams_a_home()
    from ftstudio.app import main

    sys.exit(main())
