"""Import layers: some pairs of evalkit modules must not import each other, even lazily.

A circle between two modules, even one hidden inside a function, means neither can be read,
tested or moved without the other; the lower module's code ends up reaching up for a private
helper. The graph here is read from the source with ``ast`` (nothing is imported), and counts
every import statement: at module level, inside functions, under ``TYPE_CHECKING``. Importing
``a.b.c`` also runs ``a.b``'s ``__init__``, so a module depends on its parent packages too.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "evalkit"

# (higher, lower): the lower module must not reach the higher one through any chain of imports.
LAYERS = [
    ("evalkit.runner.run", "evalkit.suites.lm_eval_run"),
    ("evalkit.config", "evalkit.compare.gates"),
    ("evalkit.backends.openai_api", "evalkit.backends.pricing"),
]


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, is_package: bool, node: ast.AST, modules: set[str]) -> list[str]:
    """The evalkit modules one import statement loads (the module itself where a name is one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the evalkit modules it imports anywhere in its source, parent packages included."""
    files = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(module, path.name == "__init__.py", node, set(files)):
                graph[module].update(t for t in _with_parents(target) if t in files and t != module)
    return graph


def import_chain(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The shortest chain of imports from ``start`` to ``goal``, or None when there is none."""
    came_from: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo:
        here = todo.popleft()
        if here == goal:
            chain = [here]
            while came_from[chain[-1]] is not None:
                chain.append(came_from[chain[-1]])
            return chain[::-1]
        for nxt in sorted(graph.get(here, ())):
            if nxt not in came_from:
                came_from[nxt] = here
                todo.append(nxt)
    return None


@pytest.fixture(scope="module")
def graph():
    return import_graph()


@pytest.mark.parametrize(("higher", "lower"), LAYERS)
def test_the_lower_module_never_imports_the_higher_one(graph, higher, lower):
    assert higher in graph and lower in graph, "a module of LAYERS was renamed: update the pair"
    chain = import_chain(graph, lower, higher)
    assert chain is None, "import circle: " + " -> ".join(chain)


# Imports the untied code relies on, some inside functions: if the graph missed them, the
# test above would pass for a builder that sees nothing.
USES = [
    ("evalkit.runner.run", "evalkit.suites.lm_eval_run"),  # inside run_model
    ("evalkit.suites.lm_eval_run", "evalkit.runner.answer"),  # inside a method of a class built in a function
    ("evalkit.config", "evalkit.gate_config"),  # inside load_project
    ("evalkit.compare.gates", "evalkit.gate_config"),
    ("evalkit.backends.openai_api", "evalkit.backends.pricing"),  # inside methods
    ("evalkit.backends.pricing", "evalkit.backends.openai_ft_id"),
]


@pytest.mark.parametrize(("user", "used"), USES)
def test_the_graph_sees_the_imports_that_remain(graph, user, used):
    assert used in graph[user]


def test_the_graph_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "evalkit"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "low.py").write_text("def f():\n    from evalkit.sub import high\n")
    (pkg / "sub" / "high.py").write_text("from .. import low\n")
    g = import_graph(pkg)
    assert import_chain(g, "evalkit.low", "evalkit.sub.high") == ["evalkit.low", "evalkit.sub.high"]
    assert import_chain(g, "evalkit.sub.high", "evalkit.low") == ["evalkit.sub.high", "evalkit.low"]
    assert "evalkit.sub" in g["evalkit.low"]  # the package's __init__ runs first
