"""What README.md and docs/ show runs as written.

Every fenced block names its language, and the language says what this test does with it:

* ``sh``: commands. They run as written, block by block, in a fresh copy of the repository
  (its tracked files as they are in the working tree), in order: README.md first, whose first
  block, ``./setup.sh demo``, installs everything there as on a fresh machine. Each block is one
  ``bash -euo pipefail`` session with a time bound; a command put in the background with ``&``
  is waited for until its ``--port`` answers, and killed when the block ends.
* ``python``: runs in a fresh interpreter, in a folder of its own that holds the repository's
  ``specs/`` and ``examples/``, with a temporary results store.
* ``toml``: must parse (an inventory example must also load as an inventory).
* ``text``: shown, not run (sample output, byte layouts).

Only the commands in :data:`NOT_RUN_HERE` are left out, each for the reason given there.
"""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.inventory import load_inventory
from tests.support import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LANGUAGES = ("sh", "python", "toml", "text")
NOT_RUN_HERE = {
    "./setup.sh test": "it is .ci/run, the very run this test is part of",
}
"""Documented commands this test does not run, and why."""
COMMAND_TIMEOUT_S = 900
"""Longest one documented command may take (the set-up, or a tox environment, builds a venv): a block
has this much per command, since a block of four tox environments takes more than 15 min on 2 busy cores."""
FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line} ({self.language})"


def blocks(path: Path) -> list[Block]:
    found, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(path, i + 1, m.group(1), "\n".join(lines[i + 1:end]) + "\n"))
            i = end
        i += 1
    return found


ALL_BLOCKS = [b for path in DOCS for b in blocks(path)]


def test_every_block_says_what_it_is():
    unnamed = [str(b) for b in ALL_BLOCKS if b.language not in LANGUAGES]
    assert not unnamed, f"fenced blocks need one of the languages {LANGUAGES}: {unnamed}"
    # A command shown as an indented block would escape this test: they must be fenced.
    for path in DOCS:
        inside = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if FENCE.match(line) or line.startswith("```"):
                inside = not inside
            elif not inside and re.match(r"^ {4}(\$ )?(hil|pytest|tox|\./|\.venv/|\. )", line):
                pytest.fail(f"{path.relative_to(REPO)}:{n}: a command outside a fenced sh block: {line!r}")


def test_every_toml_block_parses(tmp_path):
    for b in (b for b in ALL_BLOCKS if b.language == "toml"):
        try:
            data = tomllib.loads(b.text)
        except tomllib.TOMLDecodeError as exc:
            pytest.fail(f"{b}: {exc}")
        if "board" in data:      # an inventory example must be a good inventory
            path = tmp_path / "inventory.toml"
            path.write_text(b.text)
            load_inventory(path)


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.language == "python"], ids=str)
def test_python_block_runs_as_written(block, tmp_path):
    for name in ("specs", "examples"):
        (tmp_path / name).symlink_to(REPO / name)
    env = {**os.environ, "HIL_RESULTS": str(tmp_path / "store"), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", block.text], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_S)   # a Python block is one program
    assert done.returncode == 0, f"{block} failed:\n{block.text}\n--- stderr:\n{done.stderr[-4000:]}"


# --- the commands ---------------------------------------------------------------------------

PRELUDE = """\
set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT   # and wait: the next block may need the ports
port_free() {   # the documented ports are fixed: say so if something else already holds one
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then echo "port $1 is taken by another process" >&2; return 1; fi
}
wait_port() {   # a server put in the background takes a moment to listen
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing answers on port $1" >&2; return 1
}
"""


def commands(block: Block) -> int:
    """How many commands a block of sh holds: its lines, less comments and continuations."""
    lines = [line.strip() for line in block.text.splitlines()]
    return sum(1 for i, line in enumerate(lines)
               if line and not line.startswith("#") and not (i and lines[i - 1].endswith("\\")))


def session(block: Block) -> str:
    """The block as a bash script: documented exceptions left out, background servers awaited."""
    out = [PRELUDE]
    for line in block.text.splitlines():
        command = line.split("  #")[0].strip()
        if command in NOT_RUN_HERE:
            continue
        port = re.search(r"--port (\d+)", command)
        background = command.endswith("&") and port
        if background:
            out.append(f"port_free {port.group(1)}")
        out.append(line)
        if background:
            out.append(f"wait_port {port.group(1)}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory) -> Path:
    """The repository's tracked files, as they are in the working tree, in a folder of their own."""
    root = tmp_path_factory.mktemp("fresh") / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    return root


def test_commands_run_as_written(fresh_copy):
    """README.md's commands, then docs/'s, in a fresh copy: the set-up, then everything else."""
    sh = [b for b in ALL_BLOCKS if b.language == "sh"]
    assert sh and sh[0].text.strip() == "./setup.sh demo", "README.md must begin with the set-up"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "VIRTUAL_ENV", "HIL_")) and k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    for block in sh:
        done = subprocess.run(["bash", "-c", session(block)], cwd=fresh_copy, env=env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT_S * commands(block))
        # What failed is often far from the end of the output: show the lines that say so.
        said = "\n".join(line for line in done.stdout.splitlines() if re.search(r"Error|Failed|FAILED", line))
        assert done.returncode == 0, (f"{block} exited {done.returncode}:\n{block.text}\n--- failures:\n"
                                      f"{said[-6000:]}\n--- stdout:\n{done.stdout[-3000:]}\n--- stderr:\n"
                                      f"{done.stderr[-3000:]}")


def test_setup_stops_with_pips_error(fresh_copy, tmp_path):
    """A failed install stops the set-up with pip's own error, not a demo on a half-installed venv."""
    broken = tmp_path / "repo"
    shutil.copytree(fresh_copy, broken, ignore=shutil.ignore_patterns(".venv", "*.so", "hil_results"))
    pyproject = broken / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"numpy==', '"no-such-package-of-hil-rig==0.0.1", "numpy=='))
    done = subprocess.run(["./setup.sh", "demo"], cwd=broken, capture_output=True, text=True, timeout=600,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")})
    assert done.returncode != 0
    assert "no-such-package-of-hil-rig" in done.stderr
    assert "demo on" not in done.stdout
