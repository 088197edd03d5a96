"""Workflow stages of the inputs: demo cohort, time series, screening, QC.

Each function is one rule of the workflow and one ``tda-mci`` subcommand. A subject's
input files arrive as a mapping by role (``bold``, ``mask``, ``confounds``,
``timeseries`` or ``network_csv``), as :func:`tda_mci.inputs.sources.resolve_subject_inputs`
finds them before the run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tda_mci import io
from tda_mci.atlas import load_atlas
from tda_mci.cohort import (
    compared_participants,
    files_by_subject,
    load_participants,
    required_group_size,
)
from tda_mci.covariates import check_columns, cohort_columns
from tda_mci.figures import carpet_plot, plot_cohort_qc
from tda_mci.inputs.demo import generate_demo_cohort
from tda_mci.inputs.qc import (
    check_included_groups,
    cohort_qc_table,
    exclusion_tables,
    screen_record,
)
from tda_mci.inputs.series import load_subject_series
from tda_mci.settings import (
    CarpetSettings,
    CohortQCSettings,
    CohortSettings,
    DemoSettings,
    ScreenSettings,
    SeriesSettings,
)
from tda_mci.validation import SubjectDataError

log = logging.getLogger(__name__)


def demo_cohort(settings: DemoSettings, *, demo_dir: str) -> None:
    """Generate the demo cohort (images, masks, participants.tsv, ground truth)."""
    generate_demo_cohort(demo_dir, n_per_group=dict(settings.n_per_group),
                         n_volumes=settings.n_volumes, tr=settings.tr, seed=settings.seed)


def _subject_series(
    settings: SeriesSettings, subject: str, sources: Mapping[str, Any]
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Read and check one subject's series from its source files (any input kind)."""
    atlas = load_atlas(settings.atlas)
    extraction = {"radius": settings.radius, "detrend": settings.detrend,
                  "low_pass": settings.low_pass, "high_pass": settings.high_pass,
                  "standardize": None if settings.standardize == "none" else settings.standardize}
    data, sidecar = load_subject_series(
        "nifti" if settings.kind == "demo" else settings.kind, sources, atlas,
        subject=subject, t_r=settings.t_r, min_volumes=settings.min_volumes,
        embedding=(settings.dimension, settings.delay), extraction=extraction,
        denoise_strategy=settings.denoise_strategy, atlas_name=settings.atlas or "dosenbach160",
        tr_tolerance=settings.tr_tolerance,
        import_scaling={"standardize": settings.import_standardize,
                        "detrend": settings.import_detrend},
    )
    return atlas, data, sidecar


def extract_timeseries(
    settings: SeriesSettings, *, subject: str, sources: Mapping[str, Any], output: str
) -> None:
    """Extract (images) or import (tables) one subject's checked ROI series.

    Writes the T x ROI table and its JSON sidecar (:func:`tda_mci.io.write_timeseries`).
    A problem with the subject's data raises
    :class:`~tda_mci.validation.SubjectDataError` naming subject, file and reason.
    """
    atlas, data, sidecar = _subject_series(settings, subject, sources)
    io.write_timeseries(output, data, atlas["roi"].tolist(), sidecar)
    log.info("sub-%s: %d volumes x %d ROIs -> %s", subject, *data.shape, output)


def screen_subject(
    settings: ScreenSettings, *, subject: str, sources: Mapping[str, Any], output: str
) -> None:
    """Run every check of extraction; record included, or excluded with file and reason."""
    try:
        _, data, sidecar = _subject_series(settings, subject, sources)
    except SubjectDataError as err:
        log.warning("excluding sub-%s: %s", subject, err)
        record = screen_record(subject, err)
    else:
        log.info("sub-%s passes: %d volumes x %d ROIs", subject, *data.shape)
        record = screen_record(subject, None, sidecar)
    io.write_json(output, record, kind="screen")


def screen_cohort(
    settings: CohortSettings,
    *,
    participants: str,
    records: Sequence[str],
    included: str,
    excluded: str,
) -> None:
    """Write the cohort table (included subjects) and the exclusion table.

    ``records`` are the subjects' screening records (policy exclude) or time-series
    sidecars (policy fail: every subject passed). Group sizes are checked after the
    exclusions; on failure the exclusion table is still written, to explain why.
    """
    table, _ = compared_participants(_participants(participants, settings), settings.comparisons)
    inc, exc = exclusion_tables(table, {path: _screen_record(path) for path in records})
    io.write_tsv(excluded, exc, kind="exclusions")
    for r in exc.itertuples():
        log.warning("excluded %s (%s): %s: %s", r.participant_id, r.group, r.file, r.reason)
    n_min, setting = required_group_size(settings.min_group_size, settings.protocol,
                                         settings.n_splits)
    check_included_groups(inc, exc, settings.comparisons, n_min, setting=setting)
    extra = cohort_columns(settings.covariates, settings.site_column)
    inc = inc.merge(table[["subject", *extra]], on="subject", how="left", validate="1:1")
    check_columns(inc, settings.covariates, participants)
    if settings.site_column:
        check_columns(inc, [settings.site_column], participants, "statistics.site_column")
    io.write_cohort(included, inc, extra)
    log.info("%d included, %d excluded", len(inc), len(exc))


def _participants(path: str, settings: CohortSettings | CohortQCSettings):
    """Read the participants table as the run selects and groups it (``inputs.*``)."""
    return load_participants(path, group_column=settings.group_column,
                             group_map=settings.group_map,
                             participant_label=settings.participant_label)


def _screen_record(path: str) -> dict:
    """Read a screening verdict (policy exclude) or a time-series sidecar (policy fail)."""
    if path.endswith("_timeseries.json"):
        return io.read_timeseries_sidecar(path)
    return io.read_json(path, kind="screen")


def plot_carpet(settings: CarpetSettings, *, subject: str, timeseries: str, output: str) -> None:
    """Carpet plot of one subject's ROI time series."""
    atlas = load_atlas(settings.atlas)
    data, rois = io.read_timeseries(timeseries)
    if rois != atlas["roi"].tolist():
        raise ValueError(f"sub-{subject}: {timeseries}: ROI order differs from the atlas")
    carpet_plot(data, atlas, output, title=f"sub-{subject}", t_r=settings.t_r)


def cohort_qc(
    settings: CohortQCSettings,
    *,
    participants: str,
    included: str,
    excluded: str,
    sidecars: Sequence[str],
    outputs: Mapping[str, str],
) -> None:
    """Cohort QC table (one row per participant) and its figure.

    ``outputs`` holds ``table`` and ``figure``.
    """
    table = _participants(participants, settings)
    inc = io.read_cohort(included)
    exc = io.read_tsv(excluded, text=True, kind="exclusions")
    files = files_by_subject(sidecars, inc["subject"].tolist(), "time-series sidecar")
    qc = cohort_qc_table(table, {s: io.read_timeseries_sidecar(p) for s, p in files.items()}, exc,
                         load_atlas(settings.atlas), comparisons=settings.comparisons)
    io.write_tsv(outputs["table"], qc)
    plot_cohort_qc(qc, outputs["figure"])
