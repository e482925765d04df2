"""The framework side of the any-to-any matrix (``tools/any_to_any.py``).

This script runs in the Python environment where a framework is installed (nirhub's own one,
or a worker environment registered with ``nirhub env add``) and never imports nirhub: it does
what a user of the framework does.

* ``build``: define the matrix's model *natively* in a framework — an MLP ``Linear 8 -> 16``,
  LIF, ``Linear 16 -> 4``, LIF, with the framework's own modules and the weights of the
  shared ``weights.npz`` (the same numbers for every framework) — write it as a model source
  nirhub reads (``model.py`` with ``build()``, plus a ``weights.pt`` state dict for PyTorch
  frameworks; for ``torch`` the backend's own ``.py`` + ``.pt`` artifact; Nengo and Spyx read
  a ``weights.npz`` in ``build()``), run it on the shared input and save its output spikes.
  A *variant* is the reset mode the model uses (``zero``, ``subtract`` or snnTorch's
  ``subtract-delayed`` / ``subtract-guarded``); a framework that cannot build a variant says
  why.
* ``run-artifact``: load the files ``nirhub convert --to B`` wrote (the generated module and
  its weights file) as the framework's users do — import the module, call ``build_model()``
  (which reads the weights with ``torch.load(weights_only=True)``; Nengo's and Spyx's modules
  read an ``.npz`` without pickles; Nengo's ``run()`` plays one sample) — and run it on the
  shared input.

Usage: ``python any_to_any_native.py JOBS.json RESULTS.json``. ``JOBS.json`` is a list of
jobs; ``RESULTS.json`` gets one result per job, in order: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}`` (a failing job does not stop the others).

Signals are time-major numpy arrays: input ``(T, B, 8)`` float32, output spikes ``(T, B, 4)``
(saved as uint8 0/1).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any

# rockpool probes for samna at import; the PyPI samna is a stub that pip-installs software
sys.modules.setdefault("samna", None)

import numpy as np  # noqa: E402

N_IN, N_HID, N_OUT = 8, 16, 4
#: membrane time constant (s) and threshold of every neuron of the matrix's model
TAU = 0.01
THRESHOLD = 1.0
#: weight scales (drawn by the orchestrator as scale * standard normal)
W1_SCALE, B1_SCALE, W2_SCALE, B2_SCALE = 0.9, 0.1, 0.8, 0.1


class Unexpressible(Exception):
    """The framework cannot build this variant natively (the reason is the message)."""


# --------------------------------------------------------------------------------------------
# weights and helpers
# --------------------------------------------------------------------------------------------


def load_weights(path: str) -> dict[str, np.ndarray]:
    """The model's weights (``w1``, ``b1``, ``w2``, ``b2``; float32, (out, in) layout): one file
    drawn by the orchestrator, the same numbers for every framework."""
    with np.load(path) as data:
        return {k: np.asarray(data[k], dtype=np.float32) for k in ("w1", "b1", "w2", "b2")}


def tensors(weights: dict[str, np.ndarray], gain: float = 1.0) -> dict[str, Any]:
    import torch

    return {k: torch.as_tensor(v * gain) for k, v in weights.items()}


def set_linear(layer: Any, weight: Any, bias: Any) -> None:
    import torch

    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)


def import_file(path: Path, name: str) -> Any:
    """Import a Python file as a module (its folder first on ``sys.path``, as a script)."""
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def save_spikes(path: Path, spikes: Any) -> int:
    arr = np.asarray(spikes)
    if arr.dtype != bool and not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"the output is not 0/1 spikes (values {np.unique(arr)[:5]})")
    arr = arr.astype(np.uint8)
    np.save(path, arr)
    return int(arr.sum())


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# native models: one builder per framework
# --------------------------------------------------------------------------------------------
# Each builder writes the model source into ``folder``, returns
# (source, weights or None, extra CLI arguments, model) and the runner gives its spikes.


SNNTORCH_RESETS = {
    "zero": 'reset_mechanism="zero"',
    "subtract-delayed": 'reset_mechanism="subtract"',  # snnTorch's default (reset_delay=True)
    "subtract-guarded": 'reset_mechanism="subtract", reset_delay=False',
}

SNNTORCH_MODEL = '''"""The any-to-any matrix's MLP in snnTorch (reset: {variant})."""

import snntorch as snn
from torch import nn


