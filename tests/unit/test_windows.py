import numpy as np
import pytest

from tda_mci.topology.windows import min_series_length, sliding_window


def ar1(rng, n=140, phi=0.6):
    x = np.zeros(n)
    e = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def test_paper_settings_give_t_minus_2_points_with_consecutive_values(rng):
    x = ar1(rng, 140)
    cloud = sliding_window(x)
    assert cloud.shape == (138, 3)
    assert cloud.dtype == np.float64
    for t in (0, 1, 70, 137):
        np.testing.assert_array_equal(cloud[t], [x[t], x[t + 1], x[t + 2]])
    # the last window ends on the last sample (no T-3 off-by-one)
    assert cloud[-1, -1] == x[-1]


@pytest.mark.parametrize("dimension,delay", [(1, 1), (2, 1), (3, 2), (4, 3), (5, 1)])
def test_rows_match_an_explicit_loop(rng, dimension, delay):
    x = ar1(rng, 50)
    expected = np.array(
        [
            [x[t + k * delay] for k in range(dimension)]
            for t in range(len(x) - (dimension - 1) * delay)
        ]
    )
    cloud = sliding_window(x, dimension=dimension, delay=delay)
    np.testing.assert_array_equal(cloud, expected)
    assert len(cloud) == len(x) - (dimension - 1) * delay
    assert len(sliding_window(x[: min_series_length(dimension, delay, 2)], dimension, delay)) == 2


def test_result_is_a_contiguous_copy(rng):
    x = ar1(rng, 20)
    cloud = sliding_window(x)
    assert cloud.flags["C_CONTIGUOUS"]
    cloud[0, 0] = 1e9
    assert x[0] != 1e9


def test_shortest_valid_series_gives_one_window():
    np.testing.assert_array_equal(sliding_window([1, 2, 3]), [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(sliding_window(range(7), 3, 3), [[0.0, 3.0, 6.0]])


def test_too_short_series_says_how_many_points_are_needed():
    with pytest.raises(ValueError, match="at least 3 points; got 2"):
        sliding_window([1.0, 2.0])
    with pytest.raises(ValueError, match="at least 7 points; got 6"):
        sliding_window(np.arange(6.0), dimension=3, delay=3)


def test_non_finite_value_is_reported_with_its_index(rng):
    x = ar1(rng, 30)
    x[17] = np.nan
    with pytest.raises(ValueError, match="first at index 17"):
        sliding_window(x)
    x[17] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        sliding_window(x)


@pytest.mark.parametrize("bad", [np.zeros((10, 2)), np.zeros(()), [[1.0, 2.0, 3.0]]])
def test_input_must_be_one_dimensional(bad):
    with pytest.raises(ValueError, match="one-dimensional"):
        sliding_window(bad)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"dimension": 0}, "dimension"),
        ({"delay": 0}, "delay"),
        ({"delay": 1.5}, "delay"),
        ({"dimension": True}, "dimension"),
    ],
)
def test_invalid_parameters_echo_the_value(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
        sliding_window(np.arange(10.0), **kwargs)
