"""The package's shape, read from its source with ``ast``: the layers of docs/design.md and
imports that point down them only, no cycles, short functions, private names kept private, and
a reason beside every import made inside a function."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rnncli"
MAX_LINES = 60  # the longest a function of rnncli may be, its signature and docstring included


def layers() -> list[tuple[str, list[str]]]:
    """(layer, its modules) from the table in docs/design.md, top layer first: the one list."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    table = text.split("<!-- layers -->")[1]
    rows = re.findall(r"^\| *(\d+)\. ([^|]+?) *\| *([^|]+?) *\|", table, flags=re.M)
    assert rows, "docs/design.md has no layer table between <!-- layers --> marks"
    return [(name, [m.strip().strip("`").removesuffix(".py") for m in modules.split(",")])
            for _, name, modules in rows]


def modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.glob("*.py"))}


def imported(tree: ast.Module) -> list[tuple[str, int, bool]]:
    """(rnncli module, line, made inside a function) of every import of the package in ``tree``."""
    found = []
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if n is not f}

    def module(name: str) -> str:
        return name if (PACKAGE / f"{name}.py").exists() else "__init__"

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                targets = [module(node.module.split(".")[0])]
            else:  # from . import a, b: modules, or names of the package itself
                targets = [module(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "rnncli":
            parts = node.module.split(".")
            targets = [module(parts[1])] if len(parts) > 1 else [module(a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [module(a.name.split(".")[1]) if "." in a.name else "__init__"
                       for a in node.names if a.name.split(".")[0] == "rnncli"]
        else:
            continue
        found += [(t, node.lineno, id(node) in inside) for t in targets]
    return found


def test_every_module_is_in_one_layer_of_design_md():
    listed = [m for _, ms in layers() for m in ms]
    assert len(listed) == len(set(listed)), "a module in two layers"
    assert sorted(listed) == sorted(modules()), "docs/design.md's layers and rnncli/*.py differ"


def test_imports_point_down_the_layers_only():
    level = {m: len(layers()) - i for i, (_, ms) in enumerate(layers()) for m in ms}  # the bottom is 1
    upward = [f"rnncli/{name}.py:{line} imports {target} (layer {level[target]}) from layer {level[name]}"
              for name, tree in modules().items() for target, line, _ in imported(tree)
              if target != name and level[target] > level[name]]
    assert not upward, "\n".join(upward)


def test_no_module_imports_itself_round_a_cycle():
    graph = {name: {t for t, _, _ in imported(tree) if t != name} for name, tree in modules().items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, path + [name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_every_import_inside_a_function_says_why_on_its_line_or_the_one_before():
    missing = []
    for name, tree in modules().items():
        lines = (PACKAGE / f"{name}.py").read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            for f in ast.walk(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else ():
                if isinstance(f, (ast.Import, ast.ImportFrom)) and f is not node:
                    first = (_group(node, f) or [f])[0]  # a group of imports shares one reason
                    if not any("#" in line for line in lines[first.lineno - 2:f.end_lineno]):
                        missing.append(f"rnncli/{name}.py:{f.lineno}")
    assert not missing, "a lazy import without its reason: " + ", ".join(sorted(set(missing)))


def _group(function: ast.AST, imp: ast.AST) -> list[ast.AST]:
    """The imports just before ``imp`` in its block, one after another, with ``imp``."""
    for block in ast.walk(function):
        body = getattr(block, "body", None)
        if isinstance(body, list) and imp in body:
            i = body.index(imp)
            while i > 0 and isinstance(body[i - 1], (ast.Import, ast.ImportFrom)):
                i -= 1
            return body[i:body.index(imp) + 1]
    return []


def test_no_function_of_rnncli_is_longer_than_sixty_lines():
    long = [f"rnncli/{name}.py:{n.lineno} {n.name}: {n.end_lineno - n.lineno + 1} lines"
            for name, tree in modules().items() for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_LINES]
    assert not long, "\n".join(long)


def test_no_module_takes_another_modules_private_names():
    """``from .x import _y`` and ``x._y`` for an rnncli module ``x``: a private name stays in its module."""
    taken = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = set()  # names bound to rnncli modules here
        for node in ast.walk(tree):
            rnncli_from = isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("rnncli"))
            if rnncli_from:
                taken += [f"{path.name}:{node.lineno} {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
                aliases |= {a.asname or a.name for a in node.names
                            if (PACKAGE / f"{a.name}.py").exists()}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname or a.name for a in node.names if a.name.startswith("rnncli")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                taken.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    assert not taken, "\n".join(taken)
