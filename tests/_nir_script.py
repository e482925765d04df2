"""Source of the script the compatibility tests run inside a nir 1.0.4 / 1.0.8 environment.

``write <folder>``: build graphs with every primitive that nir version has (keyword arguments
only), ``nir.write`` them and dump every field value to ``<file>.npz``.
``read <files...>``: ``nir.read`` each file and dump its field values to ``<file>.npz``.
``interop <repo> <files...>``: with nirhub importable from ``<repo>``, check
``from_nir(to_nir(g))`` for each file.
"""

SCRIPT = r"""
import dataclasses, json, os, sys
import numpy as np
import nir

NEW = hasattr(nir, "CubaLI")
HAS_RESET = any(f.name == "v_reset" for f in dataclasses.fields(nir.LIF))


def dump(graph, out, prefix=""):
    out[f"{prefix}|#edges"] = np.array(sorted(f"{s}->{d}" for s, d in graph.edges))
    for name, node in graph.nodes.items():
        path = prefix + name
        out[f"{path}|#type"] = np.array(type(node).__name__)
        if isinstance(node, nir.NIRGraph):
            dump(node, out, path + ".")
            continue
        if isinstance(node, nir.Input):
            out[f"{path}|shape"] = np.asarray(node.input_type["input"])
        elif isinstance(node, nir.Output):
            if node.output_type["output"] is not None:
                out[f"{path}|shape"] = np.asarray(node.output_type["output"])
        for f in dataclasses.fields(node):
            if f.name in ("input_type", "output_type", "metadata"):
                if f.name == "input_type" and isinstance(node, nir.Flatten):
                    v = node.input_type["input"]
                    if v is not None:
                        out[f"{path}|input_type"] = np.asarray(v)
                if f.name == "metadata" and getattr(node, "metadata", None):
                    out[f"{path}|#metadata"] = np.array(json.dumps(node.metadata, default=str,
                                                                   sort_keys=True))
                continue
            v = getattr(node, f.name)
            if v is not None:
                out[f"{path}|{f.name}"] = np.asarray(v)


def kw_graph(nodes, edges, metadata=None):
    kw = dict(nodes=nodes, edges=edges)
    if metadata:
        kw["metadata"] = metadata
    if NEW:
        kw["type_check"] = False
    return nir.NIRGraph(**kw)


def every_primitive():
    rng = np.random.default_rng(2)
    f32 = np.float32
    reset = dict(v_reset=np.full(8, 0.25)) if HAS_RESET else {}
    nodes = {
        "input": nir.Input(input_type=np.array([2, 10, 10])),
        "conv2d": nir.Conv2d(input_shape=np.array([10, 10]),
                             weight=rng.standard_normal((4, 2, 3, 3)).astype(f32),
                             stride=np.array([1, 1]), padding=np.array([1, 1]),
                             dilation=np.array([1, 1]), groups=1, bias=np.arange(4, dtype=f32)),
        "sumpool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                 padding=np.array([0, 0])),
        "avgpool": nir.AvgPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]),
                                 padding=np.array([0, 0])),
        "flatten": nir.Flatten(input_type={"input": np.array([4, 5, 5])}, start_dim=0, end_dim=-1),
        "affine": nir.Affine(weight=rng.standard_normal((8, 100)), bias=rng.standard_normal(8)),
        "lif": nir.LIF(tau=np.full(8, 0.01), r=np.full(8, 2.0), v_leak=np.full(8, 0.1),
                       v_threshold=np.full(8, 1.5), **reset,
                       metadata={"a": 1, "s": "text", "nested": {"b": 2.5}}),
        "linear": nir.Linear(weight=rng.standard_normal((6, 8)).astype(f32)),
        "scale": nir.Scale(scale=np.arange(1, 7, dtype=np.float64)),
        "delay": nir.Delay(delay=np.full(6, 1e-3)),
        "threshold": nir.Threshold(threshold=np.full(6, 0.5)),
        "i": nir.I(r=np.full(6, 3.0)),
        "if": nir.IF(r=np.ones(6), v_threshold=np.full(6, 0.7),
                     **({"v_reset": np.zeros(6)} if HAS_RESET else {})),
        "li": nir.LI(tau=np.full(6, 0.02), r=np.ones(6), v_leak=np.zeros(6)),
        "cubalif": nir.CubaLIF(tau_syn=np.full(6, 0.005), tau_mem=np.full(6, 0.01), r=np.ones(6),
                               v_leak=np.zeros(6), v_threshold=np.ones(6), w_in=np.full(6, 2.0),
                               **({"v_reset": np.zeros(6)} if HAS_RESET else {})),
        "output": nir.Output(output_type=np.array([6])),
        "input1d": nir.Input(input_type=np.array([3, 20])),
        "conv1d": nir.Conv1d(input_shape=20, weight=rng.standard_normal((2, 3, 4)), stride=2,
                             padding=1, dilation=1, groups=1, bias=np.ones(2)),
        "output1d": nir.Output(output_type=np.array([2, 10])),
    }
    chain = ["input", "conv2d", "sumpool", "avgpool", "flatten", "affine", "lif", "linear",
             "scale", "delay", "threshold", "i", "if", "li", "cubalif"]
    edges = list(zip(chain[:-1], chain[1:]))
    if NEW:
        nodes["cubali"] = nir.CubaLI(tau_syn=np.full(6, 0.005), tau_mem=np.full(6, 0.01),
                                     r=np.ones(6), v_leak=np.zeros(6), w_in=np.ones(6))
        edges += [("cubalif", "cubali"), ("cubali", "output")]
    else:
        edges += [("cubalif", "output")]
    edges += [("input1d", "conv1d"), ("conv1d", "output1d")]
    inner = kw_graph({"input": nir.Input(input_type=np.array([6])),
                      "s": nir.Scale(scale=np.full(6, 2.0)),
                      "output": nir.Output(output_type=np.array([6]))},
                     [("input", "s"), ("s", "output")])
    nodes["sub"] = inner
    edges = [e for e in edges if e != ("li", "cubalif")] + [("li", "sub"), ("sub", "cubalif")]
    return kw_graph(nodes, edges, metadata={"nirhub": {"dt": 1e-4}})


def main():
    mode = sys.argv[1]
    if mode == "write":
        folder = sys.argv[2]
        graphs = {
            "every": every_primitive(),
            "empty_edges": kw_graph({"s": nir.Scale(scale=np.ones(2))}, []),
        }
        for name, g in graphs.items():
            out = {}
            dump(g, out)
            p = os.path.join(folder, name + ".nir")
            nir.write(p, g)  # nir's default: gzip since 1.0.5, uncompressed before
            raw = os.path.join(folder, name + "_raw.nir")
            try:
                nir.write(raw, g, compression=None)
            except TypeError:  # nir 1.0.4 has no compression argument (and never compresses)
                nir.write(raw, g)
            np.savez(p + ".npz", **out)
        print(json.dumps({"version": nir.version}))
    elif mode == "read":
        for p in sys.argv[2:]:
            g = nir.read(p)
            out = {}
            dump(g, out)
            np.savez(p + ".npz", **out)
        print(json.dumps({"version": nir.version}))
    elif mode == "interop":
        sys.path.insert(0, sys.argv[2])
        import nirhub
        from nirhub.io.nir_interop import from_nir, to_nir
        results = {}
        for p in sys.argv[3:]:
            g = nirhub.read(p, strict=False).graph
            back = from_nir(to_nir(g))
            # nir fills an absent v_reset / w_in with its defaults (zeros / ones)
            results[p] = back == g or _equal_modulo_defaults(g, back)
        print(json.dumps(results))


def _equal_modulo_defaults(a, b):
    import nirhub
    fa, fb = dict(a.walk()), dict(b.walk())
    if fa.keys() != fb.keys() or a.edges != b.edges:
        return False
    for k, na in fa.items():
        nb = fb[k]
        if isinstance(na, nirhub.Graph):
            continue
        for f, va in na.params().items():
            vb = getattr(nb, f)
            if va is None and f == "v_reset":
                va = np.zeros_like(vb)
            if va is None and f == "w_in":
                va = np.ones_like(vb)
            if isinstance(va, np.ndarray):
                if not (isinstance(vb, np.ndarray) and va.dtype == vb.dtype
                        and np.array_equal(va, vb)):
                    return False
            elif va != vb:
                return False
    return True


main()
"""
