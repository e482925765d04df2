"""Rerun the NIR paper's comparisons with ``nirhub verify``; write ``docs/paper-reproduction.md``.

The paper (Pedersen et al., Nat. Commun. 15:8122, 2024) compared platforms on three tasks; its
models and recordings are in ``tests/data/corpus`` (see its MANIFEST.md). For each task this
runs :func:`nirhub.hub.verify.verify` with every installed backend that can run graphs (worker
environments included), and puts nirhub's numbers next to the same numbers computed from the
paper's own recordings:

* **LIF** (``lif/lif_norse.nir``, the exact solution's 34 input spikes, 1000 steps of 0.1 ms):
  per backend the output spike steps (the exact solution: 460/510/710/760) and the Pearson r of
  the voltage against the exact solution (``lif_exact.csv``).
* **Braille RNN**, graphs A (reset to zero) and B (reset by subtraction, snnTorch's
  ``reset_delay=False`` form: ``subtract-guarded``), on test sample 0: the backend x backend
  activity similarity of the hidden layer ``lif1.lif``, next to the matrix of the paper's
  ``*_activity_*.npy`` recordings, and the paper's accuracies.
* **CNN** (``cnn/cnn_sinabs.nir``): the paper's N-MNIST input is not in the corpus, so the
  backends run a fixed random event input (``CNN_SAMPLES`` samples of ``CNN_STEPS`` steps);
  nirhub's matrix of the first IF layer is shown next to the paper's printed matrix.

    nox -s paper-reproduction                          # every backend: write the page
    python tools/paper_reproduction.py                 # run, write docs/paper-reproduction.md
    python tools/paper_reproduction.py --check         # run, fail when a number changed
    python tools/paper_reproduction.py --backends snntorch,norse --keep /tmp/paper

Run it with the Python where nirhub and the plugins are installed (the nox session
``cross-backend`` does, through ``tests/test_paper_reproduction.py``). A backend installed
later (SpiNNaker2) appears after rerunning the first command.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "corpus"
DOC = ROOT / "docs" / "paper-reproduction.md"
DIGITS = 3
CNN_SAMPLES, CNN_STEPS, CNN_RATE, CNN_SEED = 2, 20, 0.05, 0
DATA_MARK = "paper-reproduction-data"

#: the paper's platforms that recorded each Braille graph (file prefix -> shown name)
PAPER_NAMES = {
    "lava": "Lava-DL",
    "nengo": "Nengo",
    "norse": "Norse",
    "rockpool": "Rockpool",
    "s2": "SpiNNaker2",
    "snntorch": "snnTorch",
    "spyx": "Spyx",
    "xylo": "Xylo",
}
#: nirhub backend -> the paper's recording of the same platform
PAPER_OF_BACKEND = {
    "lava": "lava",
    "nengo": "nengo",
    "norse": "norse",
    "rockpool": "rockpool",
    "spinnaker2": "s2",
    "snntorch": "snntorch",
    "spyx": "spyx",
    "xylo": "xylo",
}
BRAILLE = {
    "A": ("braille_noDelay_bias_zero", None),
    "B": ("braille_noDelay_noBias_subtract", "subtract-guarded"),
}


# --------------------------------------------------------------------------------------------
# the paper's side
# --------------------------------------------------------------------------------------------


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    from nirhub.hub.verify_metrics import cosine as cos

    return cos(np.asarray(u, dtype=np.float64).ravel(), np.asarray(v, dtype=np.float64).ravel())


def paper_activity(model: str) -> dict[str, np.ndarray]:
    """Per platform, the hidden layer's spikes of sample 0 as (T, neurons)."""
    out = {}
    for path in sorted((CORPUS / "rnn").glob(f"*_activity_{model[len('braille_') :]}.npy")):
        platform = path.name.split("_activity_")[0]
        arr = np.load(path, allow_pickle=False).astype(np.float64)
        if arr.shape[0] != 256:  # Lava stores (neurons, T)
            arr = arr.T
        out[platform] = arr
    return out


def paper_matrix(activity: dict[str, np.ndarray]) -> tuple[list[str], list[list[float]]]:
    names = list(activity)
    rates = {n: activity[n].mean(axis=0) for n in names}
    return names, [[cosine(rates[a], rates[b]) for b in names] for a in names]


