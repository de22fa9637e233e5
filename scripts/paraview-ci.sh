#!/usr/bin/env bash
# CI step for the ParaView tests: install Debian's ParaView 5.11 and Xvfb when missing,
# start Xvfb (-noreset: without it about 1 pvpython run in 8 aborts), run the tests that
# open the outputs with pvpython and render PNGs, stop Xvfb by its PID.
# CI=true makes a missing pvpython a test failure instead of a skip.
# With --install-only it only installs (used by .ci/run before `make test`, whose ParaView
# tests start their own Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pvpython >/dev/null 2>&1 || ! command -v Xvfb >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "installing ParaView 5.11 and Xvfb (Debian packages, ~1.3 GB)"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        paraview python3-paraview xvfb xauth
fi
if [ "${1:-}" = "--install-only" ]; then exit 0; fi  # .ci/run: make test runs the ParaView tests
make setup

display=""
for n in $(seq 90 199); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then display="$n"; break; fi
done
[ -n "$display" ] || { echo "no free X display between :90 and :199" >&2; exit 1; }
Xvfb ":$display" -screen 0 1280x1024x24 -nolisten tcp -noreset >"/tmp/xvfb-$display.log" 2>&1 &
xvfb_pid=$!
stop_xvfb() { kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; }
trap stop_xvfb EXIT
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
kill -0 "$xvfb_pid" || { echo "Xvfb :$display did not start:" >&2; cat "/tmp/xvfb-$display.log" >&2; exit 1; }

DISPLAY=":$display" CI=true .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_paraview*.py
