"""Why Speck cannot hold a node type: shown by the hub's type check and by ``check()``.

Kept free of imports so that the plugin module (read by ``nirhub list-backends``) stays cheap.
"""

REFUSED = {
    "LIF": "Speck's neurons are integrate-and-fire without leak (IAF); a leaky neuron "
    "cannot be mapped. Retrain with IF neurons (e.g. sinabs IAF) or use a software backend",
    "CubaLIF": "Speck's neurons are IAF without leak or synaptic current",
    "LI": "Speck's neurons are IAF; a leaky integrator without spikes has no chip equivalent",
    "CubaLI": "Speck's neurons are IAF; a leaky integrator without spikes has no chip equivalent",
    "I": "Speck has no non-spiking integrator; every chip layer ends in spiking IAF neurons",
    "Threshold": "Speck has no stateless threshold unit; use IF neurons",
    "Delay": "Speck has no synaptic delays",
    "Scale": "a Scale can only be folded into the Conv2d/Linear feeding it alone",
    "Conv1d": "Speck convolutions are 2-D; express it as a Conv2d with a square kernel",
}