def build():
    return nn.Sequential(
        nn.Linear({n_in}, {n_hid}),
        snn.Leaky(beta={beta!r}, threshold={thr!r}, {reset}, init_hidden=True),
        nn.Linear({n_hid}, {n_out}),
        snn.Leaky(beta={beta!r}, threshold={thr!r}, {reset}, init_hidden=True, output=True),
    )
'''


def build_snntorch(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    import torch

    weights = tensors(weights)
    if variant not in SNNTORCH_RESETS:
        raise Unexpressible(
            "snnTorch's reset by subtraction is either applied one step late "
            "(reset_delay=True: subtract-delayed) or guarded against double resets "
            "(reset_delay=False: subtract-guarded), never NIR's plain subtraction"
        )
    beta = 1.0 - dt / TAU  # forward Euler decay: snnTorch has no dt
    write(
        folder / "model.py",
        SNNTORCH_MODEL.format(
            variant=variant,
            n_in=N_IN,
            n_hid=N_HID,
            n_out=N_OUT,
            beta=beta,
            thr=THRESHOLD,
            reset=SNNTORCH_RESETS[variant],
        ),
    )
    model = import_file(folder / "model.py", "a2a_snntorch_model").build()
    set_linear(model[0], weights["w1"], weights["b1"])
    set_linear(model[2], weights["w2"], weights["b2"])
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


def run_snntorch(model: Any, x: Any) -> Any:
    import torch
    from snntorch import utils

    utils.reset(model)
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            spk, _ = model(x[t])
            out.append(spk)
    return torch.stack(out).numpy()


NORSE_MODEL = '''"""The any-to-any matrix's MLP in Norse (reset: {variant})."""

import norse.torch as norse
import torch
from norse.torch.functional.reset import {reset}

DT = {dt!r}


def lif():
    p = norse.LIFBoxParameters(
        tau_mem_inv=torch.tensor({tau_inv!r}),
        v_leak=torch.tensor(0.0),
        v_th=torch.tensor({thr!r}),
        v_reset=torch.tensor(0.0),
        reset_method={reset},
    )
    return norse.LIFBoxCell(p, dt=DT)


def build():
    return norse.SequentialState(
        torch.nn.Linear({n_in}, {n_hid}), lif(), torch.nn.Linear({n_hid}, {n_out}), lif()
    )
'''


def build_norse(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    import torch

    resets = {"zero": "reset_value", "subtract": "reset_subtract"}
    if variant not in resets:
        raise Unexpressible(f"Norse's LIFBoxCell resets to v_reset or subtracts, not {variant}")
    write(
        folder / "model.py",
        NORSE_MODEL.format(
            variant=variant,
            reset=resets[variant],
            dt=dt,
            tau_inv=1.0 / TAU,
            thr=THRESHOLD,
            n_in=N_IN,
            n_hid=N_HID,
            n_out=N_OUT,
        ),
    )
    model = import_file(folder / "model.py", "a2a_norse_model").build()
    # a LIFBoxCell's input gain is dt/tau (v += dt/tau*(x - v)); the other frameworks' is 1:
    # scale the weights so that the same numbers give the same activity
    weights = tensors(weights, gain=TAU / dt)
    set_linear(model[0], weights["w1"], weights["b1"])
    set_linear(model[2], weights["w2"], weights["b2"])
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


def run_norse(model: Any, x: Any) -> Any:
    import torch

    out, state = [], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = model(x[t], state)
            out.append(y)
    return torch.stack(out).numpy()


SINABS_MODEL = '''"""The any-to-any matrix's MLP in Sinabs (reset: {variant}).

Time constants are in steps (tau_mem = {tau_steps!r} steps of the dt given to nirhub); one spike
per step at most (SingleSpike: sinabs' default MultiSpike has no NIR equivalent); input gain 1
(norm_input=False), as the other frameworks of the matrix.
"""

import sinabs.activation as sa
import sinabs.layers as sl
import torch


def lif():
    return sl.LIF(
        tau_mem={tau_steps!r},
        spike_threshold={thr!r},
        spike_fn=sa.SingleSpike,
        reset_fn=sa.{reset}(),
        norm_input=False,
    )


def build():
    return torch.nn.Sequential(
        torch.nn.Linear({n_in}, {n_hid}), lif(), torch.nn.Linear({n_hid}, {n_out}), lif()
    )
