"""Backends that live in another Python environment ("workers").

Some frameworks cannot share an interpreter: lava-nc and lava-dl install only on Python 3.10,
Spyx only on 3.11 and later, and Sinabs/Rockpool pin an older ``nir`` than snnTorch needs.
nirhub reaches such a backend through another interpreter that has nirhub and the backend's
plugin installed:

* ``add_environment(name, python)`` registers an interpreter the user set up;
* ``create_environment(name, python="3.10", plugins=[...])`` makes a virtual environment,
  installs this very nirhub (the same source tree, or the same version from PyPI) and the
  plugins (paths or requirement strings) into it, and registers it.

The environments are kept in a small JSON file (``$NIRHUB_CONFIG``, else
``~/.config/nirhub/environments.json``): ``{name: {"python": path, ...}}``.

Listing asks each environment ``python -m nirhub.hub.worker describe`` (a second or two: the
worker imports nirhub and its plugins). The answers are cached in ``environments-cache.json``
beside the environments file, per interpreter, with a fingerprint of what was installed there
(the modification times of the interpreter and of the ``*.dist-info``/``*.egg-info``/``*.pth``
entries of every folder on the worker's ``sys.path``, and this nirhub's version): a
``pip install`` or ``uninstall`` in the environment makes the entry stale and the next listing
asks again. ``nirhub env refresh`` / ``list-backends --refresh`` ask regardless (after editing
an editable plugin's descriptor, say).

Every operation runs as a subprocess, ``python -m nirhub.hub.worker OP request.json``, started
in a private temporary folder (never the caller's: ``-m`` puts the working directory on
``sys.path``) with its output bounded (:func:`run_worker`); the
graph travels as a ``.nir`` file and the results as ``.json``/``.npz`` files in a temporary
folder. :class:`RemoteBackend` wraps this behind the ordinary :class:`Backend` interface, so
``convert()`` and ``simulate_with_backend()`` work unchanged; errors raised in the worker come
back as the same nirhub error types.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nirhub import errors
from nirhub.errors import (
    BackendUnavailableError,
    ExitCode,
    NirhubError,
    Problem,
    RefusedError,
    UsageError,
)
from nirhub.hub.backend import Backend, ConversionWarning
from nirhub.hub.descriptor import BackendDescriptor
from nirhub.hub.envconfig import (  # noqa: F401 - re-exported: part of this module's API
    ENV_CONFIG,
    ENV_ENVS_DIR,
    Environment,
    cache_path,
    config_path,
    environments,
    envs_dir,
)
from nirhub.hub.envconfig import read_config as _read_config
from nirhub.hub.envconfig import write_config as _write_config

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nirhub.hub.status import BackendStatus
    from nirhub.ir.graph import Graph
    from nirhub.sim import SimulationResult

#: bumped when the request/response format changes
PROTOCOL = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: seconds; a conversion in a worker may import torch and build a big model
DEFAULT_TIMEOUT = 3600.0
#: seconds a worker may take to list its backends (it imports its frameworks: torch, jax...)
DESCRIBE_TIMEOUT = 60.0
#: seconds a failed ``describe`` is remembered (per interpreter; ``--refresh`` asks again), so
#: that a hanging or broken environment does not cost the timeout on every listing
FAILURE_TTL = 600.0
#: bytes of stdout + stderr a worker may print; beyond this it is stopped (its answers travel
#: as files; ``describe``'s JSON is kilobytes)
OUTPUT_LIMIT = 32 * 1024 * 1024
#: bytes of a worker's stderr kept for error messages (the end of it)
STDERR_TAIL = 64 * 1024
#: bumped when the layout of the description cache changes
CACHE_FORMAT = 1
#: entries of a sys.path folder whose appearance or change means "something was installed"
_INSTALL_MARKERS = (".dist-info", ".egg-info", ".egg-link", ".pth")


class WorkerError(NirhubError):
    """A worker environment failed in a way that is not one of nirhub's own errors."""

    exit_code = ExitCode.INTERNAL


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(
            f"environment name {name!r} must start with a letter or digit and contain only "
            "letters, digits, '.', '_' and '-'"
        )