def paper_accuracy(model: str) -> dict[str, float]:
    out = {}
    for path in sorted((CORPUS / "rnn").glob(f"*_accuracy_{model[len('braille_') :]}.npy")):
        value = float(np.load(path, allow_pickle=False))
        out[path.name.split("_accuracy_")[0]] = value / 100 if value > 1 else value
    return out


# --------------------------------------------------------------------------------------------
# nirhub's side
# --------------------------------------------------------------------------------------------


def run_verify(name: str, work: Path, backends: list[str] | None, **kwargs: Any) -> Any:
    from nirhub.hub.verify import verify

    return verify(
        output_dir=work / name,
        backends=backends,
        workers=1,
        html=False,
        force=True,
        min_similarity=0.0,
        **kwargs,
    )


#: what a backend that refuses the task's reset mode is asked next: its documented way of
#: accepting a reset by subtraction (Xylo, Rockpool; the page says which backend needed it)
FALLBACK_OPTIONS = {"reset": "subtract"}


def run_all(name: str, work: Path, backends: list[str] | None, **kwargs: Any) -> dict[str, Any]:
    """``verify`` with every backend; a backend that refuses is asked again with
    ``FALLBACK_OPTIONS`` on its own. Returns per runner the signals of sample 0, the status of
    every backend, and the options each needed."""
    from nirhub.errors import UsageError

    report = run_verify(name, work, backends, **kwargs)
    signals = _by_runner(raster(work, name))
    status = _statuses(report)
    options: dict[str, str] = {}
    for b in report.backends:
        if b.status != "refused":
            continue
        try:
            retry = run_verify(
                f"{name}-{b.name}", work, [b.name], options=FALLBACK_OPTIONS, **kwargs
            )
        except UsageError:  # the backend has no such option
            continue
        asked = " ".join(f"-O {k}={v}" for k, v in FALLBACK_OPTIONS.items())
        if retry.backends[0].status in ("pass", "fail"):
            signals[b.name] = _by_runner(raster(work, f"{name}-{b.name}"))[b.name]
            status[b.name] = "ran"
            options[b.name] = asked
        else:  # the reason it gives for the fallback too
            status[b.name] = _statuses(retry)[b.name] + f" (also with {asked})"
    return {"report": report, "signals": signals, "status": status, "options": options}


