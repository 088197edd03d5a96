import pandas as pd
import pytest

from tda_mci import io
from tda_mci.cohort import (
    check_comparisons,
    check_participants,
    compared_participants,
    comparison_subjects,
    demo_participants,
    load_participants,
    not_compared_reason,
)
from tda_mci.paths import comparison_key


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
    subjects, labels = comparison_subjects(table, ("HC", "MCI"))
    assert subjects == ["1", "3"] and labels.tolist() == [1, 0]
    assert comparison_key(("HC", "MCI")) == "HCvsMCI"


def test_group_size_message_names_the_setting():
    table = check_participants(_table(["sub-1", "sub-2", "sub-3"], ["HC", "HC", "MCI"]))
    msg = r"'HC' has 2 subject.*least 3 \(qc.min_group_size\) \(groups present: .'HC': 2, 'MCI': 1"
    with pytest.raises(ValueError, match=msg):
        check_comparisons(table, [["HC", "MCI"]], 3, setting="qc.min_group_size")
    with pytest.raises(ValueError, match="compares a group with itself"):
        check_comparisons(table, [["HC", "HC"]], 1)


def test_missing_group_and_columns_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"p.tsv: no group for \['sub-2'\]"):
        check_participants(_table(["sub-1", "sub-2"], ["HC", None]), source="p.tsv")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['group'\]"):
        check_participants(pd.DataFrame({"participant_id": ["sub-1"]}))
    path = tmp_path / "participants.tsv"
    pd.DataFrame({"participant_id": ["sub-01", "sub-02"], "group": ["HC", "MCI"],
                  "age": [70.5, 71.0]}).to_csv(path, sep="\t", index=False)
    table = load_participants(path)
    # every value as text (a study converts what it needs, explicitly)
    assert table["age"].tolist() == ["70.5", "71.0"] and table["subject"].tolist() == ["01", "02"]
    path.write_text("participant_id\tgroup\nsub-01\tHC\nsub-02\tn/a\n")
    with pytest.raises(ValueError, match=r"participants.tsv: no group for \['sub-02'\]"):
        load_participants(path)


LABELS = ["NA", "NULL", "None", "nan", "0001", "1e3"]


def test_labels_that_pandas_would_read_as_missing_or_numbers_stay_text(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_text("participant_id\tgroup\tage\n" + "".join(
        f"sub-{s}\t{'HC' if i % 2 else 'MCI'}\tNA\n" for i, s in enumerate(LABELS)))
    table = load_participants(path)
    assert table["participant_id"].tolist() == [f"sub-{s}" for s in LABELS]
    assert table["subject"].tolist() == LABELS and table["age"].tolist() == ["NA"] * 6
    # through the cohort table the group stages read
    cohort = tmp_path / "included.tsv"
    io.write_cohort(cohort, table)
    back = io.read_cohort(cohort)
    assert back["subject"].tolist() == LABELS and back["group"].tolist() == table["group"].tolist()


def test_empty_and_header_only_participants_files_are_named(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_text("")
    with pytest.raises(ValueError, match=f"participants file {path} is empty"):
        load_participants(path)
    path.write_text("participant_id\tgroup\n")
    with pytest.raises(ValueError, match=f"participants file {path} lists no participants"):
        load_participants(path)


def test_participants_of_groups_in_no_comparison_are_set_apart():
    table = check_participants(_table(["sub-1", "sub-2", "sub-3", "sub-4"],
                                      ["HC", "AD", "LMCI", "LMIC"]))
    compared, others = compared_participants(table, [["HC", "LMCI"]])
    assert compared["participant_id"].tolist() == ["sub-1", "sub-3"]
    assert others["participant_id"].tolist() == ["sub-2", "sub-4"]
    assert not_compared_reason("LMIC") == (
        "group 'LMIC' is in no comparison (statistics.comparisons)")


def test_demo_participants_are_stable():
    """The demo cohort's ids and groups are part of its identity: they must never change."""
    import hashlib

    table = demo_participants({"HC": 3, "EMCI": 2, "LMCI": 2, "MCI": 1}, seed=0)
    assert table["group"].tolist() == ["LMCI", "MCI", "HC", "HC", "HC", "EMCI", "EMCI", "LMCI"]
    assert table["participant_id"].tolist() == [f"sub-{i:03d}" for i in range(1, 9)]
    default = demo_participants({"HC": 14, "EMCI": 14, "LMCI": 14, "MCI": 14}, seed=0)
    digest = hashlib.sha256(default.to_csv(sep="\t", index=False).encode()).hexdigest()
    assert digest == "9b28ac2816e211ffee4a911ea6fa1281211f802fcf8e435e5cebeeca4d30e174"


def _adni_like(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_text(
        "participant_id\tDX_bl\tAGE\tPTGENDER\tSITE\n"
        "sub-001\tCN\t71.2\tFemale\t002\n"
        "sub-002\tLMCI\t68.0\tMale\t002\n"
        "sub-003\tSMC\t75.5\tFemale\t011\n"
        "sub-004\tCN\tNA\tMale\t011\n"
        "sub-005\tAD\t80.1\tMale\t023\n"
        "sub-006\tLMCI\t66.3\tFemale\t023\n")
    return path


def test_any_group_column_mapped_to_study_groups_and_a_subset(tmp_path):
    path = _adni_like(tmp_path)
    table = load_participants(path, group_column="DX_bl",
                              group_map={"CN": "HC", "LMCI": "LMCI"})
    assert table["group"].tolist() == ["HC", "LMCI", "", "HC", "", "LMCI"]
    assert table["source_group"].tolist() == ["CN", "LMCI", "SMC", "CN", "AD", "LMCI"]
    assert table["AGE"].tolist()[3] == "NA" and table["SITE"].tolist()[0] == "002"
    compared, others = compared_participants(table, [["HC", "LMCI"]])
    assert compared["subject"].tolist() == ["001", "002", "004", "006"]
    assert others["subject"].tolist() == ["003", "005"]
    assert not_compared_reason("", "SMC") == (
        "group label 'SMC' is not mapped to a study group (inputs.group_map)")
    subset = load_participants(path, group_column="DX_bl", group_map={"CN": "HC", "LMCI": "LMCI"},
                               participant_label=["006", "001"])
    assert subset["subject"].tolist() == ["001", "006"]  # file order


def test_participant_selection_errors_name_the_file_and_values(tmp_path):
    path = _adni_like(tmp_path)
    with pytest.raises(ValueError, match=rf"{path}: no column 'group' \(inputs.group_column\)"):
        load_participants(path)
    with pytest.raises(ValueError, match=r"participant_label names participants not in the "
                                         r"file: \['007'\]"):
        load_participants(path, group_column="DX_bl", participant_label=["001", "007"])
    # unmapped labels are kept as groups, so they must be usable names
    path.write_text("participant_id\tDX_bl\nsub-1\tEarly MCI\nsub-2\tCN\n")
    with pytest.raises(ValueError, match=r"alphanumeric \(map them with inputs.group_map\): "
                                         r"\['Early MCI'\]"):
        load_participants(path, group_column="DX_bl")
    assert load_participants(path, group_column="DX_bl",
                             group_map={"Early MCI": "EMCI", "CN": "HC"})["group"].tolist() == \
        ["EMCI", "HC"]
    path.write_text("participant_id\tgroup\tGroup \nsub-1\tHC\tx\n")
    with pytest.raises(ValueError, match="Group "):
        load_participants(path)
