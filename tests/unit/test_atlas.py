import numpy as np
import pandas as pd
import pytest

from tda_mci.atlas import load_atlas, network_key, networks


def test_dosenbach_order_and_networks_are_pinned():
    atlas = load_atlas()
    assert len(atlas) == 160
    assert atlas["roi"].tolist() == list(range(1, 161))
    # the CSV shipped with nilearn starts with vmPFC (default mode) and aPFC (fronto-parietal)
    assert atlas.loc[0, "label"] == "vmPFC 1" and atlas.loc[0, "network"] == "default"
    assert tuple(atlas.loc[0, ["x", "y", "z"]]) == (6.0, 64.0, 3.0)
    sizes = {k: len(v) for k, v in networks(atlas).items()}
    assert sizes == {"CB": 18, "CO": 32, "DMN": 34, "FP": 21, "OP": 22, "SM": 33}


def test_network_indices_keep_atlas_order_and_partition_rows():
    atlas = load_atlas()
    nets = networks(atlas)
    allrows = np.sort(np.concatenate(list(nets.values())))
    assert np.array_equal(allrows, np.arange(160))
    for idx in nets.values():
        assert np.all(np.diff(idx) > 0)
    assert set(atlas.loc[nets["DMN"], "network"]) == {"default"}


def test_matches_nilearn_fetcher():
    from nilearn.datasets import fetch_coords_dosenbach_2010

    ref = fetch_coords_dosenbach_2010(ordered_regions=False)
    atlas = load_atlas()
    assert np.array_equal(atlas[["x", "y", "z"]].to_numpy(), ref.rois[["x", "y", "z"]].to_numpy())
    assert atlas["network"].tolist() == list(ref.networks)


def test_custom_atlas(tmp_path):
    path = tmp_path / "atlas.tsv"
    table = pd.DataFrame({"roi": [3, 1, 2], "label": ["a", "b", "c"],
                          "network": ["Vis-1", "Vis-1", "DMN"],
                          "x": [0, 1, 2], "y": [0, 0, 0], "z": [1, 1, 1]})
    table.to_csv(path, sep="\t", index=False)
    atlas = load_atlas(path)
    assert atlas["roi"].tolist() == [3, 1, 2]
    assert {k: v.tolist() for k, v in networks(atlas).items()} == {"DMN": [2], "Vis1": [0, 1]}


def test_custom_atlas_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.tsv"
    pd.DataFrame({"roi": [1, 1], "label": ["a", "b"], "network": ["n", "n"],
                  "x": [0, 1], "y": [0, 0], "z": [1, 1]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"bad\.tsv.*duplicated ROI"):
        load_atlas(path)
    pd.DataFrame({"roi": [1]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match="missing column"):
        load_atlas(path)


def test_network_key():
    assert network_key("default") == "DMN"
    assert network_key("Dorsal attention") == "Dorsalattention"
    with pytest.raises(ValueError):
        network_key("--")
