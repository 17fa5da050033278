#!/usr/bin/env bash
# The README's test command: installs what the tests need, then lint, types and the whole suite.
#   - Debian packages (when root and apt-get exist): PostgreSQL for the store tests, GStreamer's
#     RTSP server (a third-party server our client is tested against; plugins-bad for its x265
#     H.265 camera), fonts for the simcam clock, Mosquitto, Debian's Chromium.
#   - a virtualenv at .venv with heldar and its [test] extras, and the worker SDK (sdk/python)
#     with its own test extras and the optional analyzers' dependencies.
# Extra arguments go to the kernel's pytest run (e.g. scripts/test.sh -k cameras); without any,
# the worker SDK's own suite runs too.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(postgresql python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  gstreamer1.0-plugins-bad fonts-dejavu-core mosquitto chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "note: missing Debian packages (${missing[*]}); the tests needing them will skip" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]' -e './sdk/python[test,jpeg,person]'

lint_paths=(src tests scripts sdk/python)
[[ -d bench ]] && lint_paths+=(bench)
.venv/bin/ruff check "${lint_paths[@]}"
.venv/bin/ruff format --check "${lint_paths[@]}"
.venv/bin/mypy --strict src
(cd sdk/python && ../../.venv/bin/mypy --strict src)
.venv/bin/pytest "$@"
if (($# == 0)); then
  cd sdk/python && exec ../../.venv/bin/pytest -q
fi
