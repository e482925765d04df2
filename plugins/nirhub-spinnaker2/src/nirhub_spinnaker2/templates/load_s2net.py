"""Rebuild a network written by nirhub (``--to spinnaker2``) with py-spinnaker2 and run it.

Written by nirhub-spinnaker2 next to ``NAME.json`` + ``NAME.npz``; it needs py-spinnaker2
(GitLab: spinnaker2/py-spinnaker2, not on PyPI) and numpy, not nirhub. Usage::

    python load_s2net.py NAME.json INPUT.npy                      # on a chip (--eth-ip)
    python load_s2net.py NAME.json INPUT.npy --brian2             # py-spinnaker2's Brian2 backend

``INPUT.npy`` holds 0/1 spikes, ``(T, *input shape)``, of the network's (first) input; 3-D
inputs are flattened in CHW order. The spikes of every output population are saved to
``--out`` (default ``NAME_spikes.npz``) as ``(ticks, neurons)`` rasters in the chip's time
axis: every projection delivers one tick late, so the run lasts T + depth ticks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # py-spinnaker2 is imported where it is used: load() needs numpy only
    from spinnaker2 import snn


def load(path: Path) -> tuple[dict, dict]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("format") != "nirhub-spinnaker2-net" or int(doc.get("version", 0)) > 1:
        raise SystemExit(f"{path} is not a nirhub-spinnaker2-net (version 1) file")
    with np.load(path.parent / Path(doc["arrays"]).name, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return doc, arrays


def conv_params(entry: dict, pre_shape: list[int]) -> dict:
    _, height, width = pre_shape
    pool = entry["pool"] or [1, 1]
    stride, padding = entry["stride"], entry["padding"]
    return {
        "in_height": height,
        "in_width": width,
        "stride_x": stride[0],
        "stride_y": stride[1],
        "pool_x": pool[0],
        "pool_y": pool[1],
        "pad_top": padding[0],
        "pad_bottom": padding[0],
        "pad_left": padding[1],
        "pad_right": padding[1],
    }


def build(doc: dict, arrays: dict) -> tuple[snn.Network, dict]:
    from spinnaker2 import snn

    populations = {}
    for entry in doc["populations"]:
        if entry["model"] == "spike_list":
            pop = snn.Population(
                size=entry["size"], neuron_model="spike_list", params={}, name=entry["name"]
            )
        else:
            params = {key: arrays[ref] for key, ref in entry["params"].items()}
            params["reset"] = entry["reset"]
            pop = snn.Population(
                size=entry["size"],
                neuron_model=entry["model"],
                params=params,
                name=entry["name"],
                record=entry["record"],
            )
        pop.set_max_atoms_per_core(entry["max_atoms_per_core"])
        populations[entry["name"]] = pop
    shapes = {entry["name"]: entry["shape"] for entry in doc["populations"]}
    projections = []
    for entry in doc["projections"]:
        pre, post = populations[entry["pre"]], populations[entry["post"]]
        weights = arrays[entry["weights"]]
        if entry["kind"] == "conv":
            kernel = weights.swapaxes(0, 1).astype(np.int8)  # (C_in, C_out, kH, kW)
            params = conv_params(entry, shapes[entry["pre"]])
            projections.append(snn.Conv2DProjection(pre, post, kernel, params))
        else:
            post_idx, pre_idx = np.nonzero(weights)
            delays = arrays[entry["delays"]] if entry.get("delays") else np.zeros_like(weights)
            connections = [
                [int(i), int(o), int(weights[o, i]), entry["delay"] + int(delays[o, i])]
                for o, i in zip(post_idx, pre_idx, strict=True)
            ]
            projections.append(snn.Projection(pre=pre, post=post, connections=connections))
    net = snn.Network("nirhub")
    net.add(*populations.values(), *projections)
    return net, populations


def depth(doc: dict) -> int:
    ticks = {name: 0 for name in doc["inputs"]}
    for _ in doc["projections"]:
        for entry in doc["projections"]:
            if entry["pre"] in ticks:
                new = ticks[entry["pre"]] + 1 + entry["delay"]
                ticks[entry["post"]] = min(ticks.get(entry["post"], new), new)
    return max(ticks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", type=Path, help="NAME.json written by nirhub")
    parser.add_argument("spikes", type=Path, help="INPUT.npy: (T, *input shape) 0/1 spikes")
    parser.add_argument("--brian2", action="store_true", help="py-spinnaker2's Brian2 backend")
    parser.add_argument("--eth-ip", default="192.168.1.25", help="the chip's Ethernet address")
    parser.add_argument("--tick", type=float, default=1e-3, help="sys_tick_in_s (seconds)")
    parser.add_argument("--out", type=Path, help="spike rasters (.npz)")
    args = parser.parse_args()

    doc, arrays = load(args.network)
    net, populations = build(doc, arrays)
    spikes = np.load(args.spikes, allow_pickle=False)
    steps = spikes.shape[0]
    raster = spikes.reshape(steps, -1)
    source = populations[doc["inputs"][0]]
    source.params = {int(i): np.nonzero(raster[:, i])[0].tolist() for i in range(raster.shape[1])}
    ticks = steps + depth(doc)
    if args.brian2:
        from spinnaker2 import brian2_sim

        backend = brian2_sim.Brian2Backend()
        backend.run(net, ticks)
    else:
        from spinnaker2 import hardware

        backend = hardware.SpiNNaker2Chip(eth_ip=args.eth_ip)
        backend.run(net, ticks, sys_tick_in_s=args.tick)
    result = {}
    for output, name in doc["outputs"].items():
        pop = populations[name]
        out = np.zeros((ticks, pop.size), dtype=np.int8)
        for index, times in pop.get_spikes().items():
            out[np.asarray(times, dtype=int), int(index)] = 1
        result[output] = out
    target = args.out or args.network.with_name(args.network.stem + "_spikes.npz")
    np.savez(target, **result)
    print(f"wrote {target} ({ticks} ticks, chip time axis)")


if __name__ == "__main__":
    main()
