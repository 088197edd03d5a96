import numpy as np
import pytest

from tda_mci.topology.homology import persistence_diagrams, subject_diagrams
from tda_mci.topology.windows import sliding_window


def bold_like(rng, n=140, n_rois=1, raw_scale=False):
    """AR(1) noise plus a slow shared fluctuation: (n, n_rois)."""
    t = np.arange(n)
    slow = np.sin(2 * np.pi * 0.03 * t + rng.uniform(0, 2 * np.pi))
    x = np.zeros((n, n_rois))
    e = rng.standard_normal((n, n_rois))
    for k in range(1, n):
        x[k] = 0.6 * x[k - 1] + e[k]
    x += 0.8 * slow[:, None]
    if raw_scale:
        x = 1e4 + 40.0 * x
    return x


def assert_same_diagrams(ours, ref, rtol=1e-6):
    """Sorted bars equal to ``rtol`` (ripser stores float32 filtration values)."""
    assert len(ours) == len(ref)
    for q, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert a.shape == b.shape, f"H{q}: {a.shape} vs {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=f"H{q}")


def check_contract(dgms, max_dim):
    assert isinstance(dgms, list) and len(dgms) == max_dim + 1
    for d in dgms:
        assert d.dtype == np.float64 and d.ndim == 2 and d.shape[1] == 2
        assert np.isfinite(d).all()
        assert (d[:, 1] > d[:, 0]).all()
        order = np.lexsort((d[:, 0], d[:, 1]))
        np.testing.assert_array_equal(order, np.arange(len(d)))


@pytest.mark.parametrize("raw_scale", [False, True])
def test_gudhi_backend_equals_ripser_on_sliding_windows(rng, raw_scale):
    series = bold_like(rng, 140, 3, raw_scale=raw_scale)
    for r in range(series.shape[1]):
        cloud = sliding_window(series[:, r])
        ours = persistence_diagrams(cloud, max_dim=2)
        ref = persistence_diagrams(cloud, max_dim=2, backend="ripser")
        check_contract(ours, 2)
        check_contract(ref, 2)
        assert_same_diagrams(ours, ref)
        # sanity: a Rips H0 of 138 distinct points has 137 finite bars born at 0
        assert len(ours[0]) == 137 and (ours[0][:, 0] == 0).all()
        assert len(ours[1]) > 0


def test_backend_wraps_ripser_output_faithfully(rng):
    from ripser import ripser

    cloud = sliding_window(bold_like(rng, 60)[:, 0])
    raw = ripser(cloud, maxdim=2)["dgms"]
    ours = persistence_diagrams(cloud, backend="ripser")
    assert np.isinf(raw[0][:, 1]).sum() == 1  # the implied bar we drop
    for q in range(3):
        finite = raw[q][np.isfinite(raw[q][:, 1])]
        finite = finite[np.lexsort((finite[:, 0], finite[:, 1]))]
        np.testing.assert_array_equal(ours[q], finite)


def test_noisy_circle_has_one_long_h1_bar(rng):
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    circle = np.c_[np.cos(angles), np.sin(angles)] + 0.05 * rng.standard_normal((8, 2))
    for backend in ("gudhi", "ripser"):
        h0, h1, h2 = persistence_diagrams(circle, max_dim=2, backend=backend)
        assert len(h0) == 7
        assert len(h1) == 1
        birth, death = h1[0]
        assert 0.6 < birth < 0.95 and death > 1.2  # side ~0.77, the loop fills at ~1.41
        assert len(h2) == 0


def test_hand_checkable_h0_of_points_on_a_line():
    cloud = np.array([[0.0], [1.0], [3.0], [7.0]])
    for backend in ("gudhi", "ripser"):
        h0, h1 = persistence_diagrams(cloud, max_dim=1, backend=backend)
        np.testing.assert_allclose(h0, [[0, 1], [0, 2], [0, 4]])
        assert h1.shape == (0, 2)


