#!/usr/bin/env bash
# Add ftstudio to the desktop's application menu for the current user.
#
#   install-desktop-entry.sh            after `pip install`: runs the `ftstudio` on your PATH
#   install-desktop-entry.sh APP_DIR    a built one-folder app (APP_DIR holds the ftstudio
#                                       program, e.g. dist/ftstudio): runs that program
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
icons="$here/../../resources/icons"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
entry="$data/applications/ftstudio.desktop"

if [ $# -gt 0 ]; then
  app="$(cd "$1" && pwd)"
  if [ ! -x "$app/ftstudio" ]; then
    echo "No ftstudio program in $app (give the folder PyInstaller built, e.g. dist/ftstudio)." >&2
    exit 1
  fi
  # The icons travel inside the app too, so the entry keeps working without this checkout.
  if [ -d "$app/_internal/ftstudio/_resources/icons" ]; then
    icons="$app/_internal/ftstudio/_resources/icons"
  fi
  install -d "$data/applications"
  # Absolute paths, quoted as the Desktop Entry Specification asks for the Exec key.
  sed -e "s|^Exec=ftstudio |Exec=\"$app/ftstudio\" |" -e "s|^TryExec=ftstudio$|TryExec=$app/ftstudio|" \
    "$here/ftstudio.desktop" >"$entry"
  chmod 644 "$entry"
else
  install -Dm644 "$here/ftstudio.desktop" "$entry"
fi
install -Dm644 "$icons/ftstudio.svg" "$data/icons/hicolor/scalable/apps/ftstudio.svg"
install -Dm644 "$icons/ftstudio-256.png" "$data/icons/hicolor/256x256/apps/ftstudio.png"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "ftstudio added to the application menu ($entry)."
