import pandas as pd
import pytest

from tda_mci.cohort import (
    check_comparisons,
    check_participants,
    comparison_key,
    comparison_subjects,
    load_participants,
)


def _table(ids, groups):
    return pd.DataFrame({"participant_id": ids, "group": groups})


def test_load_adds_subject_label(tmp_path):
    path = tmp_path / "participants.tsv"
    _table(["sub-01", "sub-A2"], ["HC", "MCI"]).to_csv(path, sep="\t", index=False)
    table = load_participants(path)
    assert table["subject"].tolist() == ["01", "A2"]


@pytest.mark.parametrize("ids,message", [
    (["sub-01", "sub-01"], "duplicated participant_id"),
    (["sub-0_1", "sub-02"], "sub-<alphanumeric>"),
    (["01", "sub-02"], "sub-<alphanumeric>"),
])
def test_bad_ids_are_named(ids, message):
    with pytest.raises(ValueError, match=message) as err:
        check_participants(_table(ids, ["HC", "MCI"]), source="p.tsv")
    assert "p.tsv" in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="nope.tsv"):
        load_participants(tmp_path / "nope.tsv")


def test_comparisons_need_enough_subjects():
    table = check_participants(_table(["sub-1", "sub-2", "sub-3"], ["HC", "HC", "MCI"]))
    check_comparisons(table, [["HC", "MCI"]], min_group_size=1)
    with pytest.raises(ValueError, match="group 'MCI' has 1"):
        check_comparisons(table, [["HC", "MCI"]], min_group_size=2)
    with pytest.raises(ValueError, match="'LMCI' has 0"):
        check_comparisons(table, [["HC", "LMCI"]], min_group_size=1)


def test_comparison_subjects_and_key():
    table = check_participants(_table(["sub-1", "sub-2", "sub-3"], ["MCI", "EMCI", "HC"]))
    assert comparison_subjects(table, ("HC", "MCI")) == (["1", "3"], [1, 0])
    assert comparison_key(("HC", "MCI")) == "HCvsMCI"