def _new_name(name: str, *, force: bool) -> dict[str, Any]:
    """The configuration, after checking that ``name`` is a valid environment name and not
    registered yet (or ``force``)."""
    _check_name(name)
    config = _read_config()
    if name in config and not force:
        raise RefusedError(
            f"an environment named {name!r} already exists",
            hint="Pass --force to replace it, or pick another name.",
        )
    return config


def add_environment(
    name: str, python: str | os.PathLike[str], *, force: bool = False
) -> Environment:
    """Register an existing interpreter (that has nirhub installed) as a worker environment."""
    config = _new_name(name, force=force)
    path = _interpreter(python)
    env = Environment(name, path)
    rows = describe_environment(env, strict=True)
    config[name] = env.to_json()
    _write_config(config)
    del rows
    return env


#: the file ``create_environment`` writes into the folder it makes; ``remove_environment``
#: deletes a folder only if it holds this file with the token recorded in the configuration
ENV_MARKER = ".nirhub-environment"


def remove_environment(name: str, *, delete: bool = True) -> Environment:
    """Forget an environment; delete its folder if nirhub created it (and ``delete``).

    The configuration file is only a claim (anyone can edit ``"created": true`` next to any
    path), so the folder is deleted only when nirhub can verify it made it: see
    :func:`deletion_refusal`. The returned environment's ``extra`` says what happened:
    ``deleted`` (bool) and, when a created environment's folder was kept, ``kept`` (why).
    """
    config = _read_config()
    if name not in config:
        known = ", ".join(sorted(config)) or "none"
        raise UsageError(f"no environment named {name!r} (environments: {known})")
    env = environments()[name]
    del config[name]
    _write_config(config)
    if not any(entry.get("python") == str(env.python) for entry in config.values()):
        _forget_description(env.python)
    outcome: dict[str, Any] = {"deleted": False}
    if delete and env.created:
        why = deletion_refusal(env)
        if why is None:
            assert env.path is not None
            shutil.rmtree(env.path, ignore_errors=True)
            outcome["deleted"] = True
        else:
            outcome["kept"] = why
    return dataclasses.replace(env, extra={**env.extra, **outcome})


def deletion_refusal(env: Environment) -> str | None:
    """Why nirhub must not delete ``env``'s folder (None: it may).

    Only a folder nirhub made: a real directory (not a link) with ``pyvenv.cfg``, the
    environment's interpreter inside it, and the :data:`ENV_MARKER` file whose token equals
    the one recorded in the configuration when the environment was created.
    """
    if not env.created or env.path is None:
        return "nirhub did not create it"
    folder = env.path
    if folder.is_symlink() or not folder.is_dir():
        return f"{folder} is not a folder (or is a link)"
    if not (folder / "pyvenv.cfg").is_file():
        return f"{folder} is not a virtual environment (no pyvenv.cfg)"
    try:
        Path(os.path.abspath(env.python)).relative_to(os.path.abspath(folder))
    except ValueError:
        return f"its interpreter {env.python} is not inside {folder}"
    token = env.extra.get("marker")
    try:
        data = json.loads((folder / ENV_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{folder} has no {ENV_MARKER} file written by nirhub"
    if not (isinstance(token, str) and token and isinstance(data, dict)):
        return "the configuration records no marker for it"
    if data.get("token") != token:
        return f"the {ENV_MARKER} file in {folder} is not the one nirhub wrote for it"
    return None


def _interpreter(python: str | os.PathLike[str]) -> Path:
    path = Path(python).expanduser()
    if not path.exists():
        found = shutil.which(str(python))
        if found is None:
            raise UsageError(f"no Python interpreter at {python}")
        path = Path(found)
    return path.absolute()


# --------------------------------------------------------------------------------------------
# creating environments
# --------------------------------------------------------------------------------------------


def find_python(version: str) -> Path:
    """The real interpreter of Python ``version`` (``"3.10"``), via PATH or pyenv."""
    if not re.fullmatch(r"\d+\.\d+", version):
        raise UsageError(f"a Python version looks like 3.10, got {version!r}")
    candidates: list[str] = []
    found = shutil.which(f"python{version}")
    if found:
        candidates.append(found)
    pyenv = shutil.which("pyenv")
    if pyenv:
        proc = subprocess.run(
            [pyenv, "which", f"python{version}"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PYENV_VERSION": _pyenv_versions(pyenv, version)
                or os.environ.get("PYENV_VERSION", ""),
            },
        )
        if proc.returncode == 0 and proc.stdout.strip():
            candidates.append(proc.stdout.strip())
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted((root / "versions").glob(f"{version}.*/bin/python"))]
    for cand in candidates:
        proc = subprocess.run(
            [
                cand,
                "-c",
                "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)",
            ],
            capture_output=True,
            text=True,
        )
        lines = proc.stdout.split()
        if proc.returncode == 0 and len(lines) == 2 and lines[0] == version:
            return Path(lines[1])
    raise BackendUnavailableError(
        f"Python {version} was not found (looked for python{version} on PATH and in pyenv)",
        hint=f"Install it (e.g. `pyenv install {version}`) or pass the interpreter's path.",
    )


def _pyenv_versions(pyenv: str, version: str) -> str:
    """The installed pyenv versions matching ``version`` (``3.10`` -> ``3.10.13``)."""
    proc = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True)
    matches = [
        v.strip()
        for v in proc.stdout.splitlines()
        if re.fullmatch(re.escape(version) + r"\.\d+", v.strip())
    ]
    return matches[-1] if matches else ""


