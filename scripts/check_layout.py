#!/usr/bin/env python3
"""The layout rules, checked from the code's own imports (issue 10): no import cycle between the
project's modules, and the pure packages (`statemachine/`, `policy/`) import no Temporal, SQLAlchemy,
FastAPI or file-system modules. Run: `.venv/bin/python scripts/check_layout.py`; exit 1 names what breaks.

Every import counts, also one inside a function: a lazy import hides a cycle, it does not remove it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("activities", "api", "asb", "casefile", "clients", "diagrams", "letters", "policy", "profiles",
            "statemachine",
            "web", "workflows")
PURE = ("statemachine", "policy")
#: What the pure packages may not import: the engines, and the modules that reach files or the OS.
FORBIDDEN = ("temporalio", "sqlalchemy", "fastapi", "starlette", "alembic", "pathlib", "os", "io", "shutil",
             "tomllib", "glob", "open")


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {"worker": ROOT / "worker.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """The project modules `path` imports, and every top-level name it imports (for the purity rule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner: set[str] = set()
    outer: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            outer.add("open")
        for name in names:
            outer.add(name.split(".")[0])
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                inner.add(name)
    return inner, outer


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def problems() -> list[str]:
    known = modules()
    graph: dict[str, set[str]] = {}
    out: list[str] = []
    for name, path in sorted(known.items()):
        inner, outer = imports(path, known)
        # A package's __init__ importing its own modules, and a module its own package, are not cycles.
        graph[name] = {m for m in inner if m != name and not name.startswith(m + ".") and not m.startswith(name + ".")}
        if name.split(".")[0] in PURE:
            bad = sorted(outer & set(FORBIDDEN))
            if bad:
                out.append(f"{path.relative_to(ROOT)}: a pure module imports {', '.join(bad)}")
    for group in cycles(graph):
        out.append("import cycle: " + " <-> ".join(group))
    return out


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    if not found:
        print(f"layout ok: {len(modules())} modules, no import cycle, statemachine/ and policy/ pure")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
