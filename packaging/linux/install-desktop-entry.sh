#!/usr/bin/env bash
# Add ftstudio to the desktop's application menu for the current user.
# Run it after `pip install` has put the `ftstudio` command on your PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
icons="$here/../../resources/icons"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
install -Dm644 "$here/ftstudio.desktop" "$data/applications/ftstudio.desktop"
install -Dm644 "$icons/ftstudio.svg" "$data/icons/hicolor/scalable/apps/ftstudio.svg"
install -Dm644 "$icons/ftstudio-256.png" "$data/icons/hicolor/256x256/apps/ftstudio.png"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "ftstudio added to the application menu ($data/applications/ftstudio.desktop)."
