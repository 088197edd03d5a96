"""The methods text says what each stage did, for every input kind.

The sidecars come from the real loaders (tda_mci.inputs.series.load_subject_series) on
tiny generated inputs of each kind, so the text is checked against what extraction or
import actually recorded.
"""

from __future__ import annotations

import json

import data_gen as dg
import pandas as pd
import pytest

from tda_mci import io
from tda_mci.atlas import load_atlas, networks
from tda_mci.inputs.series import load_subject_series
from tda_mci.methods import describe_methods, methods_text
from tda_mci.settings import MethodsSettings

SETTINGS = MethodsSettings.from_config({})


@pytest.fixture(scope="module")
def cohort():
    return dg.participants({"HC": 1, "MCI": 1})


def _sidecars(kind, files, atlas, **options):
    name = "dosenbach160" if len(atlas) == 160 else "atlas20.tsv"
    return [load_subject_series(kind, f, atlas, subject=s, t_r=2.0, atlas_name=name,
                                **options)[1] for s, f in files.items()]


def _text(sidecars, settings=SETTINGS):
    return dict(describe_methods(settings, sidecars))


def test_fmriprep_images(tmp_path, cohort):
    atlas = dg.atlas20()
    files = dg.make_fmriprep(tmp_path, cohort, atlas, n_volumes=40)
    series = _text(_sidecars("fmriprep", files, atlas,
                             extraction={"radius": 5.0, "standardize": "zscore_sample",
                                         "detrend": True}))["ROI time series"]
    assert series.startswith("For each of the 2 included subjects, the mean signal of a 5 mm "
                             "sphere around each of the 20 ROIs of the custom (atlas20.tsv) "
                             "atlas")
    assert "(fMRIPrep derivatives) with nilearn's NiftiSpheresMasker" in series
    assert "voxels outside the subject's brain mask ignored" in series
    assert ("fMRIPrep denoising preset 'simple' (29 confound regressors, with a sample mask"
            in series)
    assert "each series was linearly detrended and z-scored (mean 0, sample SD 1)" in series
    # two non-steady-state volumes censored in each generated image
    assert series.endswith("Volumes kept per subject: 38, of 40 in the images (the others "
                           "censored by the sample mask).")


def test_nifti_images_with_confounds_and_psc(tmp_path, cohort):
    atlas = dg.atlas20()
    files = dg.make_fsl_like(tmp_path, cohort, atlas, n_volumes=60)
    series = _text(_sidecars("nifti", files, atlas,
                             extraction={"radius": 4.0, "standardize": "psc",
                                         "detrend": False, "low_pass": 0.1,
                                         "high_pass": 0.01}))["ROI time series"]
    assert "a 4 mm sphere" in series and "(NIfTI) with nilearn's" in series
    assert "6 confound regressors from a TSV were regressed out" in series
    assert ("each series was band-pass filtered (0.01-0.1 Hz) and converted to percent signal "
            "change") in series
    assert "detrended" not in series
    assert series.endswith("Every volume was kept: 60 per subject.")


def test_imported_tables_as_given_and_scaled(tmp_path, cohort):
    atlas = load_atlas()
    files = {s: {"timeseries": p} for s, p in
             dg.make_timeseries_tables(tmp_path, cohort, n_volumes=25).items()}
    given = _text(_sidecars("timeseries", files, atlas))["ROI time series"]
    assert given.startswith("Precomputed ROI series of the 2 included subjects were imported "
                            "from one table per subject")
    assert "no sphere extraction or image cleaning was applied" in given
    assert ("The series were used as given (no detrending, no standardisation; the extraction "
            "settings apply to images only)") in given
    assert "sphere around" not in given and "NiftiSpheresMasker" not in given
    assert given.endswith("Volumes per subject: 25.")
    scaled = _text(_sidecars("timeseries", files, atlas, import_scaling={
        "standardize": "zscore_sample", "detrend": True}))["ROI time series"]
    assert "The series were linearly detrended and z-scored (mean 0, sample SD 1)." in scaled


def test_authors_network_csvs(tmp_path, cohort):
    atlas = load_atlas()
    csvs = dg.make_network_csvs(tmp_path, cohort, n_volumes=22)
    files = {s: {"network_csv": [f[k] for k in networks(atlas)]} for s, f in csvs.items()}
    series = _text(_sidecars("network_csv", files, atlas,
                             import_scaling={"standardize": "zscore_sample"}))["ROI time series"]
    assert "imported from the authors' layout (one CSV per subject and network" in series
    assert "checked against the Dosenbach (2010) atlas (160 ROIs" in series
    assert "The series were z-scored (mean 0, sample SD 1)." in series
    assert series.endswith("Volumes per subject: 22.")


