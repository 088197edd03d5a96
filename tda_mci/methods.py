"""The methods text of a run, built from what its stages did.

The first paragraph describes the ROI time series as the sidecars of the included
subjects record them (:func:`tda_mci.io.write_timeseries`): sphere extraction and its
cleaning for images, or the import and any scaling for precomputed series, with the
numbers of volumes kept. The other paragraphs state the embedding, the persistence, the
distances, the statistics and the classification with the settings of the run. The text
is written as Markdown (to paste into a paper) and as HTML (for Snakemake's report).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tda_mci import io
from tda_mci.cohort import files_by_subject
from tda_mci.settings import MethodsSettings

__all__ = ["describe_methods", "methods_text"]

_IMAGE_KINDS = ("demo", "nifti", "fmriprep")
_STANDARDIZE = {"zscore_sample": "z-scored (mean 0, sample SD 1)",
                "psc": "converted to percent signal change", None: "not standardised",
                "none": "not standardised"}


def _count(values: Sequence[int]) -> str:
    """``"140"`` when all are equal, else ``"median 138 (range 120-140)"``."""
    values = np.asarray(values)
    if values.min() == values.max():
        return f"{int(values[0])}"
    return (f"median {float(np.median(values)):g} (range {int(values.min())}-"
            f"{int(values.max())})")


def _join(steps: Sequence[str]) -> str:
    """Join phrases as prose: ``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return steps[0] if len(steps) == 1 else f"{', '.join(steps[:-1])} and {steps[-1]}"


def _atlas(sidecars: Sequence[Mapping[str, Any]]) -> str:
    """Name the atlas the series were extracted or checked against, as the sidecars say."""
    name = _one(sidecars, "Atlas")
    return "Dosenbach (2010)" if name in (None, "dosenbach160") else f"custom ({name})"


def _one(sidecars: Sequence[Mapping[str, Any]], key: str, ignore: Sequence[str] = ()) -> Any:
    """Return the value every sidecar records for ``key``; they must agree.

    Entries of a mapping value named in ``ignore`` (each subject's own files) are compared
    only for being set or not.
    """

    def value(sidecar):
        v = sidecar.get(key)
        if isinstance(v, Mapping):
            return {k: (bool(x) if k in ignore else x) for k, x in v.items()}
        return v

    values = {repr(value(s)) for s in sidecars}
    if len(values) != 1:
        raise ValueError(f"the subjects' sidecars disagree on {key}: {sorted(values)}")
    return value(sidecars[0])


def _image_series(sidecars: Sequence[Mapping[str, Any]], atlas: str) -> str:
    masker = _one(sidecars, "Masker", ignore=("mask_img",))
    kind = _one(sidecars, "InputKind")
    text = (f"For each of the {len(sidecars)} included subjects, the mean signal of a "
            f"{masker['radius']:g} mm sphere around each of the {len(sidecars[0]['ROIs'])} "
            f"ROIs of the {atlas} atlas was extracted from the preprocessed 4D image "
            f"({'fMRIPrep derivatives' if kind == 'fmriprep' else 'NIfTI'}) with nilearn's "
            "NiftiSpheresMasker (overlapping spheres allowed")
    text += ("; voxels outside the subject's brain mask ignored)" if masker.get("mask_img")
             else ")")
    if kind == "fmriprep" and masker.get("confounds"):
        n = len(sidecars[0].get("ConfoundColumns") or [])
        text += (f"; nilearn's fMRIPrep denoising preset "
                 f"'{_one(sidecars, 'DenoiseStrategy')}' ({n} confound regressors"
                 + (", with a sample mask of the volumes kept" if masker.get("sample_mask")
                    else "") + ") was applied")
    elif masker.get("confounds"):
        text += f"; {len(sidecars[0].get('ConfoundColumns') or [])} confound regressors " \
                "from a TSV were regressed out"
    steps = ["linearly detrended"] if masker.get("detrend") else []
    if masker.get("high_pass") or masker.get("low_pass"):
        steps.append(f"band-pass filtered ({masker.get('high_pass') or 0:g}-"
                     f"{masker.get('low_pass') or 'Nyquist'} Hz)")
    steps.append(_STANDARDIZE[masker.get("standardize")])
    kept = [int(s["NumberOfVolumes"]) for s in sidecars]
    total = [int(s.get("NumberOfVolumesInImage", k)) for s, k in zip(sidecars, kept,
                                                                     strict=True)]
    text += f"; each series was {_join(steps)}. "
    if kept == total:
        return text + f"Every volume was kept: {_count(kept)} per subject"
    return text + (f"Volumes kept per subject: {_count(kept)}, of {_count(total)} in the "
                   "images (the others censored by the sample mask)")


