"""The tree shows the rig's parts: layers point downward, no import circles, no name-prefix families."""
import ast
import re
from collections import defaultdict
from pathlib import Path

from tests.support import REPO

PACKAGES = ("emulator", "drivers", "hil")
BLOCK_NAMES = {"synapse_array", "synapse_driver"}
"""The chip's blocks, named as the chip's documentation names them (docs/architecture.md):
one name in every layer (emulator, RTL, models), so they are not a family of prefixed files."""
LAYERS = {"emulator": set(), "drivers": set(), "hil": {"emulator", "drivers"}}
"""What each top-level package may import from the project: imports point downward only."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in PACKAGES for p in (REPO / top).rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that ``name`` imports at module level or in a function body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            # The deepest project module the name refers to (a name may be a function).
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def test_layers_point_downward():
    wrong = [(m, t) for m, targets in _graph().items() for t in targets
             if t.split(".")[0] != m.split(".")[0] and t.split(".")[0] not in LAYERS[m.split(".")[0]]]
    assert not wrong, f"imports against the layering {LAYERS}: {wrong}"


def test_no_import_circles():
    # An import of an ancestor package (``from .. import __version__``) is left out: every
    # module imports its ancestors' __init__ anyway, and they import their children by design.
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in _graph().items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_folder_holds_a_family_of_name_prefixed_files():
    """``cli_run.py``, ``cli_accept.py`` side by side say a package is missing."""
    folders = defaultdict(list)
    for top in PACKAGES + ("tests", "suites", "bench", "rtl_models"):
        for p in (REPO / top).rglob("*"):
            if p.is_file() and p.suffix in (".py", ".c", ".h", ".v", ".sv") and "__pycache__" not in p.parts:
                folders[p.parent].append(p.stem)
    families = []
    for folder, stems in folders.items():
        prefixes = defaultdict(list)
        for stem in stems:
            m = re.match(r"^([a-z0-9]+)_", stem)
            if m and m.group(1) != "test" and stem not in BLOCK_NAMES:
                prefixes[m.group(1)].append(stem)
        families += [(str(folder.relative_to(REPO)), prefix, sorted(set(names)))
                     for prefix, names in prefixes.items() if len(set(names)) > 1]
    assert not families, f"name-prefix families (make a package of each): {families}"