'''


def build_sinabs(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    import torch

    weights = tensors(weights)
    resets = {"zero": "MembraneReset", "subtract": "MembraneSubtract"}
    if variant not in resets:
        raise Unexpressible(
            f"Sinabs resets with MembraneReset (to 0) or MembraneSubtract, not {variant}"
        )
    write(
        folder / "model.py",
        SINABS_MODEL.format(
            variant=variant,
            tau_steps=TAU / dt,
            thr=THRESHOLD,
            reset=resets[variant],
            n_in=N_IN,
            n_hid=N_HID,
            n_out=N_OUT,
        ),
    )
    model = import_file(folder / "model.py", "a2a_sinabs_model").build()
    set_linear(model[0], weights["w1"], weights["b1"])
    set_linear(model[2], weights["w2"], weights["b2"])
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


def run_sinabs(model: Any, x: Any) -> Any:
    import sinabs
    import torch

    sinabs.reset_states(model)
    with torch.no_grad():
        y = model(x.transpose(0, 1).contiguous())  # sinabs: (batch, time, ...)
    return y.transpose(0, 1).numpy()


ROCKPOOL_MODEL = '''"""The any-to-any matrix's MLP in Rockpool (reset: subtract, its only one)."""

import sys

sys.modules.setdefault("samna", None)  # the PyPI samna stub pip-installs software on import

from rockpool.nn.combinators import Sequential  # noqa: E402
from rockpool.nn.modules import LIFNeuronTorch, LinearTorch  # noqa: E402

DT = {dt!r}


def lif(n):
    # one spike per step at most: rockpool's default (65536) has no NIR equivalent
    return LIFNeuronTorch(n, tau_mem={tau!r}, threshold={thr!r}, dt=DT, max_spikes_per_dt=1)


def build():
    return Sequential(
        LinearTorch(({n_in}, {n_hid}), has_bias=True),
        lif({n_hid}),
        LinearTorch(({n_hid}, {n_out}), has_bias=True),
        lif({n_out}),
    )
'''


def build_rockpool(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    import torch

    weights = tensors(weights)
    if variant != "subtract":
        raise Unexpressible("Rockpool's neurons only reset by subtracting the threshold")
    write(
        folder / "model.py",
        ROCKPOOL_MODEL.format(dt=dt, tau=TAU, thr=THRESHOLD, n_in=N_IN, n_hid=N_HID, n_out=N_OUT),
    )
    model = import_file(folder / "model.py", "a2a_rockpool_model").build()
    layers = list(model.modules().values()) if isinstance(model.modules(), dict) else None
    linears = [m for m in (layers or model.children()) if type(m).__name__ == "LinearTorch"]
    with torch.no_grad():
        for layer, (w, b) in zip(linears, (("w1", "b1"), ("w2", "b2")), strict=True):
            layer.weight.copy_(weights[w].T)  # rockpool stores (in, out)
            layer.bias.copy_(weights[b])
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


def run_rockpool(model: Any, x: Any) -> Any:
    import torch

    model.reset_state()
    with torch.no_grad():
        y, _, _ = model(x.transpose(0, 1).contiguous())  # rockpool: (batch, time, ...)
    return y.transpose(0, 1).numpy()


def build_torch(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    """The ``torch`` backend's models are its own ``NIRModel`` (plain PyTorch has no neuron
    models): the orchestrator wrote the architecture as the backend's artifact ``net.py``
    (with placeholder weights); here the weights are set natively and saved as ``net.pt``."""
    import torch

    weights = tensors(weights)
    module = import_file(folder / "net.py", "a2a_torch_model")
    model = module.build_model()
    set_linear(model.node("affine"), weights["w1"], weights["b1"])
    set_linear(model.node("affine_1"), weights["w2"], weights["b2"])
    torch.save(model.state_dict(), folder / "net.pt")
    return str(folder / "net.py"), None, model


def run_torch(model: Any, x: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(x).numpy()


NENGO_MODEL = '''"""The any-to-any matrix's MLP in Nengo (reset: zero, Nengo's LIF).

Nengo's LIF integrates exactly, v <- e*v + (1 - e)*J with e = exp(-dt/tau_rc), fires when v
exceeds 1 and emits spikes of amplitude 1/dt: the weights are scaled by 1/(1 - e) for an input
gain of 1 (as the other frameworks of the matrix), and the spikes' weights by dt as well.
No refractory period and no voltage floor (NIR has neither), initial voltage 0.
"""

import os

import nengo
import numpy as np

DT = {dt!r}
TAU = {tau!r}
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")


