"""Every corpus file reads: strictly where valid, tolerantly with warnings otherwise."""

from __future__ import annotations

import numpy as np
import pytest

import nirhub as nh
from nirhub.io import InvalidGraphFileError, ReadResult, read, read_version, write
from nirhub.ir.graph import flatten
from nirhub.testing.corpus import CORPUS

FILES = sorted(CORPUS.glob("**/*.nir"))
INVALID = {
    "lif_rockpool.nir",
    "braille_noDelay_bias_zero_subgraph.nir",
    "braille_noDelay_noBias_subtract_subgraph.nir",
}


def test_corpus_is_there():
    assert len(FILES) == 8


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_reads(path, tmp_path):
    if path.name in INVALID:
        with pytest.raises(InvalidGraphFileError) as info:
            read(path)
        assert info.value.problems
        res = read(path, strict=False)
        assert isinstance(res, ReadResult) and res.warnings
        assert res.graph.problems() == []  # the repairs make it valid
    else:
        g = read(path)
        res = read(path, strict=False)
        assert res.warnings == [] and res.graph == g
    # and whatever we read, we write and read back identically
    write(res.graph, tmp_path / "again.nir")
    assert read(tmp_path / "again.nir") == res.graph


def test_versions():
    assert read_version(CORPUS / "lif" / "lif_norse.nir") == "0.1.1"
    assert read(CORPUS / "lif" / "lif_norse.nir", strict=False).version == "0.1.1"
    assert read_version(CORPUS / "cnn" / "cnn_sinabs.nir") == "0.2.0"


def test_cnn_values():
    g = read(CORPUS / "cnn" / "cnn_sinabs.nir")
    conv = g.nodes["0"]
    assert conv.weight.shape == (16, 2, 5, 5) and conv.weight.dtype == np.float32
    assert conv.stride == (2, 2) and conv.padding == (1, 1) and conv.input_shape == (34, 34)
    assert g.nodes["8"].start_dim == 0 and g.nodes["8"].input_type == (8, 4, 4)
    assert g.nodes["1"].v_reset is None
    assert len(g.edges) == 14
    assert g.infer_shapes().output("output") == (10,)


def test_rockpool_output_shape_repaired():
    res = read(CORPUS / "lif" / "lif_rockpool.nir", strict=False)
    assert res.graph.nodes["output"].shape == (1,)
    (w,) = res.warnings
    assert w.kind == "shape-replaced" and w.location == "/node/nodes/output/shape"
    assert "[1, 1, 1]" in w.message and "[1]" in w.assumed


@pytest.mark.parametrize("variant", ["bias_zero", "noBias_subtract"])
def test_subgraph_files_match_flat_twins(variant):
    res = read(CORPUS / "rnn" / f"braille_noDelay_{variant}_subgraph.nir", strict=False)
    (w,) = res.warnings
    assert w.kind == "dangling-edge" and "'lif'" in w.message and "'lif1'" in w.assumed
    assert w.location == "/node/nodes/lif1/edges"
    flat_twin = read(CORPUS / "rnn" / f"braille_noDelay_{variant}.nir")
    sub = flatten(res.graph)
    twin = flatten(flat_twin)
    # same parameters: inner lif1 <-> lif1.lif, inner lin <-> lif1.w_rec
    rename = {"lif1.lif1": "lif1.lif", "lif1.lin": "lif1.w_rec"}
    for path, node in sub.nodes.items():
        if path in sub.relays:
            continue
        assert node == twin.nodes[rename.get(path, path)], path

    # same connectivity once the subgraph's identity relays are contracted
    def contracted(fg, names):
        succ = {}
        for s, d in fg.edges:
            succ.setdefault(s, []).append(d)
        out = set()
        for s, d in fg.edges:
            if s in fg.relays:
                continue
            stack = [d]
            while stack:
                n = stack.pop()
                if n in fg.relays:
                    stack += succ.get(n, [])
                else:
                    out.add((names.get(s, s), names.get(n, n)))
        return out

    assert contracted(sub, rename) == contracted(twin, {})


def test_tolerant_read_prints_nothing(capsys):
    for path in FILES:
        read(path, strict=False)
    assert capsys.readouterr() == ("", "")


def test_batch_dim_input_repaired(tmp_path):
    g = nh.Graph(
        {
            "input": nh.Input([1, 4]),
            "a": nh.Affine(weight=np.ones((2, 4)), bias=np.zeros(2)),
            "output": nh.Output([2]),
        },
        [("input", "a"), ("a", "output")],
    )
    write(g, tmp_path / "b.nir")
    with pytest.raises(InvalidGraphFileError, match="shape mismatch"):
        read(tmp_path / "b.nir")
    res = read(tmp_path / "b.nir", strict=False)
    assert res.graph.nodes["input"].shape == (4,)
    assert [w.kind for w in res.warnings] == ["shape-replaced"]


def test_unresolvable_dangling_edge_dropped(tmp_path):
    g = nh.Graph(
        {
            "input": nh.Input([2]),
            "x": nh.Scale(scale=np.ones(2)),
            "y": nh.Scale(scale=np.ones(2)),
            "output": nh.Output([2]),
        },
        [("input", "x"), ("x", "output"), ("input", "ghost")],
    )
    write(g, tmp_path / "d.nir")
    res = read(tmp_path / "d.nir", strict=False)
    assert ("input", "ghost") not in res.graph.edges
    kinds = [w.kind for w in res.warnings]
    assert kinds[0] == "dangling-edge" and "dropped" in res.warnings[0].assumed
    assert "unreachable" in kinds  # 'y' stays unconnected and is reported, not fixed
