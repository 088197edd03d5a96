import math
import warnings

import numpy as np
import persim
import pytest
from gudhi import bottleneck_distance as gudhi_bottleneck
from gudhi.wasserstein import wasserstein_distance as gudhi_wasserstein
from scipy.optimize import linear_sum_assignment

from tda_mci.topology import _kernels
from tda_mci.topology.distances import (
    cross_distance_matrix,
    distance_matrix,
    roi_distance_matrices,
    subject_distance_matrices,
    wasserstein_distance,
)
from tda_mci.topology.homology import persistence_diagrams
from tda_mci.topology.windows import sliding_window

SQRT2 = math.sqrt(2.0)


# ----------------------------------------------------------------- independent references


def _finite(d):
    d = np.asarray(d, dtype=float).reshape(-1, 2)
    return d[np.isfinite(d[:, 1])]


def _ground(x, y, p):
    dx, dy = abs(x[0] - y[0]), abs(x[1] - y[1])
    if p == np.inf:
        return max(dx, dy)
    return (dx**p + dy**p) ** (1.0 / p)


def _diag(x, p):
    # L^p distance from (b, d) to its nearest diagonal point ((b+d)/2, (b+d)/2)
    h = (x[1] - x[0]) / 2.0
    return h if p == np.inf else (2 * h**p) ** (1.0 / p)


def _augmented(a, b, p):
    """persim's (n+m) x (n+m) matrix, built with explicit loops and direct differences."""
    a, b = _finite(a), _finite(b)
    n, m = len(a), len(b)
    c = np.zeros((n + m, n + m))
    for i in range(n):
        for j in range(m):
            c[i, j] = _ground(a[i], b[j], p)
        for k in range(n):
            c[i, m + k] = _diag(a[i], p) if k == i else np.inf
    for k in range(m):
        for j in range(m):
            c[n + k, j] = _diag(b[j], p) if k == j else np.inf
    return c


def reference_wasserstein(a, b, q=1.0, p=2.0):
    c = _augmented(a, b, p)
    if c.size == 0:
        return 0.0
    cq = c**q
    r, s = linear_sum_assignment(cq)
    return float(np.sum(cq[r, s]) ** (1.0 / q))


def reference_bottleneck(a, b, p=2.0):
    c = _augmented(a, b, p)
    if c.size == 0:
        return 0.0
    values = np.unique(c[np.isfinite(c)])
    lo, hi = 0, len(values) - 1
    while lo < hi:  # smallest threshold admitting a perfect matching
        mid = (lo + hi) // 2
        allowed = np.where(c <= values[mid], 0.0, 1.0)
        r, s = linear_sum_assignment(allowed)
        if allowed[r, s].sum() == 0:
            hi = mid
        else:
            lo = mid + 1
    return float(values[lo])


