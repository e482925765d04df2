"""The NIR paper's Braille RNN (graph A) as a Norse model, with the paper's trained weights.

The network (Pedersen et al., Nat. Commun. 15:8122, 2024, task 3) was trained in snnTorch:
``fc1 Linear(12, 38)`` -> ``RSynaptic(38)`` (synaptic current and membrane, all-to-all
recurrence with bias, reset to zero right after a spike) -> ``fc2 Linear(38, 7)`` ->
``Synaptic(7)``, at alpha/beta from ``braille_parameters.json`` and dt = 1e-4 s. Here it is
written with Norse's cells, which step

    j = i + W_in·x + W_rec·z
    v = v + dt·tau_mem_inv·(v_leak − v + j)        (spike when v > v_th, then v = v_reset)
    i = (1 − dt·tau_syn_inv)·j

so ``tau_syn_inv = (1 − alpha)/dt`` and ``tau_mem_inv = (1 − beta)/dt`` give snnTorch's decays,
and the trained weights are multiplied by ``1/(1 − beta)`` (Norse's membrane takes
``(1 − beta)·j`` where snnTorch's takes the current itself). The recurrent bias, a constant, is
added to ``fc1``'s bias. On the paper's test sample this model's hidden layer spikes exactly as
the paper's snnTorch recording (119 spikes, 0 of 9728 cells differ).

    nirhub convert examples/braille_norse.py:build --weights examples/braille_norse_weights.pt \\
        --to snntorch -o out/braille_snntorch.py

``braille_norse_weights.pt`` is a state dict of tensors (``torch.load(weights_only=True)``),
made from the paper's snnTorch state dict (``tests/data/corpus/rnn/data/
model_noDelay_bias_ref_zero.pt``) by :func:`weights_from_paper`:
``python examples/braille_norse.py PAPER_STATE_DICT.pt OUT.pt`` writes it again.
The weights and hyperparameters come from the NIR repository (BSD-3-Clause, see LICENSE-NIR).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import norse.torch as norse
import torch

HERE = Path(__file__).resolve().parent
DT = 1e-4  # seconds per step: the NIR paper's snnTorch export
N_IN, N_HIDDEN, N_OUT = 12, 38, 7
PARAMETERS = json.loads((HERE / "braille_parameters.json").read_text(encoding="utf-8"))


def cell_parameters(alpha: float, beta: float) -> norse.LIFParameters:
    """snnTorch's decays alpha (current) and beta (membrane) as Norse's inverse time constants;
    threshold 1, reset to 0."""
    return norse.LIFParameters(
        tau_syn_inv=torch.tensor((1.0 - alpha) / DT),
        tau_mem_inv=torch.tensor((1.0 - beta) / DT),
        v_leak=torch.tensor(0.0),
        v_th=torch.tensor(1.0),
        v_reset=torch.tensor(0.0),
    )


def build() -> norse.SequentialState:
    """The untrained network; load ``braille_norse_weights.pt`` into it."""
    p = PARAMETERS
    return norse.SequentialState(
        torch.nn.Linear(N_IN, N_HIDDEN),  # fc1 (its bias includes the recurrent bias)
        norse.LIFRecurrentCell(
            N_HIDDEN,
            N_HIDDEN,
            p=cell_parameters(p["alpha_r"], p["beta_r"]),
            dt=DT,
            autapses=True,  # the trained recurrent matrix has a diagonal
        ),
        torch.nn.Linear(N_HIDDEN, N_OUT),  # fc2
        norse.LIFCell(p=cell_parameters(p["alpha_out"], p["beta_out"]), dt=DT),
    )


def weights_from_paper(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """This model's state dict from the paper's snnTorch state dict (see the module doc)."""
    p = PARAMETERS
    hidden_gain = 1.0 / (1.0 - p["beta_r"])
    out_gain = 1.0 / (1.0 - p["beta_out"])
    return {
        "0.weight": state["fc1.weight"] * hidden_gain,
        "0.bias": (state["fc1.bias"] + state["lif1.recurrent.bias"]) * hidden_gain,
        "1.input_weights": torch.eye(N_HIDDEN),
        "1.recurrent_weights": state["lif1.recurrent.weight"] * hidden_gain,
        "2.weight": state["fc2.weight"] * out_gain,
        "2.bias": state["fc2.bias"] * out_gain,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: python {Path(__file__).name} PAPER_STATE_DICT.pt OUT.pt", file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    if target.exists():
        print(f"{target} exists; remove it first", file=sys.stderr)
        return 6
    weights = weights_from_paper(torch.load(source, map_location="cpu", weights_only=True))
    build().load_state_dict(weights)  # check that they fit
    tmp = target.with_name(target.name + ".tmp")
    torch.save(weights, tmp)
    os.replace(tmp, target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
