"""The Xylo chips nirhub targets and their limits (pure data; nothing is imported).

Numbers from rockpool 3.1's mappers (``max_hidden_neurons``/``max_output_neurons``),
``config_from_specification`` and XyloSim (xylosim 0.1.3, ``src/v2/cpp``): weights are signed
8-bit with a per-matrix left shift, thresholds, biases and neuron states are signed 16-bit
(saturating), decays are bit shifts ``x -= x >> dash`` (at least 1 towards 0), a hidden neuron
emits at most 31 spikes per step, an output neuron 1, an input channel takes at most 15 events
per step.
"""

from __future__ import annotations

from dataclasses import dataclass

from nirhub.backend import UsageError


@dataclass(frozen=True)
class Chip:
    name: str  #: nirhub's option value
    part: str  #: SynSense part number = rockpool sub-package
    title: str
    inputs: int
    hidden: int
    outputs: int
    synapses_per_hidden: int  #: input synapses (time constants) per hidden neuron
    weight_bits: int = 8
    threshold_bits: int = 16
    bias_bits: int = 16
    state_bits: int = 16
    dash_max: int = 15  #: bit-shift decay registers are 4 bits wide
    max_hidden_spikes: int = 31
    max_output_spikes: int = 1
    max_input_events: int = 15

    @property
    def weight_max(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def threshold_max(self) -> int:
        return 2 ** (self.threshold_bits - 1) - 1

    @property
    def bias_max(self) -> int:
        return 2 ** (self.bias_bits - 1) - 1

    def limits(self) -> dict[str, object]:
        """The limits as a readable dict (list-backends, reports, docs)."""
        return {
            "input channels": self.inputs,
            "hidden neurons": self.hidden,
            "output neurons": self.outputs,
            "synapses per hidden neuron": self.synapses_per_hidden,
            "weights": f"int{self.weight_bits} + per-matrix left shift",
            "thresholds": f"int{self.threshold_bits}",
            "biases": f"int{self.bias_bits}",
            "decays": f"bit shifts dash 0..{self.dash_max}: alpha = 1 - 2**-dash",
        }


CHIPS: dict[str, Chip] = {
    "xylo-audio2": Chip("xylo-audio2", "syns61201", "Xylo Audio 2 (SYNS61201)", 16, 1000, 8, 2),
    "xylo-audio3": Chip("xylo-audio3", "syns65302", "Xylo Audio 3 (SYNS65302)", 16, 992, 32, 2),
    "xylo-imu": Chip("xylo-imu", "syns63300", "Xylo IMU (SYNS63300)", 16, 496, 16, 1),
}
DEFAULT_CHIP = "xylo-audio2"
#: accepted spellings of the option -> canonical name
ALIASES = {
    **{c.part: c.name for c in CHIPS.values()},
    "audio2": "xylo-audio2",
    "audio3": "xylo-audio3",
    "imu": "xylo-imu",
}


def get_chip(name: object) -> Chip:
    if name is None:
        return CHIPS[DEFAULT_CHIP]
    key = str(name).strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in CHIPS:
        raise UsageError(
            f"unknown Xylo chip {name!r}",
            hint=f"Use -O chip= one of {', '.join(CHIPS)} (or the part numbers "
            f"{', '.join(c.part for c in CHIPS.values())}).",
        )
    return CHIPS[key]
