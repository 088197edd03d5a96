import struct

import numpy as np
import pandas as pd
import pytest

from tda_mci import io
from tda_mci.atlas import load_atlas
from tda_mci.cli import main
from tda_mci.extract import SubjectDataError
from tda_mci.qc import (
    EXCLUDED_COLUMNS,
    INCLUDED_COLUMNS,
    QC_COLUMNS,
    carpet_plot,
    check_included_groups,
    cohort_qc_table,
    exclusion_tables,
    plot_cohort_qc,
    screen_record,
    subject_qc,
)


@pytest.fixture
def participants():
    return pd.DataFrame(
        {
            "participant_id": ["sub-a1", "sub-b2", "sub-c3", "sub-d4"],
            "subject": ["a1", "b2", "c3", "d4"],
            "group": ["HC", "MCI", "HC", "MCI"],
        }
    )


def _png_size(path):
    head = open(path, "rb").read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


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


def test_cohort_table_has_every_participant(participants, tmp_path):
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
    plot_cohort_qc(table, tmp_path / "qc.png")
    assert _png_size(tmp_path / "qc.png")[0] > 500


def test_carpet_plot(tmp_path, rng):
    atlas = load_atlas()
    x = rng.standard_normal((40, 160))
    carpet_plot(x, atlas, tmp_path / "a.png", title="sub-01", t_r=3.0)
    carpet_plot(x, atlas, tmp_path / "b.png", title="sub-01", t_r=3.0)
    width, height = _png_size(tmp_path / "a.png")
    assert width > 600 and height > 400
    # deterministic bytes: reruns of the workflow reproduce the figure exactly
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    with pytest.raises(ValueError, match=r"\(40, 159\); expected \(T, 160\)"):
        carpet_plot(x[:, 1:], atlas, tmp_path / "c.png")
    x[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        carpet_plot(x, atlas, tmp_path / "c.png")
    with pytest.raises(ValueError, match="must end in"):
        carpet_plot(np.nan_to_num(x), atlas, tmp_path / "c.jpg")
    assert not (tmp_path / "c.png").exists()


def test_cli_screen_and_cohort(tmp_path, rng, capsys):
    """screen writes a verdict instead of failing; screen-cohort splits and checks sizes."""
    atlas = load_atlas()
    good = tmp_path / "good.tsv"
    bad = tmp_path / "bad.tsv"
    x = rng.standard_normal((30, 160))
    pd.DataFrame(x, columns=atlas["roi"].astype(str)).to_csv(good, sep="\t", index=False)
    x[:, 10] = 0.0
    pd.DataFrame(x, columns=atlas["roi"].astype(str)).to_csv(bad, sep="\t", index=False)
    common = ["--kind", "timeseries", "--t-r", "3", "--min-volumes", "20"]
    for s, src in (("a1", good), ("b2", good), ("c3", bad), ("d4", good)):
        assert (
            main(
                [
                    "screen",
                    "--subject",
                    s,
                    "--source",
                    str(src),
                    "--output",
                    str(tmp_path / f"{s}.json"),
                    *common,
                ]
            )
            == 0
        )
    rec = io.read_json(tmp_path / "c3.json")
    assert rec["Status"] == "excluded" and rec["File"] == str(bad)
    assert rec["Reason"].startswith("1 ROI series are all zero: 11")
    # the same data under `timeseries` fail with the same message and write nothing
    out = tmp_path / "c3_timeseries.tsv"
    assert (
        main(["timeseries", "--subject", "c3", "--source", str(bad), "--output", str(out), *common])
        == 1
    )
    assert f"subject c3, file {bad}: {rec['Reason']}" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()

    args = [
        "screen-cohort",
        "--subjects",
        "a1",
        "b2",
        "c3",
        "d4",
        "--groups",
        "HC",
        "MCI",
        "HC",
        "MCI",
        "--records",
        *[str(tmp_path / f"{s}.json") for s in ("a1", "b2", "c3", "d4")],
        "--comparisons",
        "HC:MCI",
        "--included",
        str(tmp_path / "inc.tsv"),
        "--excluded",
        str(tmp_path / "exc.tsv"),
    ]
    assert main([*args, "--min-group-size", "1"]) == 0
    inc = pd.read_csv(tmp_path / "inc.tsv", sep="\t", dtype=str)
    exc = pd.read_csv(tmp_path / "exc.tsv", sep="\t", dtype=str)
    assert inc["subject"].tolist() == ["a1", "b2", "d4"]
    assert exc["subject"].tolist() == ["c3"] and exc["file"].tolist() == [str(bad)]
    # too few left: the exclusions are still written, the included table is not
    assert main([*args, "--min-group-size", "2"]) == 1
    assert "group 'HC' keeps 1 subject(s)" in capsys.readouterr().err
    assert not (tmp_path / "inc.tsv").exists() and (tmp_path / "exc.tsv").exists()