def nirhub_requirement() -> str:
    """What to ``pip install`` to get this nirhub: its source tree, else ``nirhub==version``."""
    import nirhub

    try:
        dist = metadata.distribution("nirhub")
        direct = dist.read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        url = json.loads(direct).get("url", "")
        if url.startswith("file://"):
            from urllib.parse import unquote, urlparse

            local = Path(unquote(urlparse(url).path))
            if (local / "pyproject.toml").is_file():
                return str(local)
    root = Path(nirhub.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(
        r'^name\s*=\s*"nirhub"', pyproject.read_text(), re.MULTILINE
    ):
        return str(root)
    return f"nirhub=={nirhub.__version__}"


def _plugin_requirement(plugin: str) -> str:
    """A local folder (``./plugins/nirhub-lava``, optionally with extras: ``...[framework]``)
    as an absolute path, so pip finds it whatever its working directory; else ``plugin``."""
    folder, extras = plugin, ""
    if plugin.endswith("]") and "[" in plugin:
        folder, _, rest = plugin.rpartition("[")
        extras = "[" + rest
    p = Path(folder).expanduser()
    return str(p.absolute()) + extras if p.exists() else plugin


def create_environment(
    name: str,
    python: str | os.PathLike[str] = "3.10",
    plugins: list[str] | tuple[str, ...] = (),
    *,
    path: str | os.PathLike[str] | None = None,
    force: bool = False,
    pip_args: tuple[str, ...] = (),
) -> Environment:
    """Create a virtual environment with nirhub and ``plugins`` and register it.

    ``python`` is a version (``"3.10"``, found on PATH or through pyenv) or an interpreter
    path. ``plugins`` are local folders (plugin source trees) or requirement strings. The new
    environment goes to ``path`` (default: ``NIRHUB_ENVS_DIR/name``).
    """
    _new_name(name, force=force)
    base = (
        find_python(str(python)) if re.fullmatch(r"\d+\.\d+", str(python)) else _interpreter(python)
    )
    folder = Path(path) if path is not None else envs_dir() / name
    folder = folder.absolute()
    if folder.exists():
        if not force:
            raise RefusedError(
                f"{folder} already exists",
                hint="Pass --force to replace it, or choose another path.",
            )
        if not (folder / "pyvenv.cfg").is_file():
            raise RefusedError(f"{folder} exists and is not a virtual environment; not deleting it")
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    requirements = [nirhub_requirement()]
    for plugin in plugins:
        requirements.append(_plugin_requirement(plugin))
    try:
        _run([str(base), "-m", "venv", str(folder)], f"creating the environment {folder}")
        py = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        _run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                *pip_args,
                *requirements,
            ],
            f"installing {' '.join(requirements)} into {folder}",
        )
        token = secrets.token_hex(16)
        (folder / ENV_MARKER).write_text(
            json.dumps({"name": name, "token": token}) + "\n", encoding="utf-8"
        )
        env = Environment(name, py, True, folder, {"marker": token})
        describe_environment(env, strict=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    config = _read_config()
    config[name] = env.to_json()
    _write_config(config)
    return env


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-3000:]
        raise BackendUnavailableError(f"{what} failed (exit {proc.returncode}):\n{tail}")


