"""The nox session ``cross-backend`` runs, with every plugin installed, the modules that need
them all and the core modules that look at installed plugins (``noxfile.py``'s
``CROSS_BACKEND_TESTS`` and ``PLUGIN_AWARE_TESTS``); the rest of ``tests/`` runs in
``tests-3.10``/``tests-3.11`` only. A module that starts to look at plugins must join the list,
or it would never run with every plugin installed."""

from __future__ import annotations

import ast
import re

from conftest import CROSS_BACKEND_MODULES, ROOT

#: what makes a module's result depend on the installed plugins: the default registry (the
#: command line uses it), entry points, the plugin folders, the cross-backend switch
PLUGIN_AWARE = re.compile(
    r"nirhub\.cli|\"-m\", \"nirhub\"|default_registry|plugin_distributions|entry_points"
    r"|NIRHUB_CROSS_BACKEND|make_registry\("
)


def _noxfile_tuple(name: str) -> tuple[str, ...]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError(f"noxfile.py defines no {name}")


def test_the_cross_backend_modules_agree_with_conftest() -> None:
    assert _noxfile_tuple("CROSS_BACKEND_TESTS") == tuple(CROSS_BACKEND_MODULES)


def test_every_plugin_aware_module_runs_in_cross_backend() -> None:
    listed = set(_noxfile_tuple("CROSS_BACKEND_TESTS") + _noxfile_tuple("PLUGIN_AWARE_TESTS"))
    aware = {
        p.name
        for p in (ROOT / "tests").glob("test_*.py")
        if p.name != "test_ci_sessions.py" and PLUGIN_AWARE.search(p.read_text(encoding="utf-8"))
    }
    assert aware - listed == set(), f"add to PLUGIN_AWARE_TESTS in noxfile.py: {aware - listed}"
    missing = {m for m in listed if not (ROOT / "tests" / m).is_file()}
    assert not missing, f"noxfile.py lists test modules that do not exist: {missing}"