def play(data, size):
    """Node output playing ``data`` (T, size) one row per step (Nengo's first step is t = DT)."""

    def out(t):
        k = int(round(t / DT)) - 1
        return data[k] if data is not None and 0 <= k < len(data) else np.zeros(size)

    return out


def build(data=None):
    w = np.load(WEIGHTS)
    gain = 1.0 / (1.0 - np.exp(-DT / TAU))
    lif = nengo.LIF(
        tau_rc=TAU,
        tau_ref=0.0,
        min_voltage=-np.inf,
        initial_state={{"voltage": nengo.dists.Choice([0.0])}},
    )
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(play(data, {n_in}), size_out={n_in}, label="input")
        hidden = nengo.Ensemble(
            {n_hid}, 1, neuron_type=lif, gain=np.ones({n_hid}), bias=w["b1"] * gain,
            label="hidden",
        )
        output = nengo.Ensemble(
            {n_out}, 1, neuron_type=lif, gain=np.ones({n_out}), bias=w["b2"] * gain,
            label="output",
        )
        nengo.Connection(inp, hidden.neurons, transform=w["w1"] * gain, synapse=None)
        nengo.Connection(
            hidden.neurons, output.neurons, transform=w["w2"] * gain * DT, synapse=None
        )
        net.spikes = nengo.Probe(output.neurons, synapse=None, label="spikes")
    return net
'''


def build_nengo(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    if variant != "zero":
        raise Unexpressible("Nengo's own LIF neurons reset to zero only")
    np.savez(folder / "weights.npz", **weights)
    write(
        folder / "model.py",
        NENGO_MODEL.format(dt=dt, tau=TAU, n_in=N_IN, n_hid=N_HID, n_out=N_OUT),
    )
    module = import_file(folder / "model.py", "a2a_nengo_model")
    return f"{folder / 'model.py'}:build", None, module


def run_nengo(module: Any, x: np.ndarray) -> np.ndarray:
    """One simulation per sample (a Nengo network has no batch)."""
    import warnings

    import nengo

    out = []
    for b in range(x.shape[1]):
        net = module.build(x[:, b])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with nengo.Simulator(net, dt=module.DT, progress_bar=False) as sim:
                sim.run_steps(x.shape[0])
        out.append(sim.data[net.spikes] > 0)
    return np.stack(out, axis=1)


SPYX_MODEL = '''"""The any-to-any matrix's MLP in Spyx (Flax NNX).

Spyx's LIF: ``V = beta*V + x - s*threshold`` with the spike ``s`` taken from the previous
step's ``V`` (it fires one step late and subtracts the threshold one step late, undecayed).
"""

import os

import jax.numpy as jnp
import numpy as np
import spyx
from flax import nnx

BETA = {beta!r}
THRESHOLD = {thr!r}
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")


def linear(w, b, rngs):
    layer = nnx.Linear(w.shape[1], w.shape[0], rngs=rngs)
    layer.kernel.value = jnp.asarray(w.T)  # Flax stores (in, out)
    layer.bias.value = jnp.asarray(b)
    return layer


def build():
    w = np.load(WEIGHTS)
    rngs = nnx.Rngs(0)
    return spyx.nn.Sequential(
        linear(w["w1"], w["b1"], rngs),
        spyx.nn.LIF(({n_hid},), beta=BETA, threshold=THRESHOLD, rngs=rngs),
        linear(w["w2"], w["b2"], rngs),
        spyx.nn.LIF(({n_out},), beta=BETA, threshold=THRESHOLD, rngs=rngs),
    )
'''


def build_spyx(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    if variant != "subtract-delayed":
        raise Unexpressible(
            "Spyx's LIF fires from the previous step's voltage and subtracts the threshold "
            "one step late (NIR: a LIF with reset subtract-delayed, then a one-step Delay)"
        )
    np.savez(folder / "weights.npz", **weights)
    write(
        folder / "model.py",
        SPYX_MODEL.format(beta=1.0 - dt / TAU, thr=THRESHOLD, n_hid=N_HID, n_out=N_OUT),
    )
    model = import_file(folder / "model.py", "a2a_spyx_model").build()
    return f"{folder / 'model.py'}:build", None, model


def run_spyx(model: Any, x: np.ndarray) -> np.ndarray:
    import jax.numpy as jnp
    import spyx

    out, _ = spyx.nn.run(model, jnp.asarray(x, dtype=jnp.float32))
    return np.asarray(out)


LAVA_MODEL = '''"""The any-to-any matrix's MLP in Lava (lava-nc processes, floating point).

Lava's LIF: ``u = u*(1 - du) + a_in``, ``v = v*(1 - dv) + u + bias``, spike when ``v > vth``,
then ``v = 0``. With ``du = 1`` and ``dv = DT/TAU`` that is the forward-Euler LIF with unit
input gain. Every synapse delivers one step late: the input layer answers at step 1, the output
layer at step 2 (``LATENCY``). The biases come from a constant source (always 1) through
their own synapses, the second one delayed by a step, so each layer's bias starts with its
first input and both layers rest until then.
"""