def _imported_series(sidecars: Sequence[Mapping[str, Any]], atlas: str) -> str:
    kind = _one(sidecars, "InputKind")
    layout = ("one table per subject (one column per ROI)" if kind == "timeseries" else
              "the authors' layout (one CSV per subject and network, one row per ROI)")
    scaling = _one(sidecars, "ImportScaling") or {}
    steps = (["linearly detrended"] if scaling.get("detrend") else []) + (
        [_STANDARDIZE["zscore_sample"]] if scaling.get("standardize") == "zscore_sample"
        else [])
    done = ("used as given (no detrending, no standardisation; the extraction settings "
            "apply to images only)" if not steps else _join(steps))
    volumes = _count([int(s["NumberOfVolumes"]) for s in sidecars])
    return (f"Precomputed ROI series of the {len(sidecars)} included subjects were imported "
            f"from {layout} and checked against the {atlas} atlas "
            f"({len(sidecars[0]['ROIs'])} ROIs: complete, finite, no constant series); no "
            f"sphere extraction or image cleaning was applied. The series were {done}. "
            f"Volumes per subject: {volumes}")


def _selector(value: Any, what: str) -> str:
    """Describe an fMRIPrep entity selector: a label, or a participants column."""
    text = str(value)
    if text.startswith("{"):
        return f"the {what} named by each subject's {text[1:-1]} column of participants.tsv"
    return f"{what} {text}"


def _scans(sidecars: Sequence[Mapping[str, Any]], s: MethodsSettings) -> str:
    """Which scan of each subject was used (sessions and runs), when the inputs have any.

    Empty when no source file carries a ``ses-`` or ``run-`` entity.
    """
    from tda_mci.paths import parse_bids_name

    found = []
    for sidecar in sidecars:
        try:
            found.append(parse_bids_name(str(sidecar.get("Source") or ""))[0])
        except ValueError:
            found.append({})
    if not any("ses" in e or "run" in e for e in found):
        return ""
    rule = [_selector(v, w) for v, w in ((s.session, "session"), (s.run, "run"))
            if v is not None]
    if s.scan_choice in ("first", "last"):
        rule.append(f"the {s.scan_choice} matching image in natural (session, run) order")
    counts = []
    for key, what in (("ses", "session"), ("run", "run")):
        values = [e.get(key) for e in found]
        if any(v is not None for v in values):
            tally = {v: values.count(v) for v in dict.fromkeys(values)}
            counts.append(f"{what} " + ", ".join(
                f"{'none' if v is None else v} ({n})" for v, n in sorted(
                    tally.items(), key=lambda kv: (kv[0] is None, str(kv[0])))))
    how = f" ({_join(rule)})" if rule else ""
    return (f" Each subject contributed one scan{how}, whose entities every output name "
            f"keeps; subjects per {'; per '.join(counts)}.")


def _topology(s: MethodsSettings) -> str:
    lost = (s.dimension - 1) * s.delay
    backend = ("GUDHI after edge collapse" if s.backend == "gudhi"
               else "Ripser (the paper's implementation)")
    return (f"Each ROI series of T volumes was embedded with a sliding window of length "
            f"{s.dimension} and delay {s.delay} (T - {lost} points in R^{s.dimension}). "
            f"Vietoris-Rips persistence diagrams (Euclidean distance, Z/2 coefficients) were "
            f"computed up to H{s.max_dim} by {backend}. Diagrams were compared with the "
            f"Wasserstein distance of order {s.order} and ground metric L{s.ground_metric} (a "
            "point's cost to the diagonal is its ground-metric distance to it; infinite bars "
            "dropped; order 1 with L2 equals persim.wasserstein), between the ROIs of each "
            "network for every subject (PR) and between subjects for every ROI (PS).")


