#!/bin/sh
# Installs Debian's Chromium for the end-to-end test (playwright-core drives /usr/bin/chromium;
# Playwright's own browser download does not work on this machine's closed network).
set -eu
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
