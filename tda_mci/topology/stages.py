"""Workflow stages of the topology: diagrams, PR matrices, PS matrices.

Each function is one rule of the workflow and one ``tda-mci`` subcommand: it reads its
inputs with :mod:`tda_mci.io`, calls the array functions of this package, and writes its
outputs (atomically). It takes the stage's settings object from :mod:`tda_mci.settings`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from tda_mci import io
from tda_mci.atlas import load_atlas, networks
from tda_mci.cohort import files_by_subject
from tda_mci.settings import DiagramSettings, PRSettings, PSSettings
from tda_mci.topology.distances import roi_distance_matrices, subject_distance_matrices
from tda_mci.topology.homology import subject_diagrams

log = logging.getLogger(__name__)


def _metric(settings: PRSettings | PSSettings) -> dict[str, float]:
    """Distance options of the library ("inf" allowed)."""
    return {"order": float(settings.order), "ground_metric": float(settings.ground_metric)}


def compute_diagrams(
    settings: DiagramSettings, *, subject: str, timeseries: str, output: str, threads: int = 1
) -> None:
    """Compute the persistence diagrams H0..max_dim of every ROI of one subject.

    Reads the subject's time series, embeds every ROI (window ``dimension``, lag
    ``delay``) and writes the Vietoris-Rips diagrams with :func:`tda_mci.io.write_diagrams`.
    """
    data, rois = io.read_timeseries(timeseries)
    t0 = time.perf_counter()
    step = max(1, len(rois) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            log.info("sub-%s: %d/%d ROIs (%.1f s)", subject, done, total, time.perf_counter() - t0)

    diagrams = subject_diagrams(
        data, dimension=settings.dimension, delay=settings.delay, max_dim=settings.max_dim,
        backend=settings.backend, n_jobs=threads, progress=progress,
    )
    log.info("sub-%s: %d ROIs in %.1f s", subject, len(rois), time.perf_counter() - t0)
    meta = {
        "subject": subject, "dimension": settings.dimension, "delay": settings.delay,
        "max_dim": settings.max_dim, "backend": settings.backend, "source": timeseries,
        "filtration": "Vietoris-Rips, Euclidean distance, coefficients Z/2",
        "bars": "finite (birth, death) pairs; H0's single infinite bar implied",
    }
    io.write_diagrams(output, diagrams, rois, meta)


def roi_distances(
    settings: PRSettings, *, subject: str, diagrams: str, output: str, threads: int = 1
) -> None:
    """Inter-ROI (PR) Wasserstein matrices of one subject, per network of the atlas."""
    atlas = load_atlas(settings.atlas)
    dgms, rois, _ = io.read_diagrams(diagrams)
    if rois != atlas["roi"].tolist():
        raise ValueError(f"sub-{subject}: {diagrams}: ROI order differs from the atlas")
    nets = networks(atlas)
    mats = roi_distance_matrices(dgms, nets, n_jobs=threads, **_metric(settings))
    io.write_pr(
        output, mats, {key: atlas["roi"].to_numpy()[idx] for key, idx in nets.items()},
        meta={"subject": subject, "kind": "PR", "order": str(settings.order),
              "ground_metric": str(settings.ground_metric), "diagrams": diagrams,
              "axes": "(homology dimension, ROI, ROI), ROIs in atlas order within the network"},
    )


def ps_block_rows(n_rois: int, rois_per_job: int, block: int) -> list[int]:
    """Atlas rows of the ROIs of PS block ``block`` (blocks of ``rois_per_job`` ROIs)."""
    start = int(block) * int(rois_per_job)
    if not 0 <= start < n_rois:
        raise ValueError(f"PS block {block} is outside the {n_rois} ROIs "
                         f"({rois_per_job} per block)")
    return list(range(start, min(start + int(rois_per_job), n_rois)))


def subject_distances(
    settings: PSSettings,
    *,
    cohort: str,
    diagrams: Sequence[str],
    block: int,
    output: str,
    threads: int = 1,
) -> None:
    """Inter-subject (PS) Wasserstein matrices of one block of ROIs, over the cohort.

    Subjects are those of the cohort table, in its order; each one's diagrams file is
    found by its name.
    """
    subjects = io.read_cohort(cohort)["subject"].tolist()
    files = files_by_subject(diagrams, subjects, "diagrams")
    rows = ps_block_rows(len(load_atlas(settings.atlas)), settings.rois_per_job, block)
    per_subject, rois = [], None
    for subject, path in files.items():
        dgms, rois_s, _ = io.read_diagrams(path)
        if rois is None:
            rois = rois_s
        elif rois_s != rois:
            raise ValueError(f"sub-{subject}: {path}: ROI order differs from the other subjects")
        per_subject.append([dgms[r] for r in rows])
    out = {}
    for j, row in enumerate(rows):
        t0 = time.perf_counter()
        out[rois[row]] = subject_distance_matrices(
            [d[j] for d in per_subject], n_jobs=threads, **_metric(settings)
        )
        log.info("ROI %d (%d/%d): %.1f s", rois[row], j + 1, len(rows), time.perf_counter() - t0)
    io.write_ps(output, out, subjects,
                meta={"kind": "PS", "order": str(settings.order),
                      "ground_metric": str(settings.ground_metric),
                      "axes": "(homology dimension, subject, subject)"})
