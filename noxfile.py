"""Test sessions. ``nox`` with no arguments runs all of them: it is the project's test command
(README.md; ``.ci/run`` calls exactly that). ``nox -l`` lists them.

* ``lint``: ``ruff check`` and ``ruff format --check``.
* ``tests-3.10``, ``tests-3.11``: the core test suite (``tests/``). torch is installed on 3.11,
  where the tests marked ``torch`` run (they load real ``.pt`` files); 3.10 deselects them.
* ``plugin-<name>``: one per ``plugins/nirhub-<name>/`` folder, found automatically; runs the
  plugin's own tests (``tests/``, with its ``framework`` and ``test`` extras installed) on a
  Python its framework supports.
* ``cross-backend``: every plugin at once. The plugins of the main environment (Python 3.11)
  are installed together; every other environment is registered as a worker environment
  (``nirhub env add``); ``nirhub list-backends`` must reach every backend; then, with
  ``NIRHUB_CROSS_BACKEND=1``, the any-to-any conversion matrix (``tests/test_any_to_any.py``,
  ``docs/any-to-any.md``; a line per pair as it runs), the README's conversion
  (``tests/test_readme_example.py``), the SpiNNaker2 and Lava cross tests and the NIR
  paper's comparisons (``tests/test_paper_reproduction.py``: every number of
  ``docs/paper-reproduction.md`` must come out again), which fail if a plugin is missing;
  and the core modules that look at installed plugins (``PLUGIN_AWARE_TESTS``) run again
  with all of it installed.
* ``paper-reproduction`` (not run by default): the same environments, then
  ``tools/paper_reproduction.py`` rewrites ``docs/paper-reproduction.md`` (after a backend is
  added or a number changed on purpose).
* ``startup`` (not run by default): ``benchmarks/cli_startup.py`` with every plugin installed.

Installing torch takes minutes and gigabytes, so plugins do not get a virtualenv each: plugins
with the same Python and the same ``test-env`` share one environment (``.nox/shared/NAME``)
where nirhub and torch are installed once. A plugin chooses them in its ``pyproject.toml``::

    [tool.nirhub]
    test-python = "3.10"    # default: the newest of PYTHONS its requires-python allows
    test-env = "lava"       # default "shared"; a separate environment for conflicting deps

A plugin without tests fails its session (pytest exit code 5 is not success).
pip, not uv: the local torch wheel is found through pip's configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nox

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 running nox
    import tomli as tomllib  # type: ignore[no-redef]

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent


def _expose_pyenv_pythons(versions: tuple[str, ...]) -> None:
    """Make ``pythonX.Y`` resolve for every version pyenv has installed.

    pyenv's shims answer for a version only when ``PYENV_VERSION`` names it, so on a fresh
    machine ``python3.10`` is not found although pyenv holds it. Listing every installed
    version we need (the current one first) makes ``pip install nox && nox`` work without
    any setup in the caller's shell.
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if not root.is_dir():
        return
    installed = sorted(p.name for p in root.iterdir() if re.fullmatch(r"\d+\.\d+\.\d+", p.name))
    chosen: list[str] = []
    current = os.environ.get("PYENV_VERSION", "")
    chosen += [v for v in current.split(":") if v]
    for want in versions:
        if any(v.startswith(want + ".") for v in chosen):
            continue
        matches = [v for v in installed if v.startswith(want + ".")]
        if matches:
            chosen.append(matches[-1])
    if chosen:
        os.environ["PYENV_VERSION"] = ":".join(chosen)