def _by_runner(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        _, runner, signal = key.split(":", 2)
        out.setdefault(runner, {})[signal] = value
    return out


def matrix_of(signals: dict[str, dict[str, np.ndarray]], layer: str) -> dict[str, Any]:
    """Runner x runner activity similarity of one layer on sample 0 (reference first)."""
    runners = [r for r in signals if layer in signals[r]]
    rates = {
        r: signals[r][layer].reshape(signals[r][layer].shape[0], -1).mean(axis=0) for r in runners
    }
    return {
        "runners": runners,
        "values": _round([[cosine(rates[a], rates[b]) for b in runners] for a in runners]),
    }


def raster(work: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(work / name / "raster.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def lif_task(work: Path, backends: list[str] | None) -> dict[str, Any]:
    table = np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")
    x = table[:, :1].astype(np.float32)
    np.save(work / "lif_input.npy", x)
    run = run_all(
        "lif",
        work,
        backends,
        source=CORPUS / "lif" / "lif_norse.nir",
        input=work / "lif_input.npy",
        dt=1e-4,
        record=("1",),
    )
    rows = {}
    for runner, signals in run["signals"].items():
        spikes, v = signals.get("1.spikes"), signals.get("1.v")
        if spikes is None:
            continue
        r = None
        if v is not None:
            from nirhub.metrics import voltage_correlation

            r = round(voltage_correlation(v.reshape(-1), table[:, 1]), DIGITS)
        rows[runner] = {
            "spike_steps": [int(t) for t in np.nonzero(spikes.reshape(spikes.shape[0], -1))[0]],
            "voltage_r": r,
        }
    paper = json.loads((CORPUS / "reference_results.json").read_text())["lif_single_neuron"]
    return {
        "nirhub": rows,
        "status": run["status"],
        "options": run["options"],
        "paper": {
            k: {"spike_steps": v["spike_steps"], "voltage_r": v["voltage_pearson_vs_exact"]}
            for k, v in paper["per_platform"].items()
        },
    }


def braille_task(work: Path, backends: list[str] | None, graph: str) -> dict[str, Any]:
    model, reset = BRAILLE[graph]
    run = run_all(
        f"braille_{graph}",
        work,
        backends,
        source=CORPUS / "rnn" / f"{model}.nir",
        input=CORPUS / "rnn" / "derived" / "braille_test0_input.npy",
        dt=1e-4,
        reset=reset,
        record=("lif1.lif",),
    )
    layer = "lif1.lif.spikes"
    signals = run["signals"]
    activity = paper_activity(model)
    names, matrix = paper_matrix(activity)
    ref = signals["reference"][layer].reshape(256, -1)
    return {
        "model": model,
        "reset": reset or "zero",
        "nirhub": matrix_of(signals, layer),
        "status": run["status"],
        "options": run["options"],
        "spikes": {r: float(s[layer].sum()) for r, s in signals.items() if layer in s},
        "reference_vs_paper": {
            p: round(cosine(ref.mean(axis=0), a.mean(axis=0)), DIGITS) for p, a in activity.items()
        },
        "paper": {"runners": names, "values": _round(matrix)},
        "paper_spikes": {p: float(a.sum()) for p, a in activity.items()},
        "paper_accuracy": {k: round(v, 4) for k, v in paper_accuracy(model).items()},
    }


def cnn_task(work: Path, backends: list[str] | None) -> dict[str, Any]:
    rng = np.random.default_rng(CNN_SEED)
    x = (rng.random((CNN_SAMPLES, CNN_STEPS, 2, 34, 34)) < CNN_RATE).astype(np.float32)
    np.savez(work / "cnn_input.npz", x=x)
    report = run_verify(
        "cnn",
        work,
        backends,
        source=CORPUS / "cnn" / "cnn_sinabs.nir",
        dataset=work / "cnn_input.npz",
        dt=1.0,  # the graph's IF nodes integrate r*I per unit of time: one step is 1 (as Sinabs)
        record=("1",),
        tolerant=True,
    )
    paper = json.loads((CORPUS / "reference_results.json").read_text())
    return {
        "nirhub": _matrix(report, "1.spikes"),
        "status": _statuses(report),
        "spikes": {
            r: float(v.sum())
            for r in report.runners
            if (v := raster(work, "cnn").get(f"r:{r}:1.spikes")) is not None
        },
        "paper": {
            "runners": paper["cnn_activity_cosine"]["platforms"],
            "values": _round(paper["cnn_activity_cosine"]["matrix"]),
        },
        "paper_accuracy": {k: round(v, 4) for k, v in paper["cnn_nmnist_accuracy"].items()},
    }


def _matrix(report: Any, layer: str) -> dict[str, Any]:
    """The report's matrix of ``layer`` without the runners that have no run of it."""
    values = report.matrices.get(layer)
    if not values:
        return {"runners": report.runners, "values": None}
    keep = [i for i, row in enumerate(values) if any(v is not None for v in row)]
    return {
        "runners": [report.runners[i] for i in keep],
        "values": _round([[values[i][j] for j in keep] for i in keep]),
    }


def _statuses(report: Any) -> dict[str, str]:
    """Per backend: ran, refused, error or skipped, then the reason (``--check`` compares the
    status word only: a reworded message is not a changed result)."""
    out = {}
    for b in report.backends:
        out[b.name] = "ran" if b.status in ("pass", "fail") else b.status  # no gate here
        if b.status in ("refused", "error", "skipped"):
            reason = " ".join(line.strip() for line in b.reason.splitlines()[:2])
            out[b.name] += f": {reason[:220]}"
    return out


def _round(matrix: Any) -> list[list[float | None]]:
    return [[None if v is None else round(float(v), DIGITS) for v in row] for row in matrix]


# --------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.{DIGITS}f}"


def _matrix_md(m: dict[str, Any]) -> list[str]:
    if not m or not m.get("values"):
        return ["(no backend ran)", ""]
    names = m["runners"]
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, row in zip(names, m["values"], strict=True):
        lines.append(f"| **{name}** | " + " | ".join(_fmt(v) for v in row) + " |")
    return [*lines, ""]


def _status_md(status: dict[str, str], options: dict[str, str] | None = None) -> list[str]:
    lines = []
    for name, opts in (options or {}).items():
        lines.append(
            f"* `{name}` refused the task's reset mode and ran with `{opts}` (its documented "
            "approximation; the numbers show its effect)."
        )
    not_run = {k: v for k, v in status.items() if not v.startswith("ran")}
    lines += [f"* `{k}` is not in the table: {v}" for k, v in not_run.items()]
    return [*lines, ""] if lines else []


def _against_reference(task: dict[str, Any], backend: str) -> float | None:
    m = task["nirhub"]
    if not m.get("values") or backend not in m["runners"]:
        return None
    return m["values"][0][m["runners"].index(backend)]


def _summary_md(data: dict[str, Any]) -> list[str]:
    """Per backend: nirhub's similarity to the reference, next to the paper's to snnTorch."""
    lines = [
        "## Summary",
        "",
        "Hidden-layer activity similarity against the reference (nirhub) and, for the paper,",
        "of the platform's recording against snnTorch's (the source of the Braille graphs,",
        "which nirhub's reference reproduces exactly). Known defects of the paper's recordings",
        "(corpus MANIFEST.md): its Xylo run was most likely made on another test sample, its",
        "Norse graph-B run with reset to zero; Lava-DL ran graph A only.",
        "",
        "| backend | Braille A | paper A | Braille B | paper B | CNN (layer 1) |",
        "|---|---|---|---|---|---|",
    ]
    for backend in data["backends"]:
        paper = PAPER_OF_BACKEND.get(backend)
        cells = []
        for graph in ("A", "B"):
            task = data[f"braille_{graph}"]
            cells.append(_fmt(_against_reference(task, backend)))
            m = task["paper"]
            value = None
            if paper in m["runners"] and "snntorch" in m["runners"]:
                value = m["values"][m["runners"].index(paper)][m["runners"].index("snntorch")]
            cells.append(_fmt(value))
        cells.append(_fmt(_against_reference(data["cnn"], backend)))
        lines.append(f"| {backend} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def render(data: dict[str, Any]) -> str:
    lines = [
        "# The NIR paper, reproduced with `nirhub verify`",
        "",
        "Generated by `nox -s paper-reproduction` (`tools/paper_reproduction.py` with every",
        "plugin installed, worker environments included; do not edit by hand). The nox session",
        "`cross-backend` reruns it and fails when a number changes. Every installed backend that",
        "can run graphs takes part: after a backend is added (SpiNNaker2), rerun",
        "`nox -s paper-reproduction` and commit the page.",
        "",
        "Numbers: activity similarity is the paper's metric (cosine of per-neuron mean rates);",
        "*reference* is nirhub's reference simulator. The paper's matrices are computed from its",
        "own recordings in `tests/data/corpus` (see its MANIFEST.md for their known defects).",
        "",
        f"Backends: {', '.join(data['backends']) or 'none besides the reference'}.",
        "",
        *_summary_md(data),
        "## LIF neuron (task 1)",
        "",
        "`lif/lif_norse.nir` on the exact solution's input (dt = 0.1 ms, 1000 steps). The exact",
        "solution spikes at steps 460, 510, 710, 760.",
        "",
        "| runner | output spike steps | voltage r vs exact | the paper's run: spike steps | r |",
        "|---|---|---|---|---|",
    ]
    paper_lif = data["lif"]["paper"]
    paper_names = {"reference": "exact", "loihi2": "lava_loihi_fixed", "lava": "lava_cpu_float"}
    for runner, row in data["lif"]["nirhub"].items():
        p = paper_lif.get(paper_names.get(runner, runner) or "", {})
        lines.append(
            f"| {runner} | {', '.join(map(str, row['spike_steps'])) or 'none'} | "
            f"{_fmt(row['voltage_r'])} | {', '.join(map(str, p.get('spike_steps', []))) or '–'} "
            f"| {_fmt(p.get('voltage_r'))} |"
        )
    lines += ["", *_status_md(data["lif"]["status"], data["lif"].get("options"))]
    for graph in ("A", "B"):
        b = data[f"braille_{graph}"]
        lines += [
            f"## Braille RNN, graph {graph} (task 3)",
            "",
            f"`rnn/{b['model']}.nir` on test sample 0, reset `{b['reset']}`; hidden layer "
            "`lif1.lif`.",
            "",
            "nirhub's runs (backend × backend):",
            "",
            *_matrix_md(b["nirhub"]),
            *_status_md(b["status"], b.get("options")),
            "The paper's recordings:",
            "",
            *_matrix_md(
                {
                    "runners": [PAPER_NAMES.get(n, n) for n in b["paper"]["runners"]],
                    "values": b["paper"]["values"],
                }
            ),
            "nirhub's reference against each recording: "
            + ", ".join(
                f"{PAPER_NAMES.get(k, k)} {_fmt(v)}" for k, v in b["reference_vs_paper"].items()
            )
            + ".",
            "",
            "Hidden spikes: nirhub "
            + ", ".join(f"{k} {v:g}" for k, v in b["spikes"].items())
            + "; the paper "
            + ", ".join(f"{PAPER_NAMES.get(k, k)} {v:g}" for k, v in b["paper_spikes"].items())
            + ".",
            "",
            "The paper's test accuracies (140 samples): "
            + ", ".join(f"{PAPER_NAMES.get(k, k)} {v:.2%}" for k, v in b["paper_accuracy"].items())
            + ".",
            "",
        ]
    c = data["cnn"]
    lines += [
        "## CNN (task 2)",
        "",
        f"`cnn/cnn_sinabs.nir`, first IF layer (`1`). The paper's N-MNIST input is not in the "
        f"corpus: nirhub's runs use {CNN_SAMPLES} random event samples ({CNN_STEPS} steps, rate "
        f"{CNN_RATE}, seed {CNN_SEED}, dt = 1: one step per unit of the IF equation, as Sinabs), "
        "so the two matrices compare the platforms, not the inputs. Spikes of layer `1` in "
        f"sample 0: {', '.join(f'{k} {v:g}' for k, v in c['spikes'].items())}.",
        "",
        "nirhub's runs:",
        "",
        *_matrix_md(c["nirhub"]),
        *_status_md(c["status"]),
        "The paper's matrix (printed by its `cnn_plots.ipynb`):",
        "",
        *_matrix_md(c["paper"]),
        "The paper's N-MNIST accuracies: "
        + ", ".join(f"{k} {v:.2%}" for k, v in c["paper_accuracy"].items())
        + ".",
        "",
        f"<!-- {DATA_MARK}",
        json.dumps(data, indent=1, sort_keys=True),
        "-->",
        "",
    ]
    return "\n".join(lines)


def committed_data(text: str) -> dict[str, Any] | None:
    found = re.search(rf"<!-- {DATA_MARK}\n(.*?)\n-->", text, re.S)
    return json.loads(found.group(1)) if found else None


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                out.append(f"{where}/{key}: {'added' if key not in old else 'gone'}")
            else:
                out += differences(old[key], new[key], f"{where}/{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in differences(a, b, f"{where}[{i}]")
        ]
    if where.split("/")[-2:-1] == ["status"] and isinstance(old, str) and isinstance(new, str):
        old, new = old.split(":")[0], new.split(":")[0]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def run(backends: list[str] | None, work: Path) -> dict[str, Any]:
    from nirhub.hub.registry import default_registry
    from nirhub.hub.verify import default_backends

    names = backends or default_backends(default_registry())[0]
    data: dict[str, Any] = {"backends": sorted(names)}
    data["lif"] = lif_task(work, names)
    for graph in BRAILLE:
        data[f"braille_{graph}"] = braille_task(work, names, graph)
    data["cnn"] = cnn_task(work, names)
    # the page is rendered from this normalised form, as from the data block of a committed
    # page: one order of the rows whichever way it was made
    return json.loads(json.dumps(data, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed page")
    parser.add_argument("--backends", help="comma-separated subset (default: all installed)")
    parser.add_argument("--keep", type=Path, help="keep the verify report folders here")
    parser.add_argument("--output", type=Path, default=DOC)
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b] if args.backends else None
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = run(backends, work)
    if args.check:
        old = committed_data(args.output.read_text()) if args.output.is_file() else None
        if old is None:
            print(f"{args.output} has no data block; run without --check", file=sys.stderr)
            return 1
        diff = differences(old, data)
        if diff:
            print(f"{args.output} is out of date ({len(diff)} numbers changed):", file=sys.stderr)
            for line in diff[:50]:
                print("  " + line, file=sys.stderr)
            print("Regenerate it: python tools/paper_reproduction.py", file=sys.stderr)
            return 1
        print(f"{args.output}: every number reproduced")
        return 0
    args.output.write_text(render(data))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
