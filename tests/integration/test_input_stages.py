"""The input subcommands on real files: extract-timeseries fails on bad data with subject,
file and reason and writes nothing; screen-subject records the same verdict;
screen-cohort splits the cohort and checks group sizes after exclusions."""

import json
import re

import data_gen as dg
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from tda_mci import io
from tda_mci.atlas import load_atlas
from tda_mci.cli import main


@pytest.fixture
def atlas():
    return dg.atlas20()


def _deep(base, extra):
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in extra.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


def _bad_image(tmp_path, case, atlas):
    """One subject's image broken in one way; returns (path, config, reason regex)."""
    rng = np.random.default_rng(7)
    sig = dg.roi_signals(atlas, "HC", 30, 2.0, 0, 0)
    data = dg.image_data(sig, atlas, rng)
    path = tmp_path / "sub-09_bold.nii.gz"
    config, tr = {}, 2.0
    if case == "nan":
        data[5, 6, 7, 3] = np.nan
        reason = r"1 NaN or Inf values"
    elif case == "constant_roi":
        c = atlas.loc[4, ["x", "y", "z"]].to_numpy(float)
        ijk = np.indices(dg.SHAPE).reshape(3, -1).T
        xyz = ijk @ dg.affine()[:3, :3].T + dg.affine()[:3, 3]
        flat = data.reshape(-1, 30)
        flat[np.sqrt(((xyz - c) ** 2).sum(axis=1)) <= 8.0] = 900.0
        reason = r"1 ROI series are constant: 5 \(VIS 5\)"
    elif case == "zero_roi":
        c = atlas.loc[4, ["x", "y", "z"]].to_numpy(float)
        ijk = np.indices(dg.SHAPE).reshape(3, -1).T
        xyz = ijk @ dg.affine()[:3, :3].T + dg.affine()[:3, 3]
        data.reshape(-1, 30)[np.sqrt(((xyz - c) ** 2).sum(axis=1)) <= 8.0] = 0.0
        reason = r"1 ROI series are all zero"
    elif case == "tr":
        tr = 3.0
        reason = r"header is 3 s but the configuration says t_r = 2 s"
    elif case == "few_volumes":
        config = {"extraction": {"min_volumes": 40}}
        reason = r"image has 30 volumes; need at least 40"
    elif case == "embedding":
        config = {"extraction": {"min_volumes": 3}, "embedding": {"dimension": 15, "delay": 2}}
        reason = r"29 volumes kept; the embedding \(window 15, delay 2\) needs at least 30"
        data = data[..., :29]
    elif case == "fov":
        moved = atlas.copy()
        moved.loc[19, ["x", "y", "z"]] = [0.0, 90.0, 0.0]
        moved.to_csv(tmp_path / "atlas.tsv", sep="\t", index=False)
        reason = r"1 ROI sphere\(s\) hold no voxel \(outside the field of view\): 20"
    img = nib.Nifti1Image(data.astype(np.float32), dg.affine())
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((4.0, 4.0, 4.0, tr))
    if case == "3d":
        img = nib.Nifti1Image(data[..., 0].astype(np.float32), dg.affine())
        reason = r"image is 3D"
    nib.save(img, str(path))
    if case == "unreadable":
        path.write_bytes(b"\x1f\x8b" + b"garbage" * 40)
        reason = r"unreadable image"
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
        reason = r"truncated or corrupt"
    return path, config, reason


BAD_CASES = [
    "unreadable",
    "truncated",
    "3d",
    "nan",
    "fov",
    "few_volumes",
    "embedding",
    "constant_roi",
    "zero_roi",
    "tr",
]