# --------------------------------------------------------------------------------------------
# talking to a worker
# --------------------------------------------------------------------------------------------


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the worker must use its own site-packages, not ours
    env.pop("PYTHONHOME", None)
    env["PYTHONIOENCODING"] = "utf-8"
    # Python >= 3.11: never put the working directory (or the script's) on sys.path (-P)
    env["PYTHONSAFEPATH"] = "1"
    return env


@dataclass
class WorkerProcess:
    """How a worker process ended: exit code, stdout (up to the cap), the end of stderr."""

    returncode: int
    stdout: bytes | bytearray
    stderr: str
    #: why it was stopped ("" if it ended by itself)
    stopped: str = ""


def run_worker(
    python: Path, args: list[str], *, timeout: float, cwd: Path, limit: int | None = None
) -> WorkerProcess:
    """Run ``python -m nirhub.hub.worker *args`` isolated, with bounded output and time.

    * isolation: the working directory is ``cwd``, a private folder nirhub made (with ``-m``,
      Python puts the working directory first on ``sys.path``: the caller's folder could
      plant a ``json.py`` there); ``PYTHONPATH`` is dropped and ``PYTHONSAFEPATH`` set;
    * output: both pipes are drained by threads; stdout is kept up to ``limit`` bytes
      (default :data:`OUTPUT_LIMIT`), stderr
      only its last :data:`STDERR_TAIL` bytes; a worker printing more than ``limit`` bytes in
      all is killed (``stopped`` says so), so memory stays bounded;
    * time: killed after ``timeout`` seconds (raises :class:`subprocess.TimeoutExpired`).

    Raises FileNotFoundError if the interpreter does not exist.
    """
    import threading

    limit = OUTPUT_LIMIT if limit is None else limit
    cmd = [str(python), "-m", "nirhub.hub.worker", *args]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(cwd),
        env=_worker_env(),
    )
    out = bytearray()
    err = bytearray()
    total = [0]
    lock = threading.Lock()
    stopped: list[str] = []

    def pump(stream: Any, keep: bytearray, head: bool) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with lock:
                total[0] += len(chunk)
                over = total[0] > limit
                if head:
                    room = limit - len(keep)
                    if room > 0:
                        keep.extend(chunk[:room])
                else:
                    keep.extend(chunk)
                    if len(keep) > STDERR_TAIL:
                        del keep[: len(keep) - STDERR_TAIL]
                if over and not stopped:
                    stopped.append(f"it printed more than {limit // (1024 * 1024)} MiB")
                    _kill(proc)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, out, True), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, err, False), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise
    finally:
        if proc.poll() is None:  # Ctrl-C or another exception: never leave a worker behind
            _kill(proc)
        for t in threads:
            t.join(timeout=5)  # a grandchild may hold the pipes open; do not wait for it
        for stream in (proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:  # pragma: no cover
                pass
    return WorkerProcess(
        proc.returncode,
        out,  # not copied: it may be the size of the cap
        err.decode("utf-8", "replace"),
        stopped[0] if stopped else "",
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.kill()
    except OSError:  # pragma: no cover - already gone
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
        pass


def describe_environment(
    env: Environment, *, strict: bool = False, refresh: bool = False
) -> list[BackendStatus]:
    """Which backends a worker has: from the cache while it is fresh, else by asking the worker
    (``python -m nirhub.hub.worker describe``; ``strict`` and ``refresh`` always ask).

    Returns one row per backend it provides (the built-in ``nir`` excluded), located at
    ``env.name``. When the worker cannot be asked, returns a single ``broken`` row named after
    the environment (or raises, with ``strict``). A failure is remembered for
    :data:`FAILURE_TTL` seconds (unless the interpreter changes), so a hanging environment
    costs :data:`DESCRIBE_TIMEOUT` once, not on every listing.
    """
    if not (strict or refresh):
        cached = _cached_description(env.python)
        if cached is not None:
            return _rows(cached, env)
        failure = _cached_failure(env.python)
        if failure is not None:
            return _broken_row(
                env, f"{failure} (remembered for {FAILURE_TTL / 60:.0f} min; --refresh asks again)"
            )
    data = _ask_describe(env, strict=strict)
    if isinstance(data, str):  # what went wrong
        _store_failure(env.python, data)
        return _broken_row(env, data)
    _store_description(env.python, data)
    return _rows(data, env)


def refresh_environments(names: list[str] | tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """Ask the named environments (default: all) for their backends again; update the cache.

    Returns ``{name: rows}`` (a broken environment: one ``broken`` row, see
    :func:`describe_environment`).
    """
    configured = environments()
    unknown = [n for n in names if n not in configured]
    if unknown:
        known = ", ".join(sorted(configured)) or "none"
        raise UsageError(
            f"no environment named {', '.join(map(repr, unknown))} (environments: {known})"
        )
    chosen = list(names) or list(configured)
    return {name: describe_environment(configured[name], refresh=True) for name in chosen}


def _rows(data: dict[str, Any], env: Environment) -> list[BackendStatus]:
    from nirhub.hub.status import BUILTIN_DISTRIBUTION, BackendStatus

    rows = [BackendStatus.from_json(r, location=env.name) for r in data.get("backends", [])]
    return [r for r in rows if r.distribution != BUILTIN_DISTRIBUTION]


def _ask_describe(env: Environment, *, strict: bool) -> dict[str, Any] | str:
    """The worker's ``describe`` document, or (not ``strict``) what went wrong."""
    problem = ""
    try:
        with _Workdir() as work:
            proc = run_worker(env.python, ["describe"], timeout=DESCRIBE_TIMEOUT, cwd=work)
        if proc.stopped:
            problem = f"`{env.python} -m nirhub.hub.worker describe` was stopped: {proc.stopped}"
        elif proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no error output)"]
            problem = f"`{env.python} -m nirhub.hub.worker describe` failed: {tail[0]}"
        else:
            data = json.loads(proc.stdout.decode("utf-8", "replace"))
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            if data.get("protocol") != PROTOCOL:
                problem = (
                    f"its nirhub speaks worker protocol {data.get('protocol')}, this one "
                    f"{PROTOCOL}; install the same nirhub version in both"
                )
    except (FileNotFoundError, PermissionError):
        problem = f"its interpreter {env.python} does not exist (or cannot be run)"
    except subprocess.TimeoutExpired:
        problem = f"it did not answer within {DESCRIBE_TIMEOUT:.0f} s"
    except ValueError as exc:
        problem = f"it answered with something that is not JSON ({str(exc)[:200]})"
    if problem:
        if strict:
            raise BackendUnavailableError(
                f"environment {env.name!r} cannot run nirhub: {problem}",
                hint=f"Install nirhub there ({env.python} -m pip install nirhub) or use "
                "`nirhub env create`.",
            )
        return problem
    return data


def _broken_row(env: Environment, problem: str) -> list[BackendStatus]:
    """The listing of an environment that cannot be asked: one ``broken`` row."""
    from nirhub.hub.status import BackendStatus

    return [
        BackendStatus(
            name=env.name,
            aliases=(),
            kind="unknown",
            directions=(),
            status="broken",
            reason=f"environment {env.name!r}: {problem}",
            install_hint=f"Recreate it (nirhub env create {env.name} ...) or remove it "
            f"(nirhub env remove {env.name}).",
            version="",
            distribution="",
            location=env.name,
            descriptor=None,
        )
    ]


# -- the description cache ----------------------------------------------------------------------


def environment_fingerprint(python: Path, paths: list[str]) -> str | None:
    """A digest of what is installed for ``python``, without running it (None: it is gone).

    ``paths`` are the folders on the worker's ``sys.path`` (its ``describe`` reports them).
    pip adds, removes or rewrites a ``*.dist-info`` folder (or an ``.egg-info``, ``.pth`` or
    ``.egg-link`` entry for editable installs) in one of them for every (un)install and
    upgrade, and a recreated environment has a new interpreter, so the digest covers the
    names and modification times of those entries, the interpreter's, and this nirhub's
    version and worker protocol.
    """
    import nirhub

    digest = hashlib.sha256(f"{nirhub.__version__}\0{PROTOCOL}\0{python}\0".encode())
    try:
        st = os.stat(python)
    except OSError:
        return None
    digest.update(f"{st.st_mtime_ns}\0{st.st_size}\0".encode())
    for folder in paths:
        digest.update(f"{folder}\0".encode())
        try:
            with os.scandir(folder) as entries:
                marks = sorted(
                    (e.name, e.stat(follow_symlinks=False).st_mtime_ns)
                    for e in entries
                    if e.name.endswith(_INSTALL_MARKERS)
                )
        except OSError:
            digest.update(b"-\0")
            continue
        for name, mtime in marks:
            digest.update(f"{name}\0{mtime}\0".encode())
    return digest.hexdigest()


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    entries = data.get("environments")
    return entries if isinstance(entries, dict) else {}


def _write_cache(entries: dict[str, Any]) -> None:
    """Write the cache atomically; a cache that cannot be written is only a missed speed-up."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".environments-cache.", suffix=".tmp", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": CACHE_FORMAT, "environments": entries}, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError:
        pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _cached_description(python: Path) -> dict[str, Any] | None:
    """The cached ``describe`` document of ``python`` if it is still fresh, else None."""
    entry = _read_cache().get(str(python))
    if not isinstance(entry, dict) or not isinstance(entry.get("describe"), dict):
        return None
    paths = entry.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    fingerprint = environment_fingerprint(python, paths)
    if fingerprint is None or fingerprint != entry.get("fingerprint"):
        return None
    return entry["describe"]


def _store_description(python: Path, data: dict[str, Any]) -> None:
    paths = data.get("paths")
    if not isinstance(paths, list):  # an older worker that does not say where it looks
        return
    fingerprint = environment_fingerprint(python, [str(p) for p in paths])
    if fingerprint is None:
        return
    entries = _read_cache()
    entries[str(python)] = {
        "fingerprint": fingerprint,
        "paths": [str(p) for p in paths],
        "nirhub": data.get("nirhub"),
        "python": data.get("python"),
        "describe": data,
    }
    _write_cache(entries)


def _interpreter_stamp(python: Path) -> list[int] | None:
    try:
        st = os.stat(python)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _cached_failure(python: Path) -> str | None:
    """Why ``describe`` failed for ``python`` lately (within :data:`FAILURE_TTL`), else None.

    The entry is keyed by the interpreter's path and stamped with its modification time, so
    recreating or upgrading the interpreter asks again at once.
    """
    import time

    entry = _read_cache().get(str(python))
    if not isinstance(entry, dict) or not isinstance(entry.get("failure"), str):
        return None
    at = entry.get("at")
    if not isinstance(at, (int, float)) or not 0 <= time.time() - at < FAILURE_TTL:
        return None
    if entry.get("interpreter") != _interpreter_stamp(python):
        return None
    return entry["failure"]


def _store_failure(python: Path, problem: str) -> None:
    import time

    entries = _read_cache()
    entries[str(python)] = {
        "failure": problem,
        "at": time.time(),
        "interpreter": _interpreter_stamp(python),
    }
    _write_cache(entries)


def _forget_description(python: Path) -> None:
    entries = _read_cache()
    if entries.pop(str(python), None) is not None:
        _write_cache(entries)


@dataclass
class RemoteSource:
    """A model source handed to a worker unopened: a path or a ``file.py:name`` reference."""

    spec: str
    weights: str | None = None
    trust_pickle: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RemoteModel:
    """What :meth:`RemoteBackend.from_ir` returns: the graph to import, kept until ``save``."""

    backend: str
    environment: str
    graph: Graph
    options: dict[str, Any]
    report: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"RemoteModel({self.backend}@{self.environment}, {self.graph!r})"


class RemoteBackend(Backend):
    """A backend of a worker environment, behind the local :class:`Backend` interface.

    Framework objects cannot cross the process boundary, so ``from_ir`` returns a
    :class:`RemoteModel` and the import happens in the worker when the model is saved (or
    reported on); ``load`` returns a :class:`RemoteSource` that the worker opens in ``to_ir``.
    """

    remote = True

    def __init__(
        self,
        descriptor: BackendDescriptor,
        environment: Environment,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.descriptor = descriptor  # type: ignore[misc] - per instance, not per class
        self.environment = environment
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"RemoteBackend({self.descriptor.name!r} in {self.environment.name!r})"

    # -- Backend interface --------------------------------------------------------------------
    def owns(self, model: Any) -> bool:
        return isinstance(model, RemoteSource)

    def load(
        self, path: Any, *, weights: Path | None = None, trust_pickle: bool = False, **options: Any
    ) -> RemoteSource:
        text = os.fspath(path)
        if Path(text).exists():
            text = str(Path(text).absolute())
        elif ":" in text:
            target, _, attr = text.rpartition(":")
            if target.endswith(".py") and Path(target).exists():
                text = f"{Path(target).absolute()}:{attr}"
        return RemoteSource(
            text,
            None if weights is None else str(Path(weights).absolute()),
            trust_pickle,
            dict(options),
        )

    def to_ir(self, model: Any, **options: Any) -> Graph:
        if not isinstance(model, RemoteSource):
            if isinstance(model, (str, os.PathLike)):
                model = self.load(model)
            else:
                raise UsageError(
                    f"backend {self.descriptor.name!r} runs in environment "
                    f"{self.environment.name!r}; give a file or a model reference, not a "
                    f"{type(model).__name__} object"
                )
        with _Workdir() as work:
            out = work / "graph.nir"
            self._call(
                "to_ir",
                work,
                {
                    "source": model.spec,
                    "weights": model.weights,
                    "trust_pickle": model.trust_pickle,
                    "options": {**model.options, **options},
                    "graph_out": str(out),
                },
            )
            from nirhub.io import read

            return read(out)

    def from_ir(self, graph: Graph, **options: Any) -> RemoteModel:
        return RemoteModel(self.descriptor.name, self.environment.name, graph, dict(options))

    def _call_on_graph(
        self, command: str, graph: Graph, options: dict[str, Any], **more: Any
    ) -> dict[str, Any]:
        """The worker's answer to ``command`` on ``graph`` (handed over as a .nir file)."""
        with _Workdir() as work:
            request = {"graph": self._graph_file(graph, work), "options": options, **more}
            return self._call(command, work, request)

    def check(self, graph: Graph, **options: Any) -> list[Problem]:
        response = self._call_on_graph("check", graph, options)
        return [Problem(**p) for p in response.get("problems", [])]

    def save(self, obj: Any, path: Path, **options: Any) -> list[Path]:
        model = self._model(obj)
        force = bool(options.pop("force", False))
        response = self._call_on_graph(
            "save",
            model.graph,
            {**model.options, **options},
            output=str(Path(path).absolute()),
            force=force,
        )
        model.report = response.get("report", {})
        return [Path(p) for p in response.get("files", [])]

    def report(self, obj: Any, **options: Any) -> dict[str, Any]:
        model = self._model(obj)
        if model.report is None:
            response = self._call_on_graph("report", model.graph, {**model.options, **options})
            model.report = response.get("report", {})
        return dict(model.report)

    def run(
        self,
        graph: Graph,
        inputs: dict[str, np.ndarray],
        dt: float,
        *,
        record: tuple[str, ...] = (),
        **options: Any,
    ) -> SimulationResult:
        import numpy as np

        with _Workdir() as work:
            arrays = {f"a{i}": np.asarray(v) for i, v in enumerate(inputs.values())}
            np.savez(work / "inputs.npz", **arrays)
            response = self._call(
                "run",
                work,
                {
                    "graph": self._graph_file(graph, work),
                    "inputs": {name: f"a{i}" for i, name in enumerate(inputs)},
                    "inputs_file": str(work / "inputs.npz"),
                    "dt": float(dt),
                    "record": list(record),
                    "options": options,
                    "result": str(work / "result.npz"),
                },
            )
            return _read_result(work / "result.npz", response["result"])

    # -- plumbing -----------------------------------------------------------------------------
    def _model(self, obj: Any) -> RemoteModel:
        if not isinstance(obj, RemoteModel):
            raise UsageError(f"expected the object returned by from_ir, got {type(obj).__name__}")
        return obj

    def _graph_file(self, graph: Graph, work: Path) -> str:
        from nirhub.io import write

        path = work / f"graph-{len(list(work.iterdir()))}.nir"
        write(graph, path)
        return str(path)

    def _call(self, op: str, work: Path, request: dict[str, Any]) -> dict[str, Any]:
        request = {
            "protocol": PROTOCOL,
            "backend": self.descriptor.name,
            "response": str(work / "response.json"),
            **request,
        }
        request_path = work / "request.json"
        request_path.write_text(json.dumps(request, default=_json_default), encoding="utf-8")
        try:
            proc = run_worker(
                self.environment.python, [op, str(request_path)], timeout=self.timeout, cwd=work
            )
        except (FileNotFoundError, PermissionError):
            raise BackendUnavailableError(
                f"environment {self.environment.name!r}: its interpreter "
                f"{self.environment.python} does not exist",
                hint=f"Recreate or remove it (nirhub env remove {self.environment.name}).",
            ) from None
        except subprocess.TimeoutExpired:
            raise WorkerError(
                f"backend {self.descriptor.name!r} in environment {self.environment.name!r} "
                f"did not finish {op} within {self.timeout:.0f} s"
            ) from None
        response_path = work / "response.json"
        if proc.stopped:
            raise WorkerError(
                f"the worker in environment {self.environment.name!r} was stopped during {op}: "
                f"{proc.stopped}",
                hint="Something in that environment prints without end; run the worker by hand "
                "to see what.",
            )
        if not response_path.is_file():
            out = proc.stdout.decode("utf-8", "replace")
            tail = (proc.stderr or out).strip()[-2000:]
            raise WorkerError(
                f"the worker in environment {self.environment.name!r} died during {op} "
                f"(exit {proc.returncode}):\n{tail}",
                hint="Run with --traceback, or run the worker by hand to debug it.",
            )
        response = json.loads(response_path.read_text(encoding="utf-8"))
        if "error" in response:
            raise rebuild_error(response["error"], self.environment.name)
        for message in response.get("warnings", []):
            warnings.warn(f"[{self.environment.name}] {message}", ConversionWarning, stacklevel=3)
        return response


class _Workdir:
    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="nirhub-worker-"))
        return self.path

    def __exit__(self, *exc: Any) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send a {type(value).__name__} to a worker")