_expose_pyenv_pythons(("3.11", "3.10"))
#: Python versions sessions run on, preferred first
PYTHONS = ("3.11", "3.10")
MAIN_PYTHON = "3.11"
MAIN_ENV = "shared"
TORCH = "torch==2.13.0"
#: Python versions on which torch is pre-installed (on 3.11 it is a local CPU wheel)
TORCH_PYTHONS = ("3.11",)
RUFF = "ruff==0.17.6"
SHARED = ROOT / ".nox" / "shared"
#: what cross-backend runs with every plugin installed: the modules that need them all
#: (tests/conftest.py's CROSS_BACKEND_MODULES) and the core modules that look at installed
#: plugins (the registry, the command line, sources, worker environments, the support table);
#: tests/test_ci_sessions.py keeps both lists complete
CROSS_BACKEND_TESTS = (
    "test_any_to_any.py",
    "test_readme_example.py",
    "test_cross_lava.py",
    "test_cross_spinnaker2.py",
    "test_paper_reproduction.py",
    "test_verify_backends.py",
)
PLUGIN_AWARE_TESTS = (
    "test_cli.py",
    "test_cli_plugin_commands.py",
    "test_cli_startup.py",
    "test_cli_transcripts.py",
    "test_first_hour.py",
    "test_hub_builtin.py",
    "test_hub_convert.py",
    "test_hub_options.py",
    "test_hub_registry.py",
    "test_hub_sources.py",
    "test_hub_support_table.py",
    "test_hub_worker_cache.py",
    "test_security_hub.py",
    "test_security_io.py",
    "test_security_pickle.py",
    "test_template_plugin.py",
    "test_verify.py",
    "test_wild_files.py",
    "test_wild_models.py",
    "test_workers.py",
)

nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