def _statistics(s: MethodsSettings) -> str:
    pairs = ", ".join(f"{a} vs {b}" for a, b in s.comparisons)
    text = (f"For each comparison ({pairs}), network and homology dimension, every ROI "
            "pair's PR values were compared between the groups with a two-sided Mann-Whitney "
            f"U test (tie- and continuity-corrected) at alpha {s.alpha:g} on raw p-values, as "
            "in the paper, with Benjamini-Hochberg and -Yekutieli adjusted p-values "
            f"alongside; pairs with a BH-adjusted p below {s.fdr_level:g} are marked as "
            "surviving FDR. Each ROI's PS matrices were tested with PERMANOVA "
            f"({s.ps_permutations} label permutations, so the smallest attainable p is "
            f"{1 / (s.ps_permutations + 1):.3g}), Benjamini-Hochberg across the ROIs of a "
            f"dimension at {s.ps_fdr_level:g}.")
    if s.covariates:
        names = _join(list(s.covariates))
        text += (f" Both tests were adjusted for {names} (numeric columns as given, others as "
                 "indicators of their levels): the rank-sum test compared the residuals of an "
                 "ordinary least-squares fit of each pair's PR values on an intercept and the "
                 "covariates, and PERMANOVA entered the covariates before the group "
                 "(sequential sums of squares), permuting the residuals of the covariates-only "
                 "model.")
    return text


def _classification(s: MethodsSettings) -> str:
    protocol = (f"{s.n_splits}-fold stratified cross-validation, {s.n_repeats} repeat(s)"
                if s.protocol == "cv" else "one stratified 80/20 split")
    text = (f"Classifiers ({', '.join(s.models)}) were evaluated on the same folds "
            f"(protocol {s.protocol}: {protocol}, seed {s.seed})")
    if "cnn" in s.models:
        stop = (f"with early stopping (patience {s.early_stopping_patience} epochs) on an "
                f"inner validation split of {s.inner_val_fraction:g} of each training fold"
                if s.inner_val_fraction > 0 else "without early stopping")
        text += (f"; the hybrid 1D+2D CNN was trained for {s.epochs} epochs (Adam, learning "
                 f"rate {s.learning_rate:g}, batch {s.batch_size}) {stop}")
    if s.harmonize == "combat":
        protected = f", protecting {_join(list(s.covariates))}" if s.covariates else ""
        text += (f"; the features of every model were harmonised across the sites of "
                 f"{s.site_column} with ComBat (neuroHarmonize, empirical Bayes), fitted on "
                 f"each training fold and applied to its test fold{protected} (the diagnosis "
                 "was not protected: that would need the test subjects' labels)")
    text += ("; nothing of a test fold was used for training, scaling, harmonisation or "
             "epoch choice." if s.harmonize == "combat" else
             "; nothing of a test fold was used for training, scaling or epoch choice.")
    if s.permutations:
        text += (f" The best model of each comparison was tested with {s.permutations} label "
                 "permutations in the same folds (not corrected for choosing the best).")
    return text


def describe_methods(settings: MethodsSettings, sidecars: Sequence[Mapping[str, Any]]) -> list:
    """Return the methods of a run as a list of ``(heading, paragraph)``.

    Parameters
    ----------
    settings : MethodsSettings
        The run's settings (those the text states).
    sidecars : sequence of mapping
        The time-series sidecars of the included subjects (what extraction or import
        recorded: input kind, masker settings or import scaling, volumes kept).

    Raises
    ------
    ValueError
        Without sidecars, or when they disagree on the input kind or its settings.
    """
    if not sidecars:
        raise ValueError("no time-series sidecars: nothing to describe")
    kind = _one(sidecars, "InputKind")
    series = (_image_series if kind in _IMAGE_KINDS else _imported_series)(sidecars,
                                                                            _atlas(sidecars))
    series += "." + _scans(sidecars, settings)
    return [("ROI time series", series), ("Topology", _topology(settings)),
            ("Statistics", _statistics(settings)),
            ("Classification", _classification(settings))]


def methods_text(
    settings: MethodsSettings, *, cohort: str, sidecars: Sequence[str], outputs: Mapping[str, str]
) -> None:
    """Stage ``methods_text``: write the methods as Markdown (``text``) and HTML (``html``).

    The sidecars are those of the cohort table's subjects, found by name.
    """
    subjects = io.read_cohort(cohort)["subject"].tolist()
    files = files_by_subject(sidecars, subjects, "time-series sidecar")
    sections = describe_methods(settings, [io.read_timeseries_sidecar(files[s]) for s in subjects])
    markdown = "# Methods\n\n" + "".join(f"**{h}.** {p}\n\n" for h, p in sections)
    page = "".join(f"<p><b>{html.escape(h)}.</b> {html.escape(p)}</p>\n" for h, p in sections)
    io.write_text(outputs["text"], markdown)
    io.write_text(outputs["html"], f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
                                   f"<title>Methods</title></head><body>\n<h1>Methods</h1>\n"
                                   f"{page}</body></html>\n")
