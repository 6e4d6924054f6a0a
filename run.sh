#!/usr/bin/env bash
# One entry point for the README's quick start and for CI.
#   bash run.sh demo    set everything up, then run `microgradcn demo`
#   bash run.sh test    set everything up, then run the whole test suite (notebooks included), in parallel
#                       on every core (pytest-xdist; `-n 0` runs it in one process)
# Extra arguments go to the command, e.g. `bash run.sh test -k engine --hypothesis-profile=thorough`.
set -euo pipefail
cd "$(dirname "$0")"

what=${1:-}
case "$what" in
  demo|test) shift ;;
  *) echo "usage: bash run.sh demo|test [args...]" >&2; exit 2 ;;
esac

# 1. System packages: Graphviz's `dot` and a CJK font (for Chinese labels in PNG/PDF).
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in graphviz fonts-wqy-microhei; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
elif ! command -v dot >/dev/null 2>&1; then
  echo "Graphviz's 'dot' is missing. On macOS: brew install graphviz; elsewhere see https://graphviz.org/download/" >&2
  exit 1
fi

# 2. A virtual environment with the package and its test/notebook extras.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# 3. Run.
if [ "$what" = demo ]; then
  exec .venv/bin/microgradcn demo "$@"
else
  # worksteal: an idle worker takes tests queued on a busy one, so a few long tests (notebooks) do not leave a core idle.
  exec .venv/bin/python -m pytest --hypothesis-profile=ci -n auto --dist worksteal "$@"
fi
