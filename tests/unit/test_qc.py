import numpy as np
import pandas as pd
import pytest

from tda_mci.atlas import load_atlas
from tda_mci.inputs.qc import (
    EXCLUDED_COLUMNS,
    INCLUDED_COLUMNS,
    QC_COLUMNS,
    check_included_groups,
    cohort_qc_table,
    exclusion_tables,
    screen_record,
    subject_qc,
)
from tda_mci.validation import SubjectDataError


@pytest.fixture
def participants():
    return pd.DataFrame(
        {
            "participant_id": ["sub-a1", "sub-b2", "sub-c3", "sub-d4"],
            "subject": ["a1", "b2", "c3", "d4"],
            "group": ["HC", "MCI", "HC", "MCI"],
        }
    )


def test_screen_record_keeps_file_and_reason():
    err = SubjectDataError(
        "07", "/d/sub-07_bold.nii.gz", "image is 3D with shape (2, 2, 2); need 4D"
    )
    rec = screen_record("07", err)
    assert rec == {
        "Subject": "07",
        "Status": "excluded",
        "File": "/d/sub-07_bold.nii.gz",
        "Reason": "image is 3D with shape (2, 2, 2); need 4D",
        "QC": {},
    }
    assert str(err) == f"subject 07, file /d/sub-07_bold.nii.gz: {rec['Reason']}"
    ok = screen_record("08", None, {"NumberOfVolumes": 30})
    assert ok["Status"] == "included" and ok["Reason"] is None and ok["QC"]["NumberOfVolumes"] == 30


def test_exclusion_tables_account_for_everyone(participants):
    bad = SubjectDataError("c3", "/x/c3.tsv", "1 ROI series are constant: 5 (b)")
    records = {
        "s/a1.json": screen_record("a1"),
        "s/b2.json": {"Subject": "b2", "NumberOfVolumes": 40},  # a written series' sidecar
        "s/c3.json": screen_record("c3", bad),
        "s/d4.json": screen_record("d4"),
    }
    inc, exc = exclusion_tables(participants, records)
    assert list(inc.columns) == list(INCLUDED_COLUMNS)
    assert inc["subject"].tolist() == ["a1", "b2", "d4"]  # participants order
    assert list(exc.columns) == list(EXCLUDED_COLUMNS)
    assert exc.to_dict(orient="records") == [
        {
            "participant_id": "sub-c3",
            "subject": "c3",
            "group": "HC",
            "file": "/x/c3.tsv",
            "reason": "1 ROI series are constant: 5 (b)",
        }
    ]
    # no silent drop: a participant without a record, a stray or a doubled record is an error
    with pytest.raises(ValueError, match=r"no screening record for subject\(s\) \['d4'\]"):
        exclusion_tables(participants, {k: v for k, v in records.items() if "d4" not in k})
    with pytest.raises(ValueError, match=r"not in the participants table: \['zz'\]"):
        exclusion_tables(participants, {**records, "s/zz.json": screen_record("zz")})
    with pytest.raises(ValueError, match="a second screening record for subject a1"):
        exclusion_tables(participants, {**records, "t/a1.json": screen_record("a1")})
    with pytest.raises(ValueError, match="neither a screening record"):
        exclusion_tables(participants, {**records, "s/a1.json": {"foo": 1}})
    with pytest.raises(ValueError, match="Status = 'maybe'"):
        exclusion_tables(
            participants, {**records, "s/a1.json": {"Subject": "a1", "Status": "maybe"}}
        )


def test_group_sizes_after_exclusion(participants):
    inc, exc = exclusion_tables(
        participants,
        {
            "a": screen_record("a1"),
            "b": screen_record("b2"),
            "d": screen_record("d4"),
            "c": screen_record("c3", SubjectDataError("c3", "/x/c3.nii", "NaN values")),
        },
    )
    check_included_groups(inc, exc, [["HC", "MCI"]], min_group_size=1)
    with pytest.raises(
        ValueError,
        match=r"group 'HC' keeps 1 subject\(s\) after excluding 1 "
        r"\(sub-c3: NaN values\); need at least 2",
    ):
        check_included_groups(inc, exc, [["HC", "MCI"]], min_group_size=2)
    with pytest.raises(ValueError, match="group 'LMCI' keeps 0"):
        check_included_groups(inc, exc, [["HC", "LMCI"]], min_group_size=1)


def test_subject_qc_metrics():
    atlas = load_atlas()
    side = {
        "InputKind": "fmriprep",
        "NumberOfVolumes": 130,
        "NumberOfVolumesInImage": 140,
        "ROIs": atlas["roi"].tolist(),
        "VoxelsPerSphere": [9] * 160,
        "TemporalSNR": [80.0] * 160,
        "MeanFramewiseDisplacement": 0.12,
        "Source": "/b.nii",
    }
    side["VoxelsPerSphere"][107] = 4
    side["TemporalSNR"][14] = 12.5
    row = subject_qc(side, atlas)
    assert row["volumes_in_input"] == 140 and row["volumes_kept"] == 130
    assert row["min_voxels_per_sphere"] == 4 and row["median_voxels_per_sphere"] == 9
    assert row["smallest_sphere_roi"] == atlas["label"][107]
    assert row["min_tsnr"] == 12.5 and row["median_tsnr"] == 80.0
    assert row["min_tsnr_roi"] == atlas["label"][14]
    assert row["mean_framewise_displacement"] == 0.12 and row["source"] == "/b.nii"
    imported = subject_qc(
        {"NumberOfVolumes": 40, "Source": ["/a.csv", "/b.csv"], "InputKind": "network_csv"}
    )
    assert imported["volumes_in_input"] == 40 and np.isnan(imported["median_tsnr"])
    assert imported["source"] == "/a.csv;/b.csv"
    assert np.isnan(imported["mean_framewise_displacement"])


def test_cohort_table_has_every_participant(participants):
    exc = pd.DataFrame(
        [
            {
                "participant_id": "sub-c3",
                "subject": "c3",
                "group": "HC",
                "file": "/x/c3.nii",
                "reason": "not 4D",
            }
        ],
        columns=EXCLUDED_COLUMNS,
    )
    sidecars = {
        s: {
            "NumberOfVolumes": 30 + i,
            "VoxelsPerSphere": [5, 7, 9],
            "TemporalSNR": [50.0, 60.0, 70.0],
            "ROIs": [1, 2, 3],
        }
        for i, s in enumerate(["a1", "b2", "d4"])
    }
    table = cohort_qc_table(participants, sidecars, exc)
    assert list(table.columns) == list(QC_COLUMNS)
    assert table["status"].tolist() == ["included", "included", "excluded", "included"]
    assert table.loc[2, "reason"] == "not 4D" and table.loc[2, "source"] == "/x/c3.nii"
    assert table["volumes_kept"].tolist()[:2] == [30, 31]
    assert table.loc[0, "median_voxels_per_sphere"] == 7 and table.loc[0, "min_tsnr"] == 50.0
    with pytest.raises(ValueError, match="subject d4 is neither excluded"):
        cohort_qc_table(participants, {k: v for k, v in sidecars.items() if k != "d4"}, exc)
    with pytest.raises(ValueError, match="subject c3 is excluded but has a time series"):
        cohort_qc_table(participants, {**sidecars, "c3": sidecars["a1"]}, exc)