# --------------------------------------------------------------------------------------------
# plugins and their shared environments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plugin:
    name: str  # "norse" for plugins/nirhub-norse
    path: Path
    python: str
    env: str
    extras: tuple[str, ...]
    needs_torch: bool
    #: other plugins under plugins/ that this one depends on (e.g. xylo -> rockpool); they are
    #: installed from the repository into the same environment, never from PyPI
    local_deps: tuple[str, ...] = ()

    @property
    def env_key(self) -> tuple[str, str]:
        return (self.python, self.env)

    @property
    def requirement(self) -> str:
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.path}{extras}"


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[(]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def discover_plugins() -> list[Plugin]:
    """Every ``plugins/nirhub-*/`` folder with a ``pyproject.toml``, by name."""
    found = []
    for folder in sorted((ROOT / "plugins").glob("nirhub-*")):
        meta_file = folder / "pyproject.toml"
        if not meta_file.is_file():
            continue
        meta = tomllib.loads(meta_file.read_text(encoding="utf-8"))
        project = meta.get("project", {})
        settings = meta.get("tool", {}).get("nirhub", {})
        python = settings.get("test-python")
        if python is None:
            spec = SpecifierSet(project.get("requires-python", ""))
            allowed = [v for v in PYTHONS if spec.contains(f"{v}.0")]
            if not allowed:
                raise SystemExit(
                    f"{folder}: requires-python {spec} allows none of {', '.join(PYTHONS)}"
                )
            python = allowed[0]
        optional = project.get("optional-dependencies", {})
        extras = tuple(e for e in ("framework", "test") if e in optional)
        requirements = list(project.get("dependencies", []))
        for extra in extras:
            requirements += optional[extra]
        local_deps = tuple(
            sorted(
                n.removeprefix("nirhub-")
                for n in _names(requirements)
                if n.startswith("nirhub-") and (ROOT / "plugins" / n / "pyproject.toml").is_file()
            )
        )
        found.append(
            Plugin(
                name=folder.name.removeprefix("nirhub-"),
                path=folder,
                python=str(python),
                env=str(settings.get("test-env", MAIN_ENV)),
                extras=extras,
                needs_torch="torch" in _names(requirements),
                local_deps=local_deps,
            )
        )
    return found


PLUGINS = discover_plugins()


def env_name(key: tuple[str, str]) -> str:
    python, group = key
    return f"{group}-py{python}"


def _python_executable(session: nox.Session, version: str) -> str:
    exe = shutil.which(f"python{version}")
    if exe is None:
        session.error(
            f"python{version} is not on PATH (with pyenv: export PYENV_VERSION=3.11.7:3.10.13)"
        )
    return exe


def shared_env(session: nox.Session, key: tuple[str, str]) -> Path:
    """The interpreter of the environment shared by the plugins of ``key`` (python, group).

    Created once with nirhub (editable, with its test extra) and, where plugins need it and
    the local wheel exists, torch; rebuilt only when ``pyproject.toml`` or the pins change.
    """
    version, _ = key
    env = SHARED / env_name(key)
    python = env / "bin" / "python"
    torch = version in TORCH_PYTHONS and (
        key == (MAIN_PYTHON, MAIN_ENV) or any(p.needs_torch for p in PLUGINS if p.env_key == key)
    )
    stamp = env / ".nirhub-base"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(f"{TORCH if torch else ''} {version}".encode())
    if python.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        session.log(f"reusing the shared environment {env}")
        return python
    if not python.exists():
        session.run(_python_executable(session, version), "-m", "venv", str(env), external=True)
    session.run(str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", external=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", *constraints(version)]
    if torch:
        session.run(*pip, TORCH, external=True)
    session.run(*pip, "-e", f"{ROOT}[test]", external=True)
    stamp.write_text(digest.hexdigest())
    return python


def with_local_deps(plugins: list[Plugin]) -> list[Plugin]:
    """``plugins`` and, recursively, the plugins under ``plugins/`` they depend on."""
    by_name = {p.name: p for p in PLUGINS}
    chosen: dict[str, Plugin] = {}
    todo = list(plugins)
    while todo:
        plugin = todo.pop()
        if plugin.name in chosen:
            continue
        chosen[plugin.name] = plugin
        todo += [by_name[d] for d in plugin.local_deps if d in by_name]
    return sorted(chosen.values(), key=lambda p: p.name)


def install_plugins(session: nox.Session, python: Path, plugins: list[Plugin]) -> None:
    """Install ``plugins`` (editable, with their extras) and the local plugins they need."""
    plugins = with_local_deps(plugins)
    if plugins:
        pins = constraints(plugins[0].python)
        args = [a for p in plugins for a in ("-e", p.requirement)]
        session.run(str(python), "-m", "pip", "install", "--quiet", *pins, *args, external=True)


def constraints(version: str) -> list[str]:
    """pip arguments that keep torch at the local CPU wheel: without them a plugin's
    dependency (e.g. norse -> torchvision) would pull the newest torch and its CUDA libraries,
    gigabytes from PyPI. A plugin that cannot live with the pin fails to install, visibly."""
    if version not in TORCH_PYTHONS:
        return []
    path = ROOT / ".nox" / "constraints.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TORCH + "\n")
    return ["-c", str(path)]


def pytest_args(session: nox.Session, *default: str) -> list[str]:
    return list(session.posargs) if session.posargs else list(default)


# --------------------------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------------------------


@nox.session(python=MAIN_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check + ruff format --check."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=["3.10", "3.11"])
def tests(session: nox.Session) -> None:
    """The core test suite (tests marked ``torch`` only where torch is installed)."""
    deselect: list[str] = []
    pins = constraints(str(session.python))
    if session.python in TORCH_PYTHONS:
        session.install(*pins, TORCH)
    else:  # no torch wheel for this Python on the machine; those tests run on 3.11
        deselect = ["-m", "not torch"]
    session.install(*pins, "-e", ".[test]")
    session.run("python", "-m", "pytest", *deselect, *pytest_args(session, "tests"))


def _make_plugin_session(plugin: Plugin) -> None:
    @nox.session(name=f"plugin-{plugin.name}", venv_backend="none")
    def plugin_session(session: nox.Session) -> None:
        python = shared_env(session, plugin.env_key)
        install_plugins(session, python, [plugin])
        session.chdir(plugin.path)
        session.run(str(python), "-m", "pytest", *pytest_args(session, "tests"), external=True)

    plugin_session.__doc__ = (
        f"Tests of plugins/nirhub-{plugin.name} (Python {plugin.python}, "
        f"environment {env_name(plugin.env_key)})."
    )


for _plugin in PLUGINS:
    _make_plugin_session(_plugin)


def every_backend(session: nox.Session) -> tuple[Path, dict[str, str]]:
    """The main shared environment with every plugin of its Python, the other plugins' shared
    environments registered as worker environments; checks that every backend is usable.
    Returns the main interpreter and the environment variables that select those workers."""
    main = (MAIN_PYTHON, MAIN_ENV)
    python = shared_env(session, main)
    install_plugins(session, python, [p for p in PLUGINS if p.env_key == main])
    config = ROOT / ".nox" / "cross-backend-environments.json"
    config.unlink(missing_ok=True)
    env = {"NIRHUB_CONFIG": str(config)}
    nirhub = str(python.parent / "nirhub")
    for key in sorted({p.env_key for p in PLUGINS} - {main}):
        worker = shared_env(session, key)
        install_plugins(session, worker, [p for p in PLUGINS if p.env_key == key])
        session.run(nirhub, "env", "add", env_name(key), str(worker), env=env, external=True)

    # stdout alone is the JSON document (messages go to stderr), so run it directly
    session.log(f"{nirhub} list-backends --json")
    proc = subprocess.run(
        [nirhub, "list-backends", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.stderr:
        session.log(proc.stderr.rstrip())
    if proc.returncode != 0:
        session.error(f"nirhub list-backends failed with exit code {proc.returncode}")
    rows = json.loads(proc.stdout)["backends"]
    for row in rows:
        session.log(f"{row['name']:<16} {row['status']:<20} {row['location']}")
    bad = [
        f"{r['name']} ({r['location']}): {r['status']}: {r['reason']}"
        for r in rows
        if r["status"] not in ("ok", "remote")
    ]
    if bad:
        session.error("backends not usable with every plugin installed:\n  " + "\n  ".join(bad))
    return python, env


@nox.session(name="cross-backend", venv_backend="none")
def cross_backend(session: nox.Session) -> None:
    """Every plugin at once: the main environment's locally, the others as workers."""
    python, env = every_backend(session)
    if not PLUGINS:
        session.log("no plugins under plugins/: the core tests already ran in tests-3.11")
        return
    # with every plugin reachable, tests/conftest.py collects the cross-backend modules: the
    # any-to-any matrix (docs/any-to-any.md, a line per pair as it runs), the paper reproduction
    # (docs/paper-reproduction.md) and the README's conversion; with them, the core modules
    # whose behaviour depends on the installed plugins (the rest of tests/ ran in tests-3.10
    # and tests-3.11 and does not look at plugins)
    env["NIRHUB_CROSS_BACKEND"] = "1"
    default = [f"tests/{m}" for m in (*CROSS_BACKEND_TESTS, *PLUGIN_AWARE_TESTS)]
    session.run(
        str(python), "-m", "pytest", *pytest_args(session, *default), env=env, external=True
    )


@nox.session(name="paper-reproduction", default=False, venv_backend="none")
def paper_reproduction(session: nox.Session) -> None:
    """Regenerate docs/paper-reproduction.md with every backend (as cross-backend has them)."""
    python, env = every_backend(session)
    session.run(
        str(python), "tools/paper_reproduction.py", *session.posargs, env=env, external=True
    )


@nox.session(default=False, venv_backend="none")
def startup(session: nox.Session) -> None:
    """CLI start-up time against `import torch`, with every plugin installed."""
    main = (MAIN_PYTHON, MAIN_ENV)
    python = shared_env(session, main)
    install_plugins(session, python, [p for p in PLUGINS if p.env_key == main])
    session.run(str(python), "benchmarks/cli_startup.py", *session.posargs, external=True)
