"""The plugin floor: a plugin imports ``nirhub.backend`` and ``nirhub.ir`` and nothing else of
nirhub, and the core's own modules import each other without cycles."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

import nirhub
import nirhub.backend

ROOT = Path(__file__).resolve().parents[1]
#: production code of every plugin, the template third parties copy included
PLUGIN_SOURCES = sorted(ROOT.glob("plugins/*/src/**/*.py"))
FLOOR = ("nirhub.backend", "nirhub.ir")


def nirhub_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute import of nirhub in ``tree`` (lazy ones included)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.extend((node.lineno, n) for n in names if n.split(".")[0] == "nirhub")
    return found


def off_floor(module: str) -> bool:
    return not any(module == f or module.startswith(f + ".") for f in FLOOR)


def test_the_scan_sees_every_plugin_and_the_template() -> None:
    folders = {p.relative_to(ROOT).parts[1] for p in PLUGIN_SOURCES}
    assert "_template" in folders and {"nirhub-norse", "nirhub-lava", "nirhub-xylo"} <= folders
    assert off_floor("nirhub.hub.backend") and off_floor("nirhub") and off_floor("nirhub.testing")
    assert not off_floor("nirhub.backend") and not off_floor("nirhub.ir.nodes")
    bad = ast.parse("def f():\n    from nirhub.sim.engine import x\nimport nirhub.hub\n")
    found = {m for _, m in nirhub_imports(bad) if off_floor(m)}
    assert found == {"nirhub.sim.engine", "nirhub.hub"}


def test_plugins_import_only_the_floor() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in PLUGIN_SOURCES
        for line, module in nirhub_imports(ast.parse(path.read_text(), str(path)))
        if off_floor(module)
    ]
    assert not offenders, "plugins must import only nirhub.backend and nirhub.ir:\n" + "\n".join(
        offenders
    )


def test_every_public_name_of_the_floor_resolves() -> None:
    assert len(set(nirhub.backend.__all__)) == len(nirhub.backend.__all__)
    for name in nirhub.backend.__all__:
        assert getattr(nirhub.backend, name) is not None, name
    with pytest.raises(AttributeError):
        nirhub.backend.not_a_name  # noqa: B018


def test_importing_the_interface_does_not_load_the_simulator() -> None:
    import subprocess

    code = (
        "import sys\nfrom nirhub.backend import Backend, BackendDescriptor, Option, hookimpl\n"
        "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'nirhub.sim'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def core_modules() -> dict[str, Path]:
    found = {"nirhub": Path(nirhub.__file__)}
    for info in pkgutil.walk_packages(nirhub.__path__, "nirhub."):
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin is not None
        found[info.name] = Path(spec.origin)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the nirhub modules it imports at import time or lazily (any import counts)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([base] if base else [])])
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):
                    deps.add(t)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_core_has_no_import_cycles() -> None:
    """A package's ``__init__`` importing its own submodules is not counted as a cycle (a
    submodule importing its package's name is how Python imports it); everything else is."""
    found = cycles(import_graph(core_modules()))
    assert not found, "import cycles in nirhub:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_plugins_have_no_import_cycles() -> None:
    for src in sorted(ROOT.glob("plugins/*/src")):
        modules = {}
        for path in src.rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
        found = cycles(import_graph(modules))
        assert not found, f"import cycles in {src.parent.name}: {found}"


def test_plugin_modules_stay_cheap() -> None:
    """``nirhub list-backends`` imports every plugin module: through the floor, none of them
    may pull in numpy (let alone a framework)."""
    import subprocess

    srcs = sorted(str(p) for p in ROOT.glob("plugins/*/src"))
    modules = []
    for toml in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        text = toml.read_text()
        section = text.split('[project.entry-points."nirhub.backends"]', 1)[1].split("\n[", 1)[0]
        modules += [line.split("=", 1)[1].strip().strip('"').split(":")[0]
                    for line in section.splitlines() if "=" in line]  # fmt: skip
    assert "nirhub_norse.plugin" in modules and "nirhub_npjson.plugin" in modules
    code = (
        "import importlib, sys\n"
        f"sys.path[:0] = {srcs!r}\n"
        f"for m in {sorted(set(modules))!r}:\n"
        "    importlib.import_module(m)\n"
        "print(sorted(m for m in ('numpy', 'torch', 'jax', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