import os

import numpy as np

DT = {dt!r}
TAU = {tau!r}
THRESHOLD = {thr!r}
LATENCY = 2
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")


def build(data=None, steps=1):
    """The processes; ``data`` (T, {n_in}) is the input (zeros when None). Returns
    ``(source, hidden, output)``."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    w = np.load(WEIGHTS)
    x = np.zeros(({n_in}, steps))
    if data is not None:
        x[:, : len(data)] = np.asarray(data, dtype=float).T
    src = RingBuffer(data=x)
    one = RingBuffer(data=np.ones((1, steps)))
    dv = DT / TAU
    hidden = LIF(shape=({n_hid},), du=1.0, dv=dv, vth=THRESHOLD, bias_mant=np.zeros({n_hid}))
    output = LIF(shape=({n_out},), du=1.0, dv=dv, vth=THRESHOLD, bias_mant=np.zeros({n_out}))
    links = [
        (src, hidden, Dense(weights=w["w1"].astype(float))),
        (one, hidden, Dense(weights=w["b1"].astype(float)[:, None])),
        (hidden, output, Dense(weights=w["w2"].astype(float))),
        (one, output, DelayDense(weights=w["b2"].astype(float)[:, None],
                                 delays=np.ones(({n_out}, 1), dtype=int), max_delay=1)),
    ]
    for pre, post, syn in links:
        pre.s_out.connect(syn.s_in)
        syn.a_out.connect(post.a_in)
    return src, hidden, output
'''


def build_lava(folder: Path, variant: str, dt: float, weights: dict) -> tuple:
    if variant != "zero":
        raise Unexpressible("Lava's LIF process resets v to 0 only")
    np.savez(folder / "weights.npz", **weights)
    write(
        folder / "model.py",
        LAVA_MODEL.format(dt=dt, tau=TAU, thr=THRESHOLD, n_in=N_IN, n_hid=N_HID, n_out=N_OUT),
    )
    module = import_file(folder / "model.py", "a2a_lava_model")
    return f"{folder / 'model.py'}:build", None, module


def run_lava(module: Any, x: np.ndarray) -> np.ndarray:
    """One Lava run per sample (a process graph has no batch); the latency is dropped."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink

    out = []
    steps = x.shape[0] + module.LATENCY
    for b in range(x.shape[1]):
        _, _, output = module.build(x[:, b], steps)
        sink = Sink(shape=output.s_out.shape, buffer=steps)
        output.s_out.connect(sink.a_in)
        output.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg())
        try:
            out.append(np.asarray(sink.data.get()).T[module.LATENCY :] != 0)
        finally:
            output.stop()
    return np.stack(out, axis=1)


# --------------------------------------------------------------------------------------------
# quantized models: integer-weight IF and dyadic LIF, as hardware users deploy them
# --------------------------------------------------------------------------------------------
# ``job["spec"]``: ``neuron`` ("if" or "lif"), ``thresholds`` (hidden, output), ``beta`` (the
# decay per step: 1 for IF, 7/8 for the dyadic LIF), ``dt``; the weights file holds ``w1`` and
# ``w2`` only (Linear layers, no biases). Every number is exact in binary, so frameworks that
# compute NIR's equations agree to the last spike, and ties at the threshold are common.


def load_quantized_weights(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: np.asarray(data[k], dtype=np.float32) for k in ("w1", "w2")}


def set_weight(layer: Any, weight: np.ndarray) -> None:
    import torch

    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight))


SNNTORCH_QUANTIZED = '''"""The any-to-any matrix's {title} in snnTorch.

Leaky neurons with beta {beta!r} (1: an IF neuron), reset to zero.
"""

import snntorch as snn
from torch import nn


def build():
    return nn.Sequential(
        nn.Linear({n_in}, {n_hid}, bias=False),
        snn.Leaky(beta={beta!r}, threshold={thr1!r}, reset_mechanism="zero", init_hidden=True),
        nn.Linear({n_hid}, {n_out}, bias=False),
        snn.Leaky(
            beta={beta!r}, threshold={thr2!r}, reset_mechanism="zero", init_hidden=True, output=True
        ),
    )
'''


