"""Frozen-app entry of ``ftstudio``: without arguments the studio opens, with them the CLI runs.

PyInstaller builds the ``ftstudio`` executable from this script (see ``ftstudio.spec``).
"""

import multiprocessing
import sys

if __name__ == "__main__":
    # A child process started with "spawn" (Windows, macOS) re-runs this executable;
    # freeze_support() turns it into that child instead of a second studio.
    multiprocessing.freeze_support()
    from ftstudio.cli import main

    sys.exit(main())