@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_subject_names_subject_file_reason_and_writes_nothing(
    tmp_path, atlas, case, capsys, stage_settings
):
    """Every per-subject check through the CLI: `extract-timeseries` fails and leaves no
    output; `screen-subject` records the same file and reason as an exclusion."""
    path, config, reason = _bad_image(tmp_path, case, atlas)
    if not (tmp_path / "atlas.tsv").exists():
        atlas.to_csv(tmp_path / "atlas.tsv", sep="\t", index=False)
    inputs = {"kind": "nifti", "bold": "{subject}_bold.nii.gz", "participants": "p.tsv"}
    config = _deep({"atlas": str(tmp_path / "atlas.tsv"), "inputs": inputs,
                    "extraction": {"t_r": 2.0, "min_volumes": 20}}, config)
    out = tmp_path / "out" / "sub-09_timeseries.tsv"
    common = ["--subject", "09", "--sources", json.dumps({"bold": str(path)})]
    assert main(["extract-timeseries", "--settings",
                 stage_settings("extract_timeseries", config), *common,
                 "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert re.search(rf"subject 09, file {re.escape(str(path))}: .*{reason}", err), err
    # nothing for the subject looks complete: no output, not even a temporary file
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert main(["screen-subject", "--settings", stage_settings("screen_subject", config),
                 *common, "--output", str(tmp_path / "screen.json")]) == 0
    record = io.read_json(tmp_path / "screen.json", kind="screen")
    assert record["Status"] == "excluded" and record["File"] == str(path)
    assert re.search(reason, record["Reason"])


def test_screen_and_cohort(tmp_path, rng, capsys, stage_settings):
    """screen-subject writes a verdict instead of failing; screen-cohort splits the cohort
    and checks group sizes after exclusions."""
    atlas = load_atlas()
    good = tmp_path / "good.tsv"
    bad = tmp_path / "bad.tsv"
    x = rng.standard_normal((30, 160))
    pd.DataFrame(x, columns=atlas["roi"].astype(str)).to_csv(good, sep="\t", index=False)
    x[:, 10] = 0.0
    pd.DataFrame(x, columns=atlas["roi"].astype(str)).to_csv(bad, sep="\t", index=False)
    config = {"inputs": {"kind": "timeseries", "timeseries": "{subject}.tsv",
                         "participants": "p.tsv"},
              "extraction": {"t_r": 3.0, "min_volumes": 20}}
    subjects = {"a1": good, "b2": good, "c3": bad, "d4": good, "e5": good}
    for s, src in subjects.items():
        assert main(["screen-subject", "--settings", stage_settings("screen_subject", config),
                     "--subject", s, "--sources", json.dumps({"timeseries": str(src)}),
                     "--output", str(tmp_path / f"{s}.json")]) == 0
    rec = io.read_json(tmp_path / "c3.json", kind="screen")
    assert rec["Status"] == "excluded" and rec["File"] == str(bad)
    assert rec["Reason"].startswith("1 ROI series are all zero: 11")
    # the same data under `extract-timeseries` fail with the same message and write nothing
    out = tmp_path / "c3_timeseries.tsv"
    assert main(["extract-timeseries", "--settings",
                 stage_settings("extract_timeseries", config), "--subject", "c3",
                 "--sources", json.dumps({"timeseries": str(bad)}), "--output", str(out)]) == 1
    assert f"subject c3, file {bad}: {rec['Reason']}" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()

    participants = tmp_path / "participants.tsv"
    pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects],
                  "group": ["HC", "MCI", "HC", "MCI", "HC"]}).to_csv(
        participants, sep="\t", index=False)

    def screen_cohort(min_group_size):
        config = {"statistics": {"comparisons": [["HC", "MCI"]]},
                  "qc": {"min_group_size": min_group_size},
                  "classification": {"protocol": "paper"}}
        # records in any order: each names its subject
        return main(["screen-cohort", "--settings", stage_settings("screen_cohort", config),
                     "--participants", str(participants), "--records",
                     *[str(tmp_path / f"{s}.json") for s in reversed(subjects)],
                     "--included", str(tmp_path / "inc.tsv"),
                     "--excluded", str(tmp_path / "exc.tsv")])

    assert screen_cohort(2) == 0
    inc = io.read_cohort(tmp_path / "inc.tsv")
    exc = io.read_tsv(tmp_path / "exc.tsv", text=True)
    assert inc["subject"].tolist() == ["a1", "b2", "d4", "e5"]
    assert exc["subject"].tolist() == ["c3"] and exc["file"].tolist() == [str(bad)]
    # too few left: the exclusions are still written, the cohort table is not
    (tmp_path / "inc.tsv").unlink()
    assert screen_cohort(3) == 1
    assert "group 'HC' keeps 2 subject(s)" in capsys.readouterr().err
    assert not (tmp_path / "inc.tsv").exists() and (tmp_path / "exc.tsv").exists()


def test_demo_cohort_is_the_cohort_the_workflow_planned(tmp_path, stage_settings):
    """The workflow knows the demo's participants before the files exist
    (cohort.demo_participants of the configuration); the job must generate the same."""
    from tda_mci.cohort import demo_participants, load_participants

    config = {"demo": {"seed": 2, "n_per_group": {"MCI": 2, "HC": 3, "EMCI": 2},
                       "n_volumes": 12}}
    assert main(["demo-cohort", "--settings", stage_settings("demo_cohort", config),
                 "--demo-dir", str(tmp_path)]) == 0
    planned = demo_participants(config["demo"]["n_per_group"], seed=2)
    written = load_participants(tmp_path / "participants.tsv")
    assert written[["participant_id", "group"]].equals(planned[["participant_id", "group"]])