def persim_wasserstein(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "non-finite death times" for H0
        return persim.wasserstein(a, b)


# ----------------------------------------------------------------- realistic diagrams


def bold_like(rng, n=140, raw_scale=False):
    x = np.zeros(n)
    e = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = 0.6 * x[t - 1] + e[t]
    x += 0.8 * np.sin(2 * np.pi * 0.03 * np.arange(n) + rng.uniform(0, 2 * np.pi))
    return 1e4 + 40.0 * x if raw_scale else x


@pytest.fixture(scope="module")
def diagrams():
    """H0..H2 diagrams of 8 BOLD-like series of length 140 (window 3, delay 1)."""
    rng = np.random.default_rng(314)
    return [persistence_diagrams(sliding_window(bold_like(rng))) for _ in range(8)]


@pytest.fixture(scope="module")
def raw_diagrams():
    """The same at raw BOLD scale (values around 1e4)."""
    rng = np.random.default_rng(2718)
    return [persistence_diagrams(sliding_window(bold_like(rng, raw_scale=True))) for _ in range(3)]


def rel(x, y):
    return abs(x - y) / max(abs(y), 1e-300)


# ----------------------------------------------------------------- single distances


def test_hand_checkable_values():
    assert wasserstein_distance([[1.0, 2.0]], []) == pytest.approx(1 / SQRT2, rel=1e-15)
    assert wasserstein_distance([], [[1.0, 2.0]]) == pytest.approx(1 / SQRT2, rel=1e-15)
    assert wasserstein_distance([[1.0, 2.0]], [], ground_metric=np.inf) == 0.5
    assert wasserstein_distance([[1.0, 2.0]], [], ground_metric=1) == 1.0
    assert wasserstein_distance([], []) == 0.0
    assert wasserstein_distance(np.empty((0, 2)), np.empty((0, 2)), order=np.inf) == 0.0
    # two points to the diagonal, order 2: sqrt((1/sqrt2)^2 + (3/sqrt2)^2) = sqrt(5)
    assert wasserstein_distance([[0, 1], [0, 3]], [], order=2) == pytest.approx(math.sqrt(5))
    # matching (0,1)-(0,1.5) costs 0.5 < (1 + 1.5)/sqrt2 via the diagonal
    assert wasserstein_distance([[0, 1]], [[0, 1.5]]) == pytest.approx(0.5, rel=1e-15)
    # bottleneck, L-inf: match costs 2, diagonal max(0.5, 1.5) = 1.5
    assert wasserstein_distance([[0, 1]], [[0, 3]], order=np.inf, ground_metric=np.inf) == 1.5
    # off-diagonal points in general position (general path), Euclidean
    d = wasserstein_distance([[1, 4]], [[2, 4.5]])
    assert d == pytest.approx(math.hypot(1.0, 0.5), rel=1e-15)


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_default_equals_exact_assignment_and_persim(diagrams, dim):
    for i, j in [(0, 1), (2, 3), (4, 7), (5, 6)]:
        a, b = diagrams[i][dim], diagrams[j][dim]
        ours = wasserstein_distance(a, b)
        assert rel(ours, reference_wasserstein(a, b)) < 1e-9
        assert rel(ours, persim_wasserstein(a, b)) < 1e-9  # persim is good at unit scale


@pytest.mark.parametrize("order", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("ground_metric", [1.0, 2.0, np.inf])
def test_other_orders_and_ground_metrics_match_references(diagrams, order, ground_metric):
    for dim in range(3):
        a, b = diagrams[1][dim], diagrams[6][dim]
        ours = wasserstein_distance(a, b, order=order, ground_metric=ground_metric)
        assert rel(ours, reference_wasserstein(a, b, order, ground_metric)) < 1e-9
        pot = gudhi_wasserstein(a, b, order=order, internal_p=ground_metric)
        assert rel(ours, pot) < 1e-9


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_bottleneck_matches_gudhi_and_exact_reference(diagrams, dim):
    for i, j in [(0, 3), (2, 5)]:
        a, b = diagrams[i][dim], diagrams[j][dim]
        linf = wasserstein_distance(a, b, order=np.inf, ground_metric=np.inf)
        assert rel(linf, gudhi_bottleneck(a, b, 0)) < 1e-12  # e=0: gudhi's exact algorithm
        eucl = wasserstein_distance(a, b, order=np.inf)
        assert rel(eucl, reference_bottleneck(a, b, 2.0)) < 1e-12


@pytest.mark.parametrize("order", [1.0, 2.5, np.inf])
def test_one_dimensional_fast_path_equals_general_assignment(diagrams, order):
    # H0 diagrams (births 0) take the exact dynamic programme; force the general
    # assignment by declaring the births "not common" and compare.
    a, b = diagrams[0][0], diagrams[4][0][:60]
    for shift in (0.0, 2.5):  # a common birth other than 0 is 1-D too
        x, y = a + [shift, shift], b + [shift, shift]
        p, kappa = 2.0, 1 / SQRT2
        args = (x[:, 0].copy(), x[:, 1].copy())
        brgs = (y[:, 0].copy(), y[:, 1].copy())
        fast = _kernels.pair_distance(*args, shift, *brgs, shift, p, kappa, order)
        general = _kernels.pair_distance(*args, np.nan, *brgs, np.nan, p, kappa, order)
        assert rel(fast, general) < 1e-12
        assert rel(fast, wasserstein_distance(x, y, order=order)) == 0.0
        if order != np.inf:
            assert rel(fast, reference_wasserstein(x, y, order)) < 1e-9


def test_symmetry_and_identity(diagrams):
    for dim in range(3):
        a, b = diagrams[2][dim], diagrams[3][dim]
        assert wasserstein_distance(a, b) == wasserstein_distance(b, a)  # bit for bit
        assert wasserstein_distance(a, a) == 0.0
        assert wasserstein_distance(a, a, order=np.inf) == 0.0


def test_infinite_and_zero_length_bars_are_ignored(diagrams):
    a, b = diagrams[0][1], diagrams[1][1]
    base = wasserstein_distance(a, b)
    padded = np.concatenate([a, [[0.0, np.inf], [0.3, 0.3], [1.0, 1.0]]])
    assert wasserstein_distance(padded, b) == base
    assert rel(base, persim_wasserstein(padded, b)) < 1e-9  # persim keeps them, same value
    assert wasserstein_distance([[0.0, np.inf]], []) == 0.0


def test_duplicated_points(diagrams):
    a = diagrams[0][1]
    dup = np.concatenate([a, a[:5], a[:5]])
    b = diagrams[5][1]
    assert rel(wasserstein_distance(dup, b), reference_wasserstein(dup, b)) < 1e-9
    # three copies of one point against one copy: the two extra go to the diagonal
    p = np.array([[0.2, 1.2]])
    assert wasserstein_distance(np.repeat(p, 3, 0), p) == pytest.approx(2 / SQRT2, rel=1e-14)
    h0 = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    assert rel(wasserstein_distance(h0, [[0.0, 1.0]]), 3 / SQRT2) < 1e-14


def test_one_point_and_very_different_sizes(diagrams):
    big0, big1 = diagrams[3][0], diagrams[3][1]
    for a, b in [
        (big0, big0[-2:]),
        (big0, [[0.0, 0.5]]),
        (big1, big1[:1]),
        (big1, [[0.1, 0.2]]),
        ([[0.1, 0.2]], big1),
        (big0, big1),  # births 0 against general births: general path
    ]:
        assert rel(wasserstein_distance(a, b), reference_wasserstein(a, b)) < 1e-9
        assert rel(wasserstein_distance(a, b, order=np.inf), reference_bottleneck(a, b)) < 1e-12


def test_raw_scale_values_are_exact_where_persim_drifts(raw_diagrams):
    """Rips values are translation invariant, but costs between raw-scale points are not."""
    # two single points 1e-3 apart at BOLD's raw scale: the exact cost is the distance
    a = np.array([[1e4, 1e4 + 1.0]])
    b = a + 1e-3
    exact = math.hypot(b[0, 0] - a[0, 0], b[0, 1] - a[0, 1])
    assert rel(wasserstein_distance(a, b), exact) < 1e-14
    assert rel(persim_wasserstein(a, b), exact) > 1e-4  # |x|^2+|y|^2-2xy cancellation
    rng = np.random.default_rng(5)
    for dim in range(3):
        x, y = raw_diagrams[0][dim], raw_diagrams[1][dim]
        assert rel(wasserstein_distance(x, y), reference_wasserstein(x, y)) < 1e-9
        assert rel(wasserstein_distance(x, y, order=2), reference_wasserstein(x, y, 2)) < 1e-9
        # a nearly identical diagram: the distance is tiny and must stay exact
        z = x + rng.uniform(0, 1e-6, x.shape) * [0, 1]
        assert rel(wasserstein_distance(x, z), reference_wasserstein(x, z)) < 1e-9


@pytest.mark.parametrize(
    "bad,match",
    [
        ([[0.0, np.nan]], "NaN"),
        ([[2.0, 1.0]], r"death before birth at row 0 \(2.0, 1.0\)"),
        ([[-np.inf, 1.0]], "births must be finite"),
        ([[0.0, 1.0, 2.0]], r"\(k, 2\)"),
        ([1.0, 2.0], r"\(k, 2\)"),
    ],
)
def test_invalid_diagrams_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        wasserstein_distance(bad, [])


def test_invalid_metric_parameters_echo_the_value():
    with pytest.raises(ValueError, match="order must be >= 1.*0.5"):
        wasserstein_distance([], [], order=0.5)
    with pytest.raises(ValueError, match="ground_metric.*'two'"):
        wasserstein_distance([], [], ground_metric="two")
    # YAML-style strings for infinity are accepted
    assert wasserstein_distance([[0, 1]], [], order="inf", ground_metric="inf") == 0.5


# ----------------------------------------------------------------- matrices


def persim_matrix(dgms):
    n = len(dgms)
    m = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            m[i, j] = m[j, i] = persim_wasserstein(dgms[i], dgms[j])
    return m


def test_distance_matrix_equals_persim_loop(diagrams):
    for dim in range(3):
        dgms = [d[dim] for d in diagrams]
        ours = distance_matrix(dgms)
        assert ours.shape == (8, 8) and ours.dtype == np.float64
        np.testing.assert_array_equal(ours, ours.T)
        np.testing.assert_array_equal(np.diag(ours), 0.0)
        np.testing.assert_allclose(ours, persim_matrix(dgms), rtol=1e-9, atol=0)
        # threads and tiny blocks give the very same numbers
        np.testing.assert_array_equal(distance_matrix(dgms, n_jobs=2, block_size=3), ours)
        bott = distance_matrix(dgms, order=np.inf, ground_metric=np.inf)
        assert bott[0, 5] == wasserstein_distance(dgms[0], dgms[5], np.inf, np.inf)


def test_distance_matrix_edge_cases():
    assert distance_matrix([]).shape == (0, 0)
    np.testing.assert_array_equal(distance_matrix([[[0, 1]]]), [[0.0]])
    m = distance_matrix([[], [[0.0, 1.0]], np.empty((0, 2))])
    np.testing.assert_allclose(m, np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]) / SQRT2)
    with pytest.raises(ValueError, match="diagram 1: contains NaN"):
        distance_matrix([[[0, 1]], [[0, np.nan]]])
    with pytest.raises(ValueError, match="wrap it in a list"):
        distance_matrix(np.array([[0.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="n_jobs"):
        distance_matrix([[[0, 1]]], n_jobs=0)
    with pytest.raises(ValueError, match="block_size"):
        distance_matrix([[[0, 1]]], block_size=0)


def test_cross_distance_matrix(diagrams):
    a = [d[1] for d in diagrams[:3]]
    b = [d[1] for d in diagrams[3:]] + [[]]
    ours = cross_distance_matrix(a, b, n_jobs=2, block_size=4)
    assert ours.shape == (3, 6)
    for i in range(3):
        for j in range(6):
            assert ours[i, j] == wasserstein_distance(a[i], b[j])
    np.testing.assert_array_equal(cross_distance_matrix(a, a), distance_matrix(a))
    assert cross_distance_matrix([], a).shape == (0, 3)


def test_roi_distance_matrices_equal_persim_loops(diagrams):
    # 8 ROIs, two "networks" whose indices are not contiguous; order follows the lists
    networks = {"A": [5, 0, 3], "B": [1, 2, 4, 6, 7]}
    pr = roi_distance_matrices(diagrams, networks, n_jobs=2)
    assert set(pr) == {"A", "B"}
    for key, idx in networks.items():
        assert pr[key].shape == (3, len(idx), len(idx))
        for dim in range(3):
            ref = persim_matrix([diagrams[r][dim] for r in idx])
            np.testing.assert_allclose(pr[key][dim], ref, rtol=1e-9, atol=0)
    serial = roi_distance_matrices(diagrams, networks, n_jobs=1)
    for key in networks:
        np.testing.assert_array_equal(serial[key], pr[key])
    l_inf = roi_distance_matrices(diagrams, {"A": [5, 0]}, order=2, ground_metric=np.inf)
    assert l_inf["A"][1, 0, 1] == wasserstein_distance(diagrams[5][1], diagrams[0][1], 2, np.inf)


def test_roi_distance_matrices_validate(diagrams):
    with pytest.raises(ValueError, match="network 'X': ROI index out of range"):
        roi_distance_matrices(diagrams, {"X": [0, 8]})
    with pytest.raises(ValueError, match="network 'X': repeated"):
        roi_distance_matrices(diagrams, {"X": [1, 1]})
    ragged = [d for d in diagrams[:3]] + [diagrams[3][:2]]
    with pytest.raises(ValueError, match="ROI 3 has diagrams for 2 homology dimensions"):
        roi_distance_matrices(ragged, {"X": [0, 1]})
    bad = [list(d) for d in diagrams[:3]]
    bad[2][1] = np.array([[1.0, 0.5]])
    with pytest.raises(ValueError, match="H1 diagram of ROI 2: death before birth"):
        roi_distance_matrices(bad, {"X": [0, 2]})


def test_subject_distance_matrices(diagrams, raw_diagrams):
    by_subject = diagrams + raw_diagrams  # 11 "subjects" of one ROI
    ps = subject_distance_matrices(by_subject, n_jobs=2, block_size=7)
    assert ps.shape == (3, 11, 11)
    for dim in range(3):
        dgms = [d[dim] for d in by_subject]
        np.testing.assert_array_equal(ps[dim], distance_matrix(dgms))
        for i in range(0, 11, 2):
            ref = [reference_wasserstein(dgms[i], b) for b in dgms]
            np.testing.assert_allclose(ps[dim][i], ref, rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="subject 4: contains NaN"):
        subject_distance_matrices([[[[0, 1]]]] * 4 + [[[[0, np.nan]]]])