def build_snntorch_quantized(folder: Path, variant: str, spec: dict, weights: dict) -> tuple:
    import torch

    if variant != "zero":
        raise Unexpressible("the matrix builds snnTorch's quantized models with reset to zero")
    thr1, thr2 = spec["thresholds"]
    text = SNNTORCH_QUANTIZED.format(
        title=spec["title"],
        beta=spec["beta"],
        thr1=thr1,
        thr2=thr2,
        n_in=N_IN,
        n_hid=N_HID,
        n_out=N_OUT,
    )
    write(folder / "model.py", text)
    model = import_file(folder / "model.py", f"a2a_snntorch_{spec['name']}").build()
    set_weight(model[0], weights["w1"])
    set_weight(model[2], weights["w2"])
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


SINABS_QUANTIZED = '''"""The any-to-any matrix's {title} in Sinabs (IAF, reset: {variant}).

Sinabs' IAF fires at v >= threshold (NIR: v > threshold), one spike per step at most.
"""

import sinabs.activation as sa
import sinabs.layers as sl
import torch


def iaf(threshold):
    return sl.IAF(spike_threshold=threshold, spike_fn=sa.SingleSpike, reset_fn=sa.{reset}())


def build():
    return torch.nn.Sequential(
        torch.nn.Linear({n_in}, {n_hid}, bias=False),
        iaf({thr1!r}),
        torch.nn.Linear({n_hid}, {n_out}, bias=False),
        iaf({thr2!r}),
    )
'''


def build_sinabs_quantized(folder: Path, variant: str, spec: dict, weights: dict) -> tuple:
    import torch

    if spec["neuron"] != "if":
        raise Unexpressible("Sinabs' LIF decays by exp(-dt/tau), never exactly by a power of two")
    resets = {"zero": "MembraneReset", "subtract": "MembraneSubtract"}
    if variant not in resets:
        raise Unexpressible(f"Sinabs resets with MembraneReset or MembraneSubtract, not {variant}")
    thr1, thr2 = spec["thresholds"]
    text = SINABS_QUANTIZED.format(
        title=spec["title"],
        variant=variant,
        reset=resets[variant],
        thr1=thr1,
        thr2=thr2,
        n_in=N_IN,
        n_hid=N_HID,
        n_out=N_OUT,
    )
    write(folder / "model.py", text)
    model = import_file(folder / "model.py", f"a2a_sinabs_{spec['name']}_{variant}").build()
    set_weight(model[0], weights["w1"])
    set_weight(model[2], weights["w2"])
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


NORSE_QUANTIZED = '''"""The any-to-any matrix's {title} in Norse.

LIFBoxCell neurons with dt/tau = {ratio!r}, reset to zero.
"""

import norse.torch as norse
import torch

DT = {dt!r}


def lif(threshold):
    p = norse.LIFBoxParameters(
        tau_mem_inv=torch.tensor({tau_inv!r}),
        v_leak=torch.tensor(0.0),
        v_th=torch.tensor(threshold),
        v_reset=torch.tensor(0.0),
    )
    return norse.LIFBoxCell(p, dt=DT)


def build():
    return norse.SequentialState(
        torch.nn.Linear({n_in}, {n_hid}, bias=False),
        lif({thr1!r}),
        torch.nn.Linear({n_hid}, {n_out}, bias=False),
        lif({thr2!r}),
    )
'''


def build_norse_quantized(folder: Path, variant: str, spec: dict, weights: dict) -> tuple:
    import torch

    if spec["neuron"] != "lif":
        raise Unexpressible("Norse's LIFBoxCell always leaks: no IF neuron")
    if variant != "zero":
        raise Unexpressible("the matrix builds Norse's quantized model with reset to zero")
    ratio = 1.0 - spec["beta"]  # dt/tau, a power of two
    thr1, thr2 = spec["thresholds"]
    text = NORSE_QUANTIZED.format(
        title=spec["title"],
        ratio=ratio,
        dt=spec["dt"],
        tau_inv=ratio / spec["dt"],
        thr1=thr1,
        thr2=thr2,
        n_in=N_IN,
        n_hid=N_HID,
        n_out=N_OUT,
    )
    write(folder / "model.py", text)
    model = import_file(folder / "model.py", f"a2a_norse_{spec['name']}").build()
    # a LIFBoxCell's input gain is dt/tau: weights times tau/dt (a power of two: still exact)
    set_weight(model[0], weights["w1"] / ratio)
    set_weight(model[2], weights["w2"] / ratio)
    torch.save(model.state_dict(), folder / "weights.pt")
    return f"{folder / 'model.py'}:build", folder / "weights.pt", model


