import numpy as np
import pandas as pd
import pytest

from tda_mci.covariates import check_columns, cohort_columns, covariate_design, site_labels


def _table():
    return pd.DataFrame({
        "participant_id": [f"sub-{i}" for i in range(1, 7)],
        "AGE": ["71.2", "68", "80.5", "66", "75", "70"],
        "PTGENDER": ["Female", "Male", "Male", "Female", "Male", "Female"],
        "APOE": ["e3", "e4", "e2", "e4", "e3", "e3"],
        "SITE": ["002", "002", "011", "011", "23", "23"],
        "SCANNER": ["A"] * 6,
    })


def test_numeric_columns_as_numbers_categorical_as_indicators_of_non_reference_levels():
    design, names = covariate_design(_table(), ["AGE", "PTGENDER", "APOE"])
    assert names == ["AGE", "PTGENDER=Male", "APOE=e3", "APOE=e4"]
    np.testing.assert_array_equal(design[:, 0], [71.2, 68, 80.5, 66, 75, 70])
    np.testing.assert_array_equal(design[:, 1], [0, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(design[:, 2:], [[1, 0], [0, 1], [0, 0], [0, 1], [1, 0],
                                                  [1, 0]])
    # the same columns as a least-squares design: every category level is recovered
    y = design @ [0.1, 2.0, -1.0, 3.0] + 5.0
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(6), design]), y, rcond=None)
    np.testing.assert_allclose(coef, [5.0, 0.1, 2.0, -1.0, 3.0], atol=1e-9)


def test_levels_and_constants_are_those_of_the_rows_given():
    rows = _table().iloc[[0, 5]]  # both Female, APOE e3
    design, names = covariate_design(rows, ["AGE", "PTGENDER", "APOE", "SCANNER"])
    assert names == ["AGE"] and design.shape == (2, 1)
    assert covariate_design(rows, [])[0].shape == (2, 0)


def test_site_labels_stay_text():
    assert site_labels(_table(), "SITE").tolist() == ["002", "002", "011", "011", "23", "23"]


@pytest.mark.parametrize("missing", ["", "n/a", "NA", "nan"])
def test_a_missing_value_names_the_participant_and_column(missing):
    table = _table()
    table.loc[2, "AGE"] = missing
    with pytest.raises(ValueError, match=r"participants.tsv: column 'AGE' \(statistics"
                                         r".covariates\) has no value for sub-3"):
        covariate_design(table, ["AGE"], source="participants.tsv")


def test_unknown_and_reserved_columns():
    with pytest.raises(ValueError, match=r"no column 'DX' \(statistics.site_column\)"):
        check_columns(_table(), ["DX"], "p.tsv", setting="statistics.site_column")
    assert cohort_columns(["AGE", "SITE"], "SITE") == ["AGE", "SITE"]
    with pytest.raises(ValueError, match="'group'"):
        cohort_columns(["group"], None)
