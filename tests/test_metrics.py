"""Agreement metrics (nirhub.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from nirhub import metrics
from nirhub.errors import UsageError
from nirhub.testing.corpus import CORPUS


def test_activity_similarity_is_the_paper_formula():
    rng = np.random.default_rng(0)
    a = (rng.random((50, 4, 6)) < 0.2).astype(float)
    b = (rng.random((50, 4, 6)) < 0.2).astype(float)
    ma, mb = a.mean(0).ravel(), b.mean(0).ravel()
    expected = ma @ mb / (np.linalg.norm(ma) * np.linalg.norm(mb))
    assert metrics.activity_similarity(a, b) == pytest.approx(expected, rel=1e-12)
    assert metrics.activity_similarity(a, a) == pytest.approx(1.0)
    # scale-free and blind to timing
    assert metrics.activity_similarity(a, 3 * a[::-1]) == pytest.approx(1.0)


def test_activity_similarity_zero_vectors():
    z = np.zeros((10, 3))
    one = np.zeros((10, 3))
    one[2, 1] = 1
    assert metrics.activity_similarity(z, z) == 1.0
    assert metrics.activity_similarity(z, one) == 0.0
    assert metrics.activity_similarity(one, z) == 0.0


def test_activity_similarity_reproduces_the_paper_rnn_matrix():
    """paper-results.md §2: the RNN matrices are reproduced within 5e-7 from the raw files."""
    import json

    ref = json.loads((CORPUS / "reference_results.json").read_text())
    table = ref["rnn_braille_noDelay_noBias_subtract_activity_cosine"]
    names = table["platforms"]

    def load(p):
        return np.load(CORPUS / "rnn" / f"{p}_activity_noDelay_noBias_subtract.npy")

    for i, p in enumerate(names):
        for j, q in enumerate(names):
            got = metrics.activity_similarity(load(p), load(q))
            assert got == pytest.approx(table["matrix"][i][j], abs=5e-7), (p, q)


def test_cell_and_event_agreement():
    a = np.zeros((4, 3))
    b = np.zeros((4, 3))
    a[0, 0] = a[1, 1] = a[2, 2] = 1
    b[0, 0] = b[1, 1] = b[3, 2] = 1
    assert metrics.differing_cells(a, b) == 2
    assert metrics.cell_agreement(a, b) == pytest.approx(10 / 12)
    assert metrics.event_agreement(a, b) == pytest.approx(2 / 4)
    assert metrics.event_agreement(np.zeros((3, 2)), np.zeros((3, 2))) == 1.0
    counts = a.copy()
    counts[0, 0] = 2  # two spikes in one step are not the same event as one
    assert metrics.event_agreement(a, counts) == pytest.approx(2 / 3)
    assert metrics.cell_agreement(np.zeros((0, 3)), np.zeros((0, 3))) == 1.0


def test_spike_count_difference():
    a = np.zeros((5, 3))
    b = np.zeros((5, 3))
    a[:, 0] = 1
    b[:2, 1] = 1
    b[0, 2] = 2
    assert metrics.spike_count_difference(a, b) == -1
    np.testing.assert_array_equal(metrics.spike_count_difference(a, b, per_neuron=True), [-5, 2, 2])
    assert isinstance(metrics.spike_count_difference(a, b), int)


def test_first_spike_steps_and_offset():
    a = np.zeros((10, 4), dtype=bool)
    b = np.zeros((10, 4), dtype=bool)
    a[3, 0] = b[5, 0] = True  # both spike: +2
    a[7, 1] = True  # only a: b counts as T = 10 -> +3
    b[4, 2] = True  # only b: a counts as T -> -6
    np.testing.assert_array_equal(metrics.first_spike_steps(a), [3, 7, 10, 10])
    np.testing.assert_array_equal(metrics.first_spike_offset(a, b), [2, 3, -6, 0])


def test_voltage_correlation():
    t = np.linspace(0, 1, 200)
    v = np.sin(7 * t)
    assert metrics.voltage_correlation(v, 25 * v + 3) == pytest.approx(1.0)
    assert metrics.voltage_correlation(v, -v) == pytest.approx(-1.0)
    flat = np.ones(200)
    assert metrics.voltage_correlation(flat, flat) == 1.0
    assert metrics.voltage_correlation(flat, v) == 0.0
    two = np.stack([v, np.cos(3 * t)], axis=1)
    per = metrics.voltage_correlation(two, two * [2.0, -1.0], per_neuron=True)
    np.testing.assert_allclose(per, [1.0, -1.0])


def test_lif_csv_voltage_correlations_match_the_reference_numbers():
    import json

    ref = json.loads((CORPUS / "reference_results.json").read_text())["lif_single_neuron"]
    exact = np.loadtxt(CORPUS / "lif" / "lif_exact.csv", delimiter=",")
    for name in ("norse", "nengo", "lava_cpu_float", "rockpool"):
        other = np.loadtxt(CORPUS / "lif" / f"lif_{name}.csv", delimiter=",")
        r = metrics.voltage_correlation(other[:, 1], exact[:, 1])
        assert r == pytest.approx(ref["per_platform"][name]["voltage_pearson_vs_exact"], abs=6e-5)


def test_compare_report():
    a = np.zeros((6, 2))
    b = np.zeros((6, 2))
    a[1, 0] = b[2, 0] = 1
    report = metrics.compare(a, b, v_a=np.arange(12.0), v_b=np.arange(12.0) * 2)
    assert report.differing_cells == 2 and not report.identical
    assert report.spikes_a == report.spikes_b == 1.0
    assert report.spike_count_difference == 0
    assert report.mean_abs_first_spike_offset == 1.0
    assert report.max_abs_first_spike_offset == 1
    assert report.voltage_r == pytest.approx(1.0)
    assert "activity similarity" in str(report) and "voltage r" in str(report)
    assert report.to_dict()["differing_cells"] == 2
    assert metrics.compare(a, a).identical
    with pytest.raises(UsageError, match="both"):
        metrics.compare(a, b, v_a=a)


def test_input_errors():
    with pytest.raises(UsageError, match="different shapes"):
        metrics.activity_similarity(np.zeros((5, 3)), np.zeros((3, 5)))
    with pytest.raises(UsageError, match="numeric"):
        metrics.cell_agreement(np.array(["a"]), np.array(["b"]))
    with pytest.raises(UsageError, match="NaN"):
        metrics.voltage_correlation(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(UsageError, match="time axis"):
        metrics.differing_cells(np.float64(1.0), np.float64(1.0))
