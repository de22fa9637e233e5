#!/usr/bin/env bash
# CI step for the report's browser test (tests/test_report_browser.py): install Debian's
# Chromium when it is missing (apt-get only; nothing downloaded from elsewhere). The test drives
# it headless itself, so no X server is needed. Idempotent: with Chromium on PATH it does nothing.
# About 120 MB of packages, ~15 s on a Debian 12 machine with the mirror close by.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "installing Chromium (Debian package, headless use only)"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        chromium fonts-dejavu-core
fi
chromium --version 2>/dev/null || { echo "chromium does not start" >&2; exit 1; }