LAVA_QUANTIZED = '''"""The any-to-any matrix's {title} in Lava (LIF processes, floating point).

``du = 1`` and ``dv = {dv!r}`` (0: an IF neuron), reset to 0; every synapse delivers one step
late: the output layer answers at step 2 (``LATENCY``).
"""

import os

import numpy as np

LATENCY = 2
WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz")


def build(data=None, steps=1):
    """The processes; ``data`` (T, {n_in}) is the input. Returns ``(source, hidden, output)``."""
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF

    w = np.load(WEIGHTS)
    x = np.zeros(({n_in}, steps))
    if data is not None:
        x[:, : len(data)] = np.asarray(data, dtype=float).T
    src = RingBuffer(data=x)
    hidden = LIF(shape=({n_hid},), du=1.0, dv={dv!r}, vth={thr1!r})
    output = LIF(shape=({n_out},), du=1.0, dv={dv!r}, vth={thr2!r})
    for pre, post, weight in ((src, hidden, w["w1"]), (hidden, output, w["w2"])):
        syn = Dense(weights=weight.astype(float))
        pre.s_out.connect(syn.s_in)
        syn.a_out.connect(post.a_in)
    return src, hidden, output
'''


def build_lava_quantized(folder: Path, variant: str, spec: dict, weights: dict) -> tuple:
    if variant != "zero":
        raise Unexpressible("Lava's LIF process resets v to 0 only")
    np.savez(folder / "weights.npz", **weights)
    thr1, thr2 = spec["thresholds"]
    text = LAVA_QUANTIZED.format(
        title=spec["title"],
        dv=1.0 - spec["beta"],
        thr1=thr1,
        thr2=thr2,
        n_in=N_IN,
        n_hid=N_HID,
        n_out=N_OUT,
    )
    write(folder / "model.py", text)
    module = import_file(folder / "model.py", f"a2a_lava_{spec['name']}")
    return f"{folder / 'model.py'}:build", None, module


def build_torch_quantized(folder: Path, variant: str, spec: dict, weights: dict) -> tuple:
    """The orchestrator wrote the backend's artifact ``net.py`` (IF or LIF nodes, placeholder
    weights); the weights are set natively and saved as ``net.pt``."""
    import torch

    module = import_file(folder / "net.py", f"a2a_torch_{spec['name']}_{variant}")
    model = module.build_model()
    set_weight(model.node("linear"), weights["w1"])
    set_weight(model.node("linear_1"), weights["w2"])
    torch.save(model.state_dict(), folder / "net.pt")
    return str(folder / "net.py"), None, model


#: framework -> builder of the quantized models (the runners are the float model's)
QUANTIZED_BUILDERS = {
    "torch": build_torch_quantized,
    "snntorch": build_snntorch_quantized,
    "norse": build_norse_quantized,
    "sinabs": build_sinabs_quantized,
    "lava": build_lava_quantized,
}
#: why the other frameworks have no native quantized model
QUANTIZED_ABSENT = {
    "rockpool": "Rockpool's neurons decay by exp(-dt/tau): no exact dyadic decay, no IF",
    "nengo": "Nengo's LIF integrates exactly (exp(-dt/tau)) with spikes of amplitude 1/dt",
    "spyx": "Spyx's neurons fire from the previous step's voltage (a one-step Delay in NIR)",
}


#: framework -> (builder, runner, input kind: "torch" tensor or "numpy" array)
BUILDERS = {
    "torch": (build_torch, run_torch, "torch"),
    "snntorch": (build_snntorch, run_snntorch, "torch"),
    "norse": (build_norse, run_norse, "torch"),
    "sinabs": (build_sinabs, run_sinabs, "torch"),
    "rockpool": (build_rockpool, run_rockpool, "torch"),
    "nengo": (build_nengo, run_nengo, "numpy"),
    "spyx": (build_spyx, run_spyx, "numpy"),
    "lava": (build_lava, run_lava, "numpy"),
}


