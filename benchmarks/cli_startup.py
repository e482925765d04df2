"""Start-up time of the ``nirhub`` command against ``python -c "import torch"``.

Goal (issue 4): ``nirhub --help`` and ``nirhub list-backends`` each take at most 0.5 s and at
most 0.3x the time of importing torch, with every plugin installed. Both are measured in the
same run, in the same environment, interleaved, as the median of several runs after a warm-up
(so the disk cache is warm for all of them alike).

Run it in an environment that has torch and the plugins (``nox -s startup``), or directly::

    python benchmarks/cli_startup.py [--runs 7]

Prints one line per command with the median and the ratio to ``import torch``, then whether
each goal holds; exits 1 when a goal is missed, 2 when torch is not installed.

Byte-code: an installed nirhub has its ``.pyc`` files (pip compiles them; an editable install
writes them on first use). When ``PYTHONDONTWRITEBYTECODE`` is set, every run would compile
nirhub's and the plugins' sources again (about 0.1 s that no user pays), so the timed commands
get a byte-code cache of their own (``PYTHONPYCACHEPREFIX`` in the user cache folder, filled by
the warm-up; nothing is written into the source tree). ``--as-is`` times the environment
unchanged.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

GOAL_SECONDS = 0.5
GOAL_RATIO = 0.3


def nirhub_command() -> list[str]:
    """The real entry point of this environment (the console script), else the same call."""
    script = Path(sys.executable).parent / "nirhub"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from nirhub.cli import main; sys.exit(main())"]


def bytecode_env(as_is: bool) -> tuple[dict[str, str], str]:
    """The environment of the timed commands, and a note on how byte-code is cached."""
    env = dict(os.environ)
    if as_is or not env.get("PYTHONDONTWRITEBYTECODE"):
        return env, "byte-code as the environment has it"
    del env["PYTHONDONTWRITEBYTECODE"]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    prefix = base / "nirhub" / "benchmark-pycache" / f"py{sys.version_info[0]}{sys.version_info[1]}"
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    return env, (
        f"PYTHONDONTWRITEBYTECODE is set here; timing with a byte-code cache in {prefix} as an "
        "installation has (--as-is: without)"
    )


ENV: dict[str, str] = dict(os.environ)


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {proc.returncode}):\n{proc.stderr}")
    return elapsed


def imported_by(argv_tail: list[str]) -> set[str]:
    """Heavy top-level modules imported while running ``nirhub ARGS`` in-process."""
    code = (
        "import sys\n"
        f"sys.argv = ['nirhub', *{argv_tail!r}]\n"
        "from nirhub.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = {'numpy', 'h5py', 'torch', 'jax', 'lava', 'rockpool', 'sinabs', 'norse',\n"
        "         'snntorch', 'samna', 'nir'}\n"
        "print(' '.join(sorted(heavy & {m.split('.')[0] for m in sys.modules})),\n"
        "      file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    return set(proc.stderr.strip().splitlines()[-1].split()) if proc.stderr.strip() else set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE (every run compiles nirhub's sources)",
    )
    args = parser.parse_args()
    global ENV
    ENV, bytecode_note = bytecode_env(args.as_is)

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        print(
            "torch is not installed here; run this in an environment with torch (nox -s startup)",
            file=sys.stderr,
        )
        return 2
    plugins = sorted({ep.name for ep in metadata.entry_points(group="nirhub.backends")})
    nirhub = nirhub_command()
    commands = {
        "nirhub --help": [*nirhub, "--help"],
        "nirhub list-backends": [*nirhub, "list-backends"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    env_note = os.environ.get("NIRHUB_CONFIG", "")
    print(
        f"python {sys.version.split()[0]}, torch {torch_version}, "
        f"{len(plugins)} plugin backends installed ({', '.join(plugins) or 'none'})"
        + (f", NIRHUB_CONFIG={env_note}" if env_note else "")
    )
    print(bytecode_note)
    for argv in commands.values():  # warm-up: disk cache, .pyc files
        timed(argv)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    torch_time = medians['python -c "import torch"']
    ok = True
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'ratio to torch':>15}")
    for name, values in samples.items():
        ratio = medians[name] / torch_time
        print(f"{name:<28} {medians[name]:>9.3f} {min(values):>7.3f} {ratio:>15.2f}")
    for name in ("nirhub --help", "nirhub list-backends"):
        ratio = medians[name] / torch_time
        good = medians[name] <= GOAL_SECONDS and ratio <= GOAL_RATIO
        ok &= good
        print(
            f"{'PASS' if good else 'FAIL'}: {name}: {medians[name]:.3f} s "
            f"(goal <= {GOAL_SECONDS} s), {ratio:.2f}x import torch (goal <= {GOAL_RATIO}x)"
        )
    for tail in (["--help"], ["list-backends"]):
        heavy = imported_by(tail)
        print(
            f"modules imported by nirhub {' '.join(tail)}: "
            f"{', '.join(sorted(heavy)) or 'none of numpy/h5py/frameworks'}"
        )
        if heavy & {"torch", "jax", "lava", "rockpool", "sinabs", "norse", "snntorch", "samna"}:
            print("FAIL: a framework was imported at start-up")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
