"""Refusals name every offending node; the plugin module stays cheap to import."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub.errors import UnsupportedError
from nirhub.ir.conventions import set_dt
from nirhub.ir.graph import Graph
from nirhub.ir.nodes import LI, LIF, Affine, Input, Output


def _graph(reset: str | None = None) -> Graph:
    nodes = {
        "input": Input((3,)),
        "fc": Affine(np.eye(3), np.zeros(3)),
        "lif": LIF(np.full(3, 1e-3), np.ones(3), np.zeros(3), np.full(3, 0.5)),
        "li": LI(np.full(3, 1e-3), np.ones(3), np.zeros(3)),
        "output": Output((3,)),
    }
    g = Graph(nodes, [("input", "fc"), ("fc", "lif"), ("lif", "li"), ("li", "output")])
    set_dt(g.metadata, 1e-4)
    return g


def test_every_problem_is_named(registry):
    be = registry.get("lava")
    problems = be.check(_graph())
    assert {p.where for p in problems} >= {"li"}
    with pytest.raises(UnsupportedError) as info:
        be.from_ir(_graph())
    assert "li" in str(info.value)


def test_subtract_reset_refused(registry):
    g = _graph()
    g2 = Graph({k: v for k, v in g.nodes.items() if k != "li"},
               [("input", "fc"), ("fc", "lif"), ("lif", "output")], g.metadata)  # fmt: skip
    with pytest.raises(UnsupportedError, match="subtraction") as info:
        registry.get("loihi2").from_ir(g2, reset="subtract")
    assert [p.where for p in info.value.problems] == ["lif"]


def test_plugin_module_is_cheap():
    import json
    import subprocess
    import sys

    code = (
        "import sys, json, nirhub_lava.plugin as m\n"
        "m.LavaBackend.descriptor; m.Loihi2Backend.descriptor\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('lava', 'torch', 'scipy'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip()) == []


def test_hardware_run_needs_lava_loihi(registry, lif_task):
    from nirhub.errors import BackendUnavailableError
    from nirhub.hub.convert import simulate_with_backend

    graph, x = lif_task
    with pytest.raises(BackendUnavailableError, match="lava-loihi"):
        simulate_with_backend(graph, x[:20], 1e-4, "loihi2", registry=registry, hardware=True)


def test_chip_limits_are_reported(registry):
    """Too many neurons for one chip, and a constant drive beyond the 13-bit bias mantissa."""
    n = 1_100_000  # > 128 cores x 8192 neurons
    big = Graph(
        {
            "input": Input((n,)),
            "lif": LIF(np.full(n, 1e-3), np.ones(n), np.zeros(n), np.ones(n)),
            "output": Output((n,)),
        },
        [("input", "lif"), ("lif", "output")],
    )
    set_dt(big.metadata, 1e-4)
    be = registry.get("loihi2")
    problems = be.check(big)
    assert [p.where for p in problems] == ["<graph>"]
    assert "neuro-cores" in problems[0].message and "128" in problems[0].message
    assert be.check(big, chips=2) == []

    leaky = Graph(
        {
            "input": Input((2,)),
            "lif": LIF(np.full(2, 1e-3), np.ones(2), np.full(2, 1e5), np.ones(2)),
            "output": Output((2,)),
        },
        [("input", "lif"), ("lif", "output")],
    )
    set_dt(leaky.metadata, 1e-4)
    problems = be.check(leaky)
    assert [p.where for p in problems] == ["lif"] and "13-bit" in problems[0].message
    assert registry.get("lava").check(leaky) == []  # the float simulator takes it