def load_input(path: str, kind: str = "torch") -> Any:
    x = np.load(path).astype(np.float32)
    if kind == "numpy":
        return x
    import torch

    return torch.as_tensor(x)


def build(job: dict) -> dict:
    backend = job["backend"]
    if backend not in BUILDERS:
        return {"ok": False, "error": f"no native model is defined for {backend!r}"}
    folder = Path(job["dir"])
    folder.mkdir(parents=True, exist_ok=True)
    make, run, kind = BUILDERS[backend]
    try:
        spec = job.get("spec")
        if spec is None:  # the float LIF model
            weights = load_weights(job["weights"])
            source, weights_file, model = make(folder, job["variant"], job["dt"], weights)
        elif backend in QUANTIZED_BUILDERS:
            weights = load_quantized_weights(job["weights"])
            make_quantized = QUANTIZED_BUILDERS[backend]
            source, weights_file, model = make_quantized(folder, job["variant"], spec, weights)
        else:
            raise Unexpressible(QUANTIZED_ABSENT.get(backend, "no quantized model is defined"))
    except Unexpressible as exc:
        return {"ok": True, "expressible": False, "reason": str(exc)}
    spikes = run(model, load_input(job["input"], kind))
    count = save_spikes(folder / "native.npy", spikes)
    return {
        "ok": True,
        "expressible": True,
        "source": source,
        "weights": None if weights_file is None else str(weights_file),
        "spikes": count,
    }


# --------------------------------------------------------------------------------------------
# artifacts written by `nirhub convert`, loaded without nirhub
# --------------------------------------------------------------------------------------------


def run_artifact(job: dict) -> dict:
    """Import the generated module and run ``build_model()`` as the framework's users do."""
    import inspect

    backend = job["backend"]
    path = Path(job["artifact"])
    if "nirhub" in sys.modules:
        return {"ok": False, "error": "nirhub was imported: the artifact must load without it"}
    module = import_file(path, f"a2a_artifact_{backend}_{path.parent.name}")
    x = load_input(job["input"], "numpy")
    T, B = x.shape[:2]
    if backend == "nengo":  # run(inputs) plays one sample: (T, *shape) -> (T, *shape)
        (name,) = module.INPUTS
        (out,) = module.OUTPUTS
        y = np.stack([module.run({name: x[:, b]})[out] for b in range(B)], axis=1)
    elif backend == "spyx":
        y = run_spyx(module.build_model(), x)
    elif backend == "lava":  # run(inputs) plays one sample, latency removed
        (name,) = module.INPUTS
        (out,) = module.OUTPUTS
        y = np.stack([module.run({name: x[:, b]})[out] for b in range(B)], axis=1)
    elif backend in ("torch", "snntorch", "norse", "sinabs", "rockpool"):
        import torch

        xt = torch.as_tensor(x)
        if backend in ("torch", "snntorch"):
            model = module.build_model()
            with torch.no_grad():
                y = model(xt.to(next(model.parameters()).dtype)).numpy()
        elif backend == "norse":
            y = run_norse(module.build_model(), xt)
        elif backend == "rockpool":
            y = run_rockpool(module.build_model(), xt)
        elif "batch_size" in inspect.signature(module.build_model).parameters:
            # a sinabs chain of Squeeze layers: input (batch*time, ...)
            import sinabs

            model = module.build_model(batch_size=B)
            sinabs.reset_states(model)
            with torch.no_grad():
                y = model(xt.transpose(0, 1).reshape(B * T, *xt.shape[2:]))
            y = y.reshape(B, T, *y.shape[1:]).transpose(0, 1).numpy()
        else:  # a generated sinabs Network: input (batch, time, ...)
            model = module.build_model()
            with torch.no_grad():
                y = model(xt.transpose(0, 1).contiguous()).transpose(0, 1).numpy()
    else:
        return {"ok": False, "error": f"no artifact loader is defined for {backend!r}"}
    count = save_spikes(Path(job["output"]), y)
    return {"ok": True, "spikes": count}


OPS = {"build": build, "run-artifact": run_artifact}


def main(argv: list[str]) -> int:
    jobs = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    results = []
    for job in jobs:
        try:
            results.append(OPS[job["op"]](job))
        except Exception as exc:  # noqa: BLE001 - reported per job, the others still run
            last = traceback.format_exception(exc)[-3:]
            results.append(
                {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": "".join(last)}
            )
    Path(argv[1]).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