def test_duplicated_points_change_nothing_but_zero_length_bars(rng):
    cloud = sliding_window(bold_like(rng, 60)[:, 0])
    doubled = np.concatenate([cloud, cloud[::3]])
    for backend in ("gudhi", "ripser"):
        a = persistence_diagrams(cloud, backend=backend)
        b = persistence_diagrams(doubled, backend=backend)
        check_contract(b, 2)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_degenerate_clouds():
    for backend in ("gudhi", "ripser"):
        one = persistence_diagrams(np.array([[1.0, 2.0, 3.0]]), backend=backend)
        assert [d.shape for d in one] == [(0, 2)] * 3
        same = persistence_diagrams(np.ones((5, 3)), backend=backend)  # one point, 5 times
        assert [d.shape for d in same] == [(0, 2)] * 3
        two = persistence_diagrams(np.array([[0.0, 0.0], [3.0, 4.0]]), max_dim=1, backend=backend)
        np.testing.assert_allclose(two[0], [[0.0, 5.0]])
        assert two[1].shape == (0, 2)


def test_max_dim_selects_the_number_of_diagrams(rng):
    cloud = sliding_window(bold_like(rng, 50)[:, 0])
    full = persistence_diagrams(cloud, max_dim=2)
    for max_dim in (0, 1):
        part = persistence_diagrams(cloud, max_dim=max_dim)
        check_contract(part, max_dim)
        for x, y in zip(part, full[: max_dim + 1], strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "cloud,match",
    [
        (np.empty((0, 3)), "empty"),
        (np.arange(5.0), "2-D"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), "non-finite"),
    ],
)
def test_bad_clouds_raise(cloud, match):
    with pytest.raises(ValueError, match=match):
        persistence_diagrams(cloud)


def test_bad_parameters_echo_the_value():
    cloud = np.zeros((3, 3))
    with pytest.raises(ValueError, match="'dionysus'"):
        persistence_diagrams(cloud, backend="dionysus")
    with pytest.raises(ValueError, match="max_dim"):
        persistence_diagrams(cloud, max_dim=-1)


def test_subject_diagrams_embeds_every_roi_column_in_order(rng):
    series = bold_like(rng, 80, 5)
    dgms = subject_diagrams(series, max_dim=2)
    assert len(dgms) == 5
    for r in range(5):
        expected = persistence_diagrams(sliding_window(series[:, r]), max_dim=2)
        for x, y in zip(dgms[r], expected, strict=True):
            np.testing.assert_array_equal(x, y)
    threaded = subject_diagrams(series, max_dim=2, n_jobs=2)
    for a, b in zip(dgms, threaded, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    delayed = subject_diagrams(series, dimension=4, delay=2, max_dim=1, backend="ripser")
    expected = persistence_diagrams(sliding_window(series[:, 3], 4, 2), 1, "ripser")
    for x, y in zip(delayed[3], expected, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_subject_diagrams_reports_progress_once_per_roi(rng, n_jobs):
    calls = []
    subject_diagrams(bold_like(rng, 40, 7), max_dim=1, n_jobs=n_jobs,
                     progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 7) for k in range(1, 8)]


def test_subject_diagrams_names_the_bad_roi_column(rng):
    series = bold_like(rng, 40, 6)
    bad = series.copy()
    bad[10, 4] = np.nan
    with pytest.raises(ValueError, match="ROI column 4: non-finite value nan at volume 10"):
        subject_diagrams(bad)
    bad = series.copy()
    bad[:, 2] = 0.0
    with pytest.raises(ValueError, match="ROI column 2: constant series"):
        subject_diagrams(bad)
    with pytest.raises(ValueError, match="ROI column 0: .*at least 3 points; got 2"):
        subject_diagrams(series[:2])
    with pytest.raises(ValueError, match=r"\(T, R\) array"):
        subject_diagrams(series[:, 0])
    with pytest.raises(ValueError, match="n_jobs"):
        subject_diagrams(series, n_jobs=0)
