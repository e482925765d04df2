"""The saved artifact: a readable module + .npz that Spyx users load without nirhub."""

from __future__ import annotations

import json

import numpy as np
import pytest
from nirhub_spyx.artifact import load_model, save_model
from nirhub_spyx.export import export_spyx

import nirhub
from nirhub.errors import FileFormatError, RefusedError
from nirhub.hub.convert import convert, from_ir
from nirhub.sim import simulate
from nirhub.testing.corpus import CORPUS, braille_input
from nirhub.testing.networks import affine_mlp
from nirhub.testing.standalone import forbid_running, run_without_nirhub


def test_convert_writes_a_module_that_runs_without_nirhub(tmp_path) -> None:
    src = CORPUS / "rnn" / "braille_noDelay_bias_zero.nir"
    report = convert(src, to="spyx", output=tmp_path / "braille.py", dt=1e-4)
    py, npz = tmp_path / "braille.py", tmp_path / "braille.npz"
    assert sorted(report.outputs) == sorted([py, npz])
    text = py.read_text()
    assert text.startswith("# nirhub artifact: backend=spyx")
    assert "def build_model(" in text and "import nirhub" not in text
    np.save(tmp_path / "x.npy", braille_input()[:, None, :].astype(np.float32))
    code = (
        "import json\n"
        "import numpy as np, jax.numpy as jnp, spyx, braille\n"
        "net = braille.build_model()\n"
        "y, _ = spyx.nn.run(net, jnp.asarray(np.load('x.npy')))\n"
        "print(json.dumps(np.asarray(y)[:, 0].sum(0).tolist()))\n"
    )
    counts = json.loads(run_without_nirhub(code, folder=tmp_path).splitlines()[-1])
    ref = simulate(nirhub.read(src), braille_input(), 1e-4).outputs["output"].sum(0)
    assert np.allclose(counts, ref)  # float32 Spyx == float64 reference here


def test_load_does_not_run_the_file(tmp_path) -> None:
    model = from_ir(affine_mlp(), "spyx", dt=1e-4)
    path = tmp_path / "m.py"
    written = save_model(model, path)
    assert [p.name for p in written] == ["m.py", "m.npz"]
    forbid_running(path)
    again = load_model(path)
    back, orig = export_spyx(again), export_spyx(model)
    assert set(back.nodes) == set(orig.nodes)
    for name, node in orig.nodes.items():
        for field, value in node.params().items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(getattr(back.nodes[name], field), value), (name, field)


def test_trained_parameters_are_saved(tmp_path) -> None:
    model = from_ir(affine_mlp(), "spyx", dt=1e-4)
    model.layers["lif"].tau[...] = model.layers["lif"].tau[...] * 2.0  # "training"
    save_model(model, tmp_path / "t.py")
    g = export_spyx(load_model(tmp_path / "t.py"))
    np.testing.assert_allclose(g.nodes["lif"].tau, 2.0 * affine_mlp().nodes["lif"].tau, rtol=1e-6)


def test_save_refuses_to_overwrite_and_load_checks_the_files(tmp_path) -> None:
    model = from_ir(affine_mlp(), "spyx", dt=1e-4)
    save_model(model, tmp_path / "a.py")
    with pytest.raises(RefusedError):
        save_model(model, tmp_path / "a.py")
    save_model(model, tmp_path / "a.py", force=True)
    (tmp_path / "plain.py").write_text("x = 1\n")
    with pytest.raises(FileFormatError, match="not a model module"):
        load_model(tmp_path / "plain.py")
    (tmp_path / "a.npz").unlink()
    with pytest.raises(FileFormatError, match="weights"):
        load_model(tmp_path / "a.py")


def test_native_spyx_model_saves_through_the_ir(tmp_path) -> None:
    """A Spyx Sequential (Spyx's own late neurons) is saved as the equivalent graph model."""
    import jax.numpy as jnp
    import spyx
    from flax import nnx

    rngs = nnx.Rngs(0)
    native = spyx.nn.Sequential(nnx.Linear(4, 6, rngs=rngs), spyx.nn.CuBaLIF((6,), rngs=rngs))
    save_model(native, tmp_path / "n.py", dt=1e-3)
    model = load_model(tmp_path / "n.py")
    x = (np.random.default_rng(0).random((50, 2, 4)) < 0.5).astype(np.float32) * 2
    a, _ = spyx.nn.run(native, jnp.asarray(x))
    b, _ = spyx.nn.run(model, jnp.asarray(x))
    assert np.asarray(a).sum() > 5
    assert np.array_equal(np.asarray(a), np.asarray(b))
    meta = json.dumps(export_spyx(model).metadata["nirhub"])
    assert "euler" in meta