def test_later_stages_state_the_settings(tmp_path, cohort):
    atlas = load_atlas()
    files = {s: {"timeseries": p} for s, p in
             dg.make_timeseries_tables(tmp_path, cohort, n_volumes=25).items()}
    settings = MethodsSettings.from_config({
        "homology": {"max_dim": 1, "backend": "ripser"},
        "distances": {"order": 2, "ground_metric": "inf"},
        "statistics": {"comparisons": [["HC", "MCI"]], "ps_permutations": 99},
        "classification": {"models": ["logreg"], "protocol": "paper", "permutations": 0},
    })
    text = _text(_sidecars("timeseries", files, atlas), settings)
    assert "up to H1 by Ripser" in text["Topology"]
    assert "order 2 and ground metric Linf" in text["Topology"]
    assert "(HC vs MCI)" in text["Statistics"]
    assert "99 label permutations, so the smallest attainable p is 0.01" in text["Statistics"]
    assert "protocol paper: one stratified 80/20 split" in text["Classification"]
    assert "CNN" not in text["Classification"] and "label permutations" not in (
        text["Classification"])


def test_mixed_kinds_are_refused(tmp_path, cohort):
    atlas = load_atlas()
    files = {s: {"timeseries": p} for s, p in
             dg.make_timeseries_tables(tmp_path, cohort, n_volumes=25).items()}
    a, b = _sidecars("timeseries", files, atlas)
    b = {**b, "InputKind": "network_csv"}
    with pytest.raises(ValueError, match="disagree on InputKind"):
        describe_methods(SETTINGS, [a, b])
    with pytest.raises(ValueError, match="no time-series sidecars"):
        describe_methods(SETTINGS, [])


def test_stage_writes_markdown_and_html_for_the_cohort(tmp_path, cohort):
    atlas = load_atlas()
    tables = dg.make_timeseries_tables(tmp_path / "in", cohort, n_volumes=25)
    sidecars = []
    for s, path in tables.items():
        data, side = load_subject_series("timeseries", {"timeseries": path}, atlas,
                                         subject=s, t_r=2.0)
        out = tmp_path / f"sub-{s}" / f"sub-{s}_task-rest_timeseries.tsv"
        io.write_timeseries(out, data, atlas["roi"].tolist(), side)
        sidecars.append(str(out.with_suffix(".json")))
    io.write_cohort(tmp_path / "included.tsv", pd.DataFrame(
        {"participant_id": cohort["participant_id"],
         "subject": cohort["participant_id"].str[4:], "group": cohort["group"]}))
    outputs = {"text": str(tmp_path / "methods.md"), "html": str(tmp_path / "methods.html")}
    methods_text(SETTINGS, cohort=str(tmp_path / "included.tsv"), sidecars=sidecars[::-1],
                 outputs=outputs)
    markdown = (tmp_path / "methods.md").read_text()
    assert markdown.startswith("# Methods\n\n**ROI time series.** Precomputed ROI series")
    assert "**Classification.**" in markdown
    page = (tmp_path / "methods.html").read_text()
    assert "<b>Topology.</b>" in page and "authors&#x27;" not in page  # tables, not CSVs
    assert json.loads(json.dumps(outputs))  # outputs are plain paths


def test_sessions_and_runs_and_the_rule_that_chose_them(tmp_path):
    atlas = dg.atlas20()
    table = dg.participants({"HC": 2, "MCI": 1})
    scans = {"01": [("bl", "2"), ("m06", None)], "02": [("m06", None)], "03": [("bl", "1")]}
    dg.make_fmriprep(tmp_path, table, atlas, n_volumes=40, distractors=False, scans=scans)
    from tda_mci.cohort import check_participants
    from tda_mci.inputs.sources import resolve_cohort_inputs

    spec = {"kind": "fmriprep", "fmriprep": {"root": str(tmp_path), "space": dg.SPACE,
                                             "scan_choice": "first"}}
    files = resolve_cohort_inputs(spec, check_participants(table))
    settings = MethodsSettings.from_config({"inputs": {"fmriprep": {"scan_choice": "first"}}})
    series = _text(_sidecars("fmriprep", files, atlas), settings)["ROI time series"]
    assert series.endswith(
        " Each subject contributed one scan (the first matching image in natural (session, "
        "run) order), whose entities every output name keeps; subjects per session bl (2), "
        "m06 (1); per run 1 (1), 2 (1), none (1).")
    # without sessions or runs in the inputs, nothing is said about them
    plain = dg.make_fmriprep(tmp_path / "plain", table, atlas, n_volumes=40)
    assert "scan" not in _text(_sidecars("fmriprep", plain, atlas))["ROI time series"]


def test_covariates_and_harmonisation_are_stated():
    settings = MethodsSettings.from_config({
        "statistics": {"covariates": ["AGE", "PTGENDER"], "site_column": "SITE"},
        "classification": {"harmonize": "combat"}})
    sidecar = {"InputKind": "timeseries", "ROIs": [1, 2], "NumberOfVolumes": 30}
    text = _text([sidecar], settings)
    assert "Both tests were adjusted for AGE and PTGENDER" in text["Statistics"]
    assert ("harmonised across the sites of SITE with ComBat (neuroHarmonize, empirical "
            "Bayes), fitted on each training fold and applied to its test fold, protecting "
            "AGE and PTGENDER") in text["Classification"]
    plain = _text([sidecar])
    assert "adjusted for" not in plain["Statistics"] and "ComBat" not in plain["Classification"]
