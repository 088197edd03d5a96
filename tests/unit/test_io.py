import os

import numpy as np
import pytest

from tda_mci import io


def test_timeseries_roundtrip_is_exact(tmp_path, rng):
    data = rng.normal(size=(30, 5)) * 1e4
    path = tmp_path / "sub-1_timeseries.tsv"
    io.write_timeseries(path, data, [1, 2, 3, 4, 5], {"RepetitionTime": 3.0})
    back, rois = io.read_timeseries(path)
    assert rois == [1, 2, 3, 4, 5]
    assert np.array_equal(back, data)
    assert io.read_timeseries_sidecar(tmp_path / "sub-1_timeseries.json") == {"RepetitionTime": 3.0}


def test_diagrams_roundtrip_with_empty_dimensions(tmp_path, rng):
    dgms = [[rng.random((4, 2)), np.empty((0, 2)), rng.random((1, 2))] for _ in range(3)]
    io.write_diagrams(tmp_path / "d.npz", dgms, [7, 8, 9], {"backend": "gudhi"})
    back, rois, meta = io.read_diagrams(tmp_path / "d.npz")
    assert rois == [7, 8, 9] and meta == {"backend": "gudhi"}
    for a, b in zip(dgms, back, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y) and y.dtype == np.float64


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"

    def broken(tmp):
        with open(tmp, "w") as f:
            f.write("{half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        io.atomic_write(target, broken)
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_written_files_get_umask_permissions(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    io.write_json(tmp_path / "x.json", {"a": 1})
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~mask
