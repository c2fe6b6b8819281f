#!/usr/bin/env bash
# Build the one-folder ftstudio application with PyInstaller (Linux and macOS).
#
#   packaging/pyinstaller/build.sh [extra pyinstaller options]
#
# Run it inside the virtual environment that should be bundled, with ftstudio and the
# packaging extra installed:  pip install -e ".[package]"
# The result: dist/ftstudio/ (Linux) or dist/ftstudio.app (macOS); build files in build/.
# DISTPATH and WORKPATH override those two folders.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dist="${DISTPATH:-$root/dist}"
work="${WORKPATH:-$root/build}"
python="${PYTHON:-python}"

if ! "$python" -c "import PyInstaller" 2>/dev/null; then
  echo "PyInstaller is not installed in this environment: pip install -e \".[package]\"" >&2
  exit 1
fi
if ! "$python" -c "import importlib.metadata as m; m.version('ftstudio')" 2>/dev/null; then
  echo "ftstudio is not installed in this environment: pip install -e \".[package]\"" >&2
  exit 1
fi
"$python" -c "import torch; print(f'Bundling torch {torch.__version__}, CUDA {torch.version.cuda or \"none\"}.')"

cd "$root"
start=$(date +%s)
"$python" -m PyInstaller --noconfirm --distpath "$dist" --workpath "$work" "$@" \
  "$here/ftstudio.spec"
echo "Built in $(( $(date +%s) - start )) s:"
if [ -d "$dist/ftstudio.app" ]; then
  du -sh "$dist/ftstudio.app"
else
  du -sh "$dist/ftstudio"
  "$dist/ftstudio/ftstudio" --version
fi
