"""The cramcog modules import each other without circles.

The graph is built from the source with ``ast``, not by importing anything: every ``import`` and
``from ... import`` in a module counts, at the top, inside functions and under ``TYPE_CHECKING``
alike (a lazy import still ties the two modules together). Rules:

- ``from cramcog.x import y`` is an edge to ``cramcog.x.y`` when that is a module, else to
  ``cramcog.x``; relative imports are resolved first.
- A package ``__init__`` only re-exports: its edges to its own submodules are not counted, and
  an import of a name it re-exports (``from cramcog.dynamics import fit_consolidation_curve``)
  is an edge to the module that defines the name (``cramcog.dynamics.api``). Re-exports are its
  ``from ... import`` lines and its ``_LAZY`` table (``name: (module, attribute)``, loaded on
  first use, as ``cramcog/__init__.py`` and ``cramcog/dynamics/__init__.py`` have).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package -> folder, as pyproject.toml's [tool.setuptools.package-dir] ships them
PACKAGE_DIRS = {"cramcog": ROOT / "cramcog", "cramcog.kernels": ROOT / "kernels",
                "cramcog.psych_data": ROOT / "psych_data"}


def find_modules(package_dirs=None) -> dict[str, tuple[Path, bool]]:
    """{dotted name: (path, is a package __init__)} for every cramcog module."""
    modules = {}
    for package, folder in (package_dirs or PACKAGE_DIRS).items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            is_package = parts[-1] == "__init__"
            name = ".".join((package, *(parts[:-1] if is_package else parts)))
            modules.setdefault(name, (path, is_package))
    return modules


def _imports(name: str, is_package: bool, tree: ast.AST, modules) -> list[tuple[str, str | None]]:
    """Every ``(module, imported name or None)`` a module's source imports, resolved."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_package else name.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    out.append((f"{base}.{alias.name}", None))
                else:
                    out.append((base, alias.name))
    return [(m, n) for m, n in out if m in modules]


def _lazy_table(tree: ast.AST) -> list[tuple[str, str]]:
    """``(module, name)`` for each entry of a module-level ``_LAZY`` table: ``{name: (module,
    attribute or None for the module itself)}`` or ``{name: module}``."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_LAZY"
                                                for t in node.targets):
            table = ast.literal_eval(node.value)
            return [(entry, name) if isinstance(entry, str)
                    else (entry[0], None if entry[1] is None else name)
                    for name, entry in table.items()]
    return []


def import_graph(package_dirs=None) -> dict[str, set[str]]:
    """{module: modules it imports} among cramcog modules, by the rules of the docstring."""
    modules = find_modules(package_dirs)
    trees = {name: ast.parse(path.read_text(), str(path)) for name, (path, _) in modules.items()}
    raw = {name: _imports(name, is_package, trees[name], modules)
           for name, (_, is_package) in modules.items()}
    for name, (_, is_package) in modules.items():
        if is_package:
            raw[name] += [(m, n) for m, n in _lazy_table(trees[name]) if m in modules]
    # what each package __init__ re-exports: name -> the module it comes from
    reexports = {name: {n: m for m, n in raw[name] if n is not None}
                 for name, (_, is_package) in modules.items() if is_package}

    def defining(module: str, attr: str | None, seen=()) -> str:
        if attr is None or module not in reexports or attr not in reexports[module] \
                or module in seen:
            return module
        return defining(reexports[module][attr], attr, (*seen, module))

    graph = {}
    for name, (_, is_package) in modules.items():
        targets = {defining(m, attr) for m, attr in raw[name]}
        if is_package:  # its re-exports of its own submodules
            targets = {t for t in targets if not t.startswith(name + ".")}
        graph[name] = targets - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan): the import circles,
    each with every module on it."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def chain(graph, component: set[str]) -> str:
    """A shortest cycle through the circle's first module, as a readable chain that closes on
    it, and the circle's other modules."""
    start = min(component)
    paths, frontier = {start: [start]}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = paths[v] + [start]
                    rest = sorted(component - set(path))
                    return " -> ".join(path) + (f" (also on it: {', '.join(rest)})" if rest
                                                else "")
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in {component}")  # a strongly connected component has one


#: Circles this test tolerates, for now: cramcog.analysis is outside the change that made the
#: rest acyclic (issue 23, section 1). The strict xfail below fails once one is gone: then drop it.
def test_the_cramcog_modules_import_each_other_without_circles():
    graph = import_graph()
    assert "cramcog.dynamics.fit" in graph and "cramcog.kernels" in graph
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(chain(graph, c) for c in found)


def test_the_rules_find_circles_and_skip_reexports(tmp_path):
    pkg = tmp_path / "cramcog"
    for folder in ("sub", "lazy"):
        (pkg / folder).mkdir(parents=True)
    files = {"__init__.py": "", "a.py": "def f():\n    from cramcog.b import g\n",
             "b.py": "from . import c\ng = 1\n", "c.py": "from cramcog.sub import h\n",
             "sub/__init__.py": "from cramcog.sub.impl import h\nfrom .other import k\n",
             "sub/impl.py": "from cramcog.sub import k\nh = 1\n",
             "sub/other.py": "import cramcog.a\nk = 1\n",
             "lazy/__init__.py": "_LAZY = {'m': ('cramcog.lazy.mod', 'm')}\n",
             "lazy/mod.py": "m = 1\n", "d.py": "from cramcog.lazy import m\n"}
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    graph = import_graph({"cramcog": pkg})
    assert graph["cramcog.c"] == {"cramcog.sub.impl"}          # a re-exported name: its module
    assert graph["cramcog.sub"] == set()                       # an __init__'s own re-exports
    assert graph["cramcog.d"] == {"cramcog.lazy.mod"}          # a name from a _LAZY table
    assert graph["cramcog.b"] == {"cramcog.c"}                 # relative; a submodule
    found = circles(graph)
    assert found == [{"cramcog.a", "cramcog.b", "cramcog.c", "cramcog.sub.impl",
                      "cramcog.sub.other"}]
    assert chain(graph, found[0]) == ("cramcog.a -> cramcog.b -> cramcog.c -> cramcog.sub.impl "
                                      "-> cramcog.sub.other -> cramcog.a")
