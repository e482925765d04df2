"""The NIR paper's Braille RNN (graph B) as snnTorch users keep it: this code + a state dict.

The network (Pedersen et al., Nat. Commun. 15:8122, 2024, task 3, "noDelay_noBias_subtract"):
``fc1 Linear(12, 40, bias=False)`` -> ``RSynaptic(40)`` (all-to-all recurrence, no bias,
reset by subtraction) -> ``fc2 Linear(40, 7, bias=False)`` -> ``Synaptic(7)``, alpha/beta from
the paper's parameter file, threshold 1, dt = 1e-4 s. ``braille_snntorch_weights.pt`` is the
paper's trained state dict (``tests/data/corpus/rnn/data/model_noDelay_noBias_ref_subtract.pt``)
saved on the CPU, tensors only (``torch.load(weights_only=True)``).

To Xylo Audio 2 (snnTorch's RSynaptic subtracts one step late, Xylo in the spike step:
``-O reset=subtract`` accepts Xylo's reset; the conversion warns about it)::

    nirhub convert examples/xylo/braille_snntorch.py:build \\
        --weights examples/xylo/braille_snntorch_weights.pt --to xylo -O reset=subtract \\
        -o out/braille_xylo.npz

The weights and hyperparameters come from the NIR repository (BSD-3-Clause, see
../LICENSE-NIR).
"""

from __future__ import annotations

from collections import OrderedDict

import snntorch as snn
from torch import nn

N_IN, N_HIDDEN, N_OUT = 12, 40, 7
ALPHA_R, BETA_R, ALPHA_OUT, BETA_OUT = 0.75, 0.85, 0.45, 0.7


def build() -> nn.Sequential:
    """The untrained network; load ``braille_snntorch_weights.pt`` into it."""
    lif1 = snn.RSynaptic(
        alpha=ALPHA_R,
        beta=BETA_R,
        linear_features=N_HIDDEN,
        reset_mechanism="subtract",
        init_hidden=True,
    )
    lif1.recurrent = nn.Linear(N_HIDDEN, N_HIDDEN, bias=False)
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(N_IN, N_HIDDEN, bias=False),
            lif1=lif1,
            fc2=nn.Linear(N_HIDDEN, N_OUT, bias=False),
            lif2=snn.Synaptic(
                alpha=ALPHA_OUT, beta=BETA_OUT, reset_mechanism="subtract", init_hidden=True
            ),
        )
    )