def error_to_json(exc: BaseException) -> dict[str, Any]:
    """What the worker sends back for an error (see :func:`rebuild_error`)."""
    if isinstance(exc, NirhubError):
        return {
            "type": type(exc).__name__,
            "message": exc.message,
            "hint": exc.hint,
            "exit_code": int(exc.exit_code),
            "problems": [
                {"where": p.where, "message": p.message, "field": p.field, "kind": p.kind}
                for p in getattr(exc, "problems", []) or []
            ],
        }
    import traceback

    return {
        "type": "internal",
        "message": f"{type(exc).__name__}: {exc}",
        "hint": None,
        "exit_code": int(ExitCode.INTERNAL),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "problems": [],
    }


def rebuild_error(data: dict[str, Any], environment: str) -> NirhubError:
    """The worker's error as the same nirhub error type, marked with the environment."""
    cls = getattr(errors, str(data.get("type")), None)
    where = f"(in worker environment {environment!r})"
    if data.get("type") == "internal":
        tb = data.get("traceback", "")
        return WorkerError(
            f"the backend failed in worker environment {environment!r}: {data['message']}\n"
            f"{tb}".rstrip(),
            hint="This is a bug in the plugin or in nirhub; report it with the traceback.",
        )
    if not (isinstance(cls, type) and issubclass(cls, NirhubError)):
        cls = WorkerError
    exc = cls.__new__(cls)
    Exception.__init__(exc, data.get("message", ""))
    exc.message = data.get("message", "")
    hint = data.get("hint")
    exc.hint = f"{hint} {where}" if hint else where
    exc.problems = [Problem(**p) for p in data.get("problems", [])]
    for attr in ("node", "field", "path", "location"):
        if not hasattr(exc, attr):
            setattr(exc, attr, None)
    if cls is WorkerError or int(exc.exit_code) != data.get("exit_code", exc.exit_code):
        exc.exit_code = ExitCode(data.get("exit_code", int(ExitCode.INTERNAL)))
    return exc


def _read_result(path: Path, meta: dict[str, Any]) -> SimulationResult:
    import numpy as np

    from nirhub.sim import SimulationResult

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    outputs = {name: arrays[key] for name, key in meta["outputs"].items()}
    recorded = {
        node: {var: arrays[key] for var, key in variables.items()}
        for node, variables in meta["recorded"].items()
    }
    return SimulationResult(
        outputs=outputs,
        recorded=recorded,
        dt=meta["dt"],
        method=meta["method"],
        steps=meta["steps"],
        batch_size=meta["batch_size"],
        conventions=meta.get("conventions", {}),
    )
