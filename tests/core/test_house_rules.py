"""The rules of the house (DESIGN.md section 2) that a test can hold: no import cycle, small modules, short
functions, no grab-bag modules. They are checked on the source (ast), so a lazy import inside a function
counts as an edge just like a top-level one: a cycle hidden in a function body still ties two modules
together."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("actp_pipeline", "assets", "sensors", "resources", "local_ops")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
GRAB_BAG_NAMES = {"utils", "util", "helpers", "helper", "misc", "common", "tools"}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules (an imported attribute of a module
    is an edge to that module)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports pkg.mod when it is a module, else an attribute of pkg
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved and resolved != module:
                edges.add(resolved)
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first == last), or None: an iterative depth-first search."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_cycle_finder_finds_a_lazy_cycle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_import_edges_count_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "p"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from p import b\n    return b\n")
    (pkg / "b.py").write_text("from .a import f\n")
    modules = {"p": pkg / "__init__.py", "p.a": pkg / "a.py", "p.b": pkg / "b.py"}
    graph = {m: _imports(m, path, modules) for m, path in modules.items()}
    assert graph["p.a"] == {"p.b"} and graph["p.b"] == {"p.a"}
    assert find_cycle(graph) == ["p.a", "p.b", "p.a"]


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _imports(m, path, modules) for m, path in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_over_500_lines():
    big = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_no_function_over_60_lines():
    long = {}
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{module}:{node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_grab_bag_modules():
    bags = [m for m in _modules() if m.rpartition(".")[2] in GRAB_BAG_NAMES]
    assert not bags, f"grab-bag modules (name them after what they hold): {bags}"


def test_statistics_touch_no_io():
    """stats/ is numbers and frames in, results out: no store, warehouse, HTTP or Dagster."""
    modules = _modules()
    allowed_roots = {"actp_pipeline.stats"}
    for module, path in modules.items():
        if not module.startswith("actp_pipeline.stats"):
            continue
        ours = {e for e in _imports(module, path, modules) if not any(e.startswith(r) for r in allowed_roots)}
        assert not ours, f"{module} imports {ours}"
        text = path.read_text()
        for banned in ("import duckdb", "import httpx", "import sqlalchemy", "import dagster", "from dagster"):
            assert banned not in text, f"{module}: {banned}"
