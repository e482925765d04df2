"""Speck's resources, as sinabs 3.1 describes them (numpy only; no sinabs import).

The numbers are those of ``sinabs.backend.dynapcnn.chips.dynapcnn.DynapcnnConfigBuilder.
get_constraints`` (shared by Speck 2e and 2f) and the memory formulas of
``DynapcnnLayer.memory_summary``; a test checks both against sinabs itself, so that
:meth:`SpeckBackend.check` can run without torch or sinabs (``nirhub convert --dry-run``).

Memory of one chip layer (a convolution with ``c`` input channels, an ``h x w`` kernel and ``f``
output channels, feeding ``f x H x W`` IAF neurons)::

    kernel = c * 2 ** (ceil(log2(h * w)) + ceil(log2(f)))
    neuron = f * 2 ** (ceil(log2(H)) + ceil(log2(W)))
    bias   = f if the convolution has a bias, else 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

K = 1024
#: per core, cores 0..8 (words)
KERNEL_MEMORY = (16 * K, 16 * K, 16 * K, 32 * K, 32 * K, 64 * K, 64 * K, 16 * K, 16 * K)
NEURON_MEMORY = (64 * K, 64 * K, 64 * K, 32 * K, 32 * K, 16 * K, 16 * K, 16 * K, 16 * K)
BIAS_MEMORY = (K,) * 9
CORES = len(KERNEL_MEMORY)
WEIGHT_BITS = 8  #: sinabs DYNAPCNN_WEIGHT_PRECISION_BITS (weights and biases)
STATE_BITS = 16  #: sinabs DYNAPCNN_STATE_PRECISION_BITS (thresholds, membrane potential)
STATE_MIN = -(2 ** (STATE_BITS - 1))
#: chip name -> the sinabs/samna device name used for its configuration
DEVICES = {"speck2f": "speck2fmodule", "speck2e": "speck2edevkit"}
CHIPS = tuple(DEVICES)


@dataclass(frozen=True)
class Memory:
    kernel: int
    neuron: int
    bias: int

    def fits(self, core: int) -> bool:
        return (
            self.kernel <= KERNEL_MEMORY[core]
            and self.neuron <= NEURON_MEMORY[core]
            and self.bias <= BIAS_MEMORY[core]
        )

    def cores(self) -> list[int]:
        return [c for c in range(CORES) if self.fits(c)]


def _pow2_ceil_log(n: int) -> int:
    return 2 ** math.ceil(math.log2(n)) if n > 0 else 0


def layer_memory(
    in_channels: int,
    kernel: tuple[int, int],
    out_channels: int,
    neuron_hw: tuple[int, int],
    has_bias: bool,
) -> Memory:
    """Memory words one chip layer needs (sinabs ``DynapcnnLayer.memory_summary``)."""
    kh, kw = kernel
    h, w = neuron_hw
    return Memory(
        kernel=in_channels * _pow2_ceil_log(kh * kw) * _pow2_ceil_log(out_channels),
        neuron=out_channels * _pow2_ceil_log(h) * _pow2_ceil_log(w),
        bias=out_channels if has_bias else 0,
    )


def assign_cores(memories: list[Memory]) -> list[int] | None:
    """One distinct core per layer, each within its memories (bipartite matching), or None.

    Same result class as sinabs' ``get_valid_mapping`` (Edmonds-Karp on the same bipartite
    graph): a mapping exists exactly when this finds one.
    """
    owner: dict[int, int] = {}

    def place(layer: int, seen: set[int]) -> bool:
        for core in memories[layer].cores():
            if core in seen:
                continue
            seen.add(core)
            if core not in owner or place(owner[core], seen):
                owner[core] = layer
                return True
        return False

    for layer in range(len(memories)):
        if not place(layer, set()):
            return None
    out = [0] * len(memories)
    for core, layer in owner.items():
        out[layer] = core
    return out


def largest_core() -> Memory:
    return Memory(max(KERNEL_MEMORY), max(NEURON_MEMORY), max(BIAS_MEMORY))
