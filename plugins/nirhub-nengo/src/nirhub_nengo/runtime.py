"""Nengo pieces that NIR needs and Nengo does not ship.

This module depends on numpy and nengo only: its source is copied verbatim into every
generated network module (``nirhub convert --to nengo``), so a saved network runs without
nirhub. Keep it self-contained.

Voltages are *normalised* as in ``nengo.LIF``: ``z = (v - v0) / (v_threshold - v0)``, so a
neuron fires when ``z > 1`` and its input current ``J`` is ``gain * x + bias``.
"""

import numpy as np
from nengo.dists import Choice
from nengo.neurons import LIF, RectifiedLinear
from nengo.params import EnumParam

RESETS = ("zero", "subtract", "subtract-delayed", "subtract-guarded")


def _reset(mode, voltage, flag):
    """Spike test and reset on the normalised voltage (threshold 1); returns the spikes.

    ``"zero"``: ``z = 0``; ``"subtract"``: ``z -= 1`` in the spike step;
    ``"subtract-delayed"`` (snnTorch's default): ``z -= 1`` one step later, undecayed;
    ``"subtract-guarded"`` (snnTorch ``reset_delay=False``): a neuron still above threshold
    after last step's subtraction is not reset twice. ``flag`` carries the state between steps.
    """
    if mode == "zero":
        spiked = voltage > 1
        voltage[spiked] = 0
    elif mode == "subtract":
        spiked = voltage > 1
        voltage[spiked] -= 1
    elif mode == "subtract-delayed":
        voltage[flag > 0] -= 1
        spiked = voltage > 1
        flag[:] = spiked
    else:
        q = flag > 0
        voltage[q] -= 1
        spiked = voltage > 1
        voltage[spiked & ~q] -= 1
        voltage[q & ~spiked] += 1
        flag[:] = voltage > 1
    return spiked


class IntegrateAndFire(RectifiedLinear):
    """NIR ``IF``: ``dz/dt = J``; a spike when ``z > 1``, then a reset (see ``RESETS``).

    Nengo's ``SpikingRectifiedLinear`` rectifies its input and can fire several spikes per
    step; this neuron integrates negative input too and fires at most once per step. The
    integral of a held input is exact, so any step size gives NIR's integrator. The rate
    curve (used by Nengo only for tuning curves) is the rectified linear one.
    """

    state = {"voltage": Choice([0]), "flag": Choice([0])}
    spiking = True

    reset = EnumParam("reset", values=RESETS)

    def __init__(self, amplitude=1.0, reset="zero", initial_state=None):
        super().__init__(amplitude=amplitude, initial_state=initial_state)
        self.reset = reset

    def step(self, dt, J, output, voltage, flag):
        voltage += J * dt
        spiked = _reset(self.reset, voltage, flag)
        output[:] = spiked * (self.amplitude / dt)


class ResetLIF(LIF):
    """``nengo.LIF`` with NIR's other resets (``"subtract"`` and snnTorch's two variants).

    No refractory period (NIR has none). The membrane update is Nengo's exact one, with the
    input current held over the step.
    """

    state = {"voltage": Choice([0]), "refractory_time": Choice([0]), "flag": Choice([0])}

    reset = EnumParam("reset", values=RESETS)

    def __init__(
        self, tau_rc=0.02, reset="subtract", min_voltage=-np.inf, amplitude=1.0, initial_state=None
    ):
        super().__init__(
            tau_rc=tau_rc,
            tau_ref=0.0,
            min_voltage=min_voltage,
            amplitude=amplitude,
            initial_state=initial_state,
        )
        self.reset = reset

    def step(self, dt, J, output, voltage, refractory_time, flag):
        voltage -= (J - voltage) * np.expm1(-dt / self.tau_rc)
        voltage[voltage < self.min_voltage] = self.min_voltage
        spiked = _reset(self.reset, voltage, flag)
        output[:] = spiked * (self.amplitude / dt)


class Threshold:
    """Node function of NIR ``Threshold``: ``(x > threshold) - offset`` (element-wise).

    ``offset`` is the output at rest, which the network adds back as a constant elsewhere.
    """

    def __init__(self, threshold, offset):
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.offset = np.asarray(offset, dtype=np.float64)

    def __call__(self, t, x):
        return (x > self.threshold).astype(np.float64) - self.offset


class Feeder:
    """Node output that plays a recorded input, one row per time step.

    ``data`` is ``(T, size)``; at simulation time ``t`` (Nengo's first step is ``t = dt``)
    the node outputs ``data[round(t / dt) - 1]`` and zeros after the end. Replace ``data``
    (and call ``sim.reset()``) to run another sample without rebuilding.
    """

    def __init__(self, data, dt, size):
        self.dt = float(dt)
        self.size = int(size)
        self.data = data

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        if value is None:
            value = np.zeros((0, self.size))
        value = np.asarray(value, dtype=np.float64)
        self._data = value.reshape(value.shape[0], self.size)

    def __call__(self, t):
        k = int(round(t / self.dt)) - 1
        if 0 <= k < self._data.shape[0]:
            return self._data[k]
        return np.zeros(self.size)
