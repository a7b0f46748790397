#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the browser tests, the JupyterLab test and the
# PDF edition drive it. As root it installs the package (and a font with the glyphs the
# book uses); otherwise it stops at once with one line saying what to run.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Chromium is missing: run 'sudo apt-get install chromium fonts-dejavu-core', then make again" >&2
  exit 1
fi
echo "Installing Debian's chromium package (once) ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
command -v chromium >/dev/null
