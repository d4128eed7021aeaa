"""The layout's promise: dependencies flow one way and nothing imports in a circle.

Layers, top to bottom (a package may import its own modules and anything in a lower layer; never a
package of its own layer or above):

    project            settings, ASGI app, URLs, routing
    apps.live          composition root and process entry points (serve, orderbook_stream, runworker)
    apps.overlays      the edge: API, WebSocket consumer, page, push contract
    apps.reactions     what the liquidity in an order block did when price arrived, measured with
                       confluence's rules (the same numbers the page shows for the block)
    apps.confluence, apps.alerts
                       features built on features (confluence: the book's liquidity inside the order
                       blocks; alerts react to zones and order blocks)
    apps.zones, apps.orderblocks, apps.heatmap, apps.simulator
                       features (and the Binance look-alike that feeds the demo and the tests,
                       and replays recordings)
    apps.recording     the Binance wire as recorded: line formats, recordings, the recorder
    apps.book          the local order book and its Binance connection
    apps.core, apps.json_http
                       shared core: process resources, JSON/HTTP helpers

Every import counts, including those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("apps", "project")

LAYERS: dict[str, int] = {
    "apps.core": 0,
    "apps.json_http": 0,
    "apps.book": 1,
    "apps.recording": 2,
    "apps.zones": 3,
    "apps.orderblocks": 3,
    "apps.heatmap": 3,
    "apps.simulator": 3,
    "apps.confluence": 4,
    "apps.alerts": 4,
    "apps.reactions": 5,
    "apps.overlays": 6,
    "apps.live": 7,
    "project": 8,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str | None:
    for package in sorted(LAYERS, key=len, reverse=True):
        if module == package or module.startswith(package + "."):
            return package
    return None


def source_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for directory in SOURCE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            if path != ROOT / "apps" / "__init__.py":  # the namespace of the layers, empty
                modules[module_name(path)] = path
    return modules


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere in its body, resolved to the longest known name."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    known = set(modules)
    return {name: imported_modules(path, name, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None (iterative DFS, colours)."""
    colour: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        colour[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                colour[node] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            if colour[nxt] == 1:
                path = [n for n, _ in stack]
                return [*path[path.index(nxt) :], nxt]
            if colour[nxt] == 0:
                colour[nxt] = 1
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for importer, targets in graph.items():
        source = package_of(importer)
        assert source is not None, f"{importer} is in no layer: add its package to LAYERS"
        for target in targets:
            destination = package_of(target)
            assert destination is not None, f"{target} is in no layer: add its package to LAYERS"
            if destination != source and LAYERS[destination] >= LAYERS[source]:
                wrong.append(f"{importer} -> {target}")
    return sorted(wrong)


def test_every_import_points_down_a_layer():
    assert upward_imports(import_graph()) == []


def test_no_import_cycle_anywhere():
    assert find_cycle(import_graph()) is None


def test_book_imports_no_feature_or_edge_package():
    graph = import_graph()
    above = {p for p, layer in LAYERS.items() if layer > LAYERS["apps.book"]}
    leaks = [
        f"{m} -> {t}"
        for m, ts in graph.items()
        if package_of(m) == "apps.book"
        for t in ts
        if package_of(t) in above
    ]
    assert leaks == []


def test_the_checks_see_a_cycle_and_an_upward_import():
    """The walker is not vacuous: it finds what it is meant to find."""
    graph = {"apps.book.a": {"apps.book.b"}, "apps.book.b": {"apps.zones.c"}, "apps.zones.c": {"apps.book.a"}}
    assert find_cycle(graph) == ["apps.book.a", "apps.book.b", "apps.zones.c", "apps.book.a"]
    assert upward_imports(graph) == ["apps.book.b -> apps.zones.c"]
    real = import_graph()
    assert "apps.book.services.streamer" in real["apps.live.runtime"]
    assert "apps.book.domain.sync" in real["apps.book.services.streamer"]


MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60


def oversized_definitions() -> list[str]:
    """Classes over MAX_CLASS_LINES and functions over MAX_FUNCTION_LINES in apps/ and project/."""
    found = []
    for name, path in source_modules().items():
        if ".migrations." in name:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
                if lines > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return sorted(found)


def test_each_class_and_function_can_be_read_in_one_sitting():
    assert oversized_definitions() == []
