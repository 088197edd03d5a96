"""Quality control: per-subject metrics, the cohort QC table, exclusions.

A subject whose data fail a check (:class:`tda_mci.validation.SubjectDataError`) either
stops the run (``on_bad_subject: fail``) or is *excluded*: recorded with the file and
the reason in the exclusion table and left out of every group analysis. Nothing is
dropped silently: every participant appears in exactly one of the included and
excluded tables.

Conventions
-----------
* Tables keep the participants table's row order.
* ``included`` has columns ``participant_id, subject, group``; ``excluded`` adds
  ``file`` and ``reason``.
* The QC figures (carpet plots of each subject, the cohort QC strip plots) are drawn by
  :mod:`tda_mci.figures.qc`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tda_mci.cohort import not_compared_reason

#: Columns of the included and excluded tables.
INCLUDED_COLUMNS = ("participant_id", "subject", "group")
EXCLUDED_COLUMNS = ("participant_id", "subject", "group", "file", "reason")

#: Columns of the cohort QC table (one row per participant).
QC_COLUMNS = (
    "participant_id", "subject", "group", "status", "input_kind", "volumes_in_input",
    "volumes_kept", "min_voxels_per_sphere", "median_voxels_per_sphere",
    "smallest_sphere_roi", "median_tsnr", "min_tsnr", "min_tsnr_roi",
    "mean_framewise_displacement", "source", "reason",
)  # fmt: skip


# ----------------------------------------------------------------------------- screening
def screen_record(
    subject: str, error: Exception | None = None, sidecar: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the screening verdict of one subject, as written to its ``_screen.json``.

    Parameters
    ----------
    subject : str
        Subject label.
    error : SubjectDataError, optional
        The problem found; ``None`` means the subject passed every check.
    sidecar : mapping, optional
        The time-series sidecar of a subject that passed (kept as ``QC``).

    Returns
    -------
    dict
        ``Subject``, ``Status`` (``"included"`` or ``"excluded"``), ``File`` and
        ``Reason`` (``None`` when included) and ``QC``.
    """
    if error is None:
        return {"Subject": subject, "Status": "included", "File": None, "Reason": None,
                "QC": dict(sidecar or {})}
    return {
        "Subject": subject,
        "Status": "excluded",
        "File": getattr(error, "file", None),
        "Reason": getattr(error, "reason", str(error)),
        "QC": {},
    }


def _record_status(record: Mapping[str, Any], source: str) -> tuple[str, str, Any, Any]:
    """``(subject, status, file, reason)`` of a screen record or a time-series sidecar."""
    if "Status" in record:
        status = record["Status"]
        if status not in ("included", "excluded"):
            raise ValueError(f"{source}: Status = {status!r}; expected included or excluded")
        return str(record["Subject"]), status, record.get("File"), record.get("Reason")
    if "Subject" in record and "NumberOfVolumes" in record:  # a written time series
        return str(record["Subject"]), "included", None, None
    raise ValueError(f"{source}: neither a screening record nor a time-series sidecar")


def exclusion_tables(
    participants: pd.DataFrame, records: Mapping[str, Mapping[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the cohort into included and excluded subjects.

    Parameters
    ----------
    participants : pandas.DataFrame
        Columns ``participant_id``, ``subject``, ``group`` (e.g. from
        :func:`tda_mci.cohort.load_participants`).
    records : mapping of str to mapping
        Source name (a file path) -> a record from :func:`screen_record`, or the JSON
        sidecar of a written time series (which counts as included).

    Returns
    -------
    included : pandas.DataFrame
        Columns :data:`INCLUDED_COLUMNS`, participants order.
    excluded : pandas.DataFrame
        Columns :data:`EXCLUDED_COLUMNS`, participants order (possibly empty).

    Raises
    ------
    ValueError
        When a participant has no record or several, or a record names a subject not in
        the participants table: every participant must be accounted for exactly once.
    """
    verdicts: dict[str, tuple[str, Any, Any]] = {}
    for source, record in records.items():
        subject, status, file, reason = _record_status(record, source)
        if subject in verdicts:
            raise ValueError(f"{source}: a second screening record for subject {subject}")
        verdicts[subject] = (status, file, reason)
    known = participants["subject"].astype(str).tolist()
    unknown = sorted(set(verdicts) - set(known))
    if unknown:
        raise ValueError(f"screening records for subjects not in the participants table: "
                         f"{unknown}")
    missing = [s for s in known if s not in verdicts]
    if missing:
        raise ValueError(f"no screening record for subject(s) {missing}")
    inc, exc = [], []
    for row in participants.to_dict(orient="records"):
        status, file, reason = verdicts[str(row["subject"])]
        base = {k: str(row[k]) for k in INCLUDED_COLUMNS}
        if status == "included":
            inc.append(base)
        else:
            exc.append({**base, "file": "" if file is None else str(file),
                        "reason": "" if reason is None else str(reason)})
    return (pd.DataFrame(inc, columns=list(INCLUDED_COLUMNS)),
            pd.DataFrame(exc, columns=list(EXCLUDED_COLUMNS)))


def check_included_groups(
    included: pd.DataFrame,
    excluded: pd.DataFrame,
    comparisons: Iterable[Sequence[str]],
    min_group_size: int,
    setting: str = "qc.min_group_size",
) -> None:
    """Every compared group keeps at least ``min_group_size`` subjects after exclusions.

    Parameters
    ----------
    included, excluded : pandas.DataFrame
        From :func:`exclusion_tables`.
    comparisons : iterable of (str, str)
        Pairs of compared groups.
    min_group_size : int
        Fewest subjects a compared group may keep.
    setting : str
        Where the minimum comes from, named in the message.

    Raises
    ------
    ValueError
        Naming the comparison, the group, its remaining size and the subjects excluded
        from it with their reasons.
    """
    counts = included["group"].value_counts()
    for pair in comparisons:
        for group in pair:
            n = int(counts.get(group, 0))
            if n < int(min_group_size):
                gone = excluded[excluded["group"] == group]
                why = "; ".join(f"{r.participant_id}: {r.reason}" for r in gone.itertuples())
                raise ValueError(
                    f"comparison {pair[0]} vs {pair[1]}: group {group!r} keeps {n} subject(s) "
                    f"after excluding {len(gone)} ({why or 'none'}); need at least "
                    f"{min_group_size} ({setting})"
                )


# ----------------------------------------------------------------------------- metrics
def subject_qc(sidecar: Mapping[str, Any], atlas: pd.DataFrame | None = None) -> dict[str, Any]:
    """QC metrics of one subject from its time-series sidecar.

    Parameters
    ----------
    sidecar : mapping
        As written beside the time series (see
        :func:`tda_mci.inputs.load_subject_series`).
    atlas : pandas.DataFrame, optional
        To name ROIs by label instead of number.

    Returns
    -------
    dict
        ``input_kind``, ``volumes_in_input``, ``volumes_kept``, ``min_voxels_per_sphere``,
        ``median_voxels_per_sphere``, ``smallest_sphere_roi``, ``median_tsnr``,
        ``min_tsnr``, ``min_tsnr_roi`` (image inputs only, else NaN/empty),
        ``mean_framewise_displacement`` (fMRIPrep confounds only) and ``source``.
    """
    rois = list(sidecar.get("ROIs") or [])
    names = {}
    if atlas is not None:
        names = dict(zip(atlas["roi"].astype(int), atlas["label"].astype(str), strict=True))

    def roi_name(j: int) -> str:
        r = int(rois[j]) if j < len(rois) else j
        return names.get(r, str(r))

    kept = int(sidecar.get("NumberOfVolumes", 0))
    row: dict[str, Any] = {
        "input_kind": sidecar.get("InputKind", ""),
        "volumes_in_input": int(sidecar.get("NumberOfVolumesInImage", kept)),
        "volumes_kept": kept,
        "min_voxels_per_sphere": np.nan, "median_voxels_per_sphere": np.nan,
        "smallest_sphere_roi": "", "median_tsnr": np.nan, "min_tsnr": np.nan,
        "min_tsnr_roi": "",
        "mean_framewise_displacement": sidecar.get("MeanFramewiseDisplacement"),
        "source": sidecar.get("Source") if isinstance(sidecar.get("Source"), str)
        else ";".join(map(str, sidecar.get("Source") or [])),
    }  # fmt: skip
    vox = np.asarray(sidecar.get("VoxelsPerSphere") or [], dtype=float)
    if vox.size:
        j = int(np.argmin(vox))
        row.update(min_voxels_per_sphere=int(vox[j]), median_voxels_per_sphere=float(
            np.median(vox)), smallest_sphere_roi=roi_name(j))
    tsnr = np.asarray(sidecar.get("TemporalSNR") or [], dtype=float)
    if tsnr.size:
        j = int(np.argmin(tsnr))
        row.update(median_tsnr=float(np.median(tsnr)), min_tsnr=float(tsnr[j]),
                   min_tsnr_roi=roi_name(j))
    if row["mean_framewise_displacement"] is None:
        row["mean_framewise_displacement"] = np.nan
    return row


def cohort_qc_table(
    participants: pd.DataFrame,
    sidecars: Mapping[str, Mapping[str, Any]],
    excluded: pd.DataFrame,
    atlas: pd.DataFrame | None = None,
    comparisons: Iterable[Sequence[str]] | None = None,
) -> pd.DataFrame:
    """One QC row per participant: metrics of included subjects, reasons of excluded ones.

    Status ``included``, ``excluded`` or, with ``comparisons``, ``not compared`` for a
    participant whose group is in no comparison (not analysed at all; see
    :func:`tda_mci.cohort.compared_participants`).

    Parameters
    ----------
    participants : pandas.DataFrame
        Columns ``participant_id``, ``subject``, ``group``; sets the row order.
    sidecars : mapping of str to mapping
        Subject label -> time-series sidecar, for every included subject.
    excluded : pandas.DataFrame
        From :func:`exclusion_tables`.
    atlas : pandas.DataFrame, optional
        For ROI labels.
    comparisons : iterable of (str, str), optional
        The compared groups (``statistics.comparisons``); None: every group is.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`QC_COLUMNS`.

    Raises
    ------
    ValueError
        When a participant is neither excluded nor has a sidecar, or both.
    """
    gone = {str(r.subject): r for r in excluded.itertuples()}
    compared = None if comparisons is None else {g for pair in comparisons for g in pair}
    rows = []
    for p in participants.to_dict(orient="records"):
        s = str(p["subject"])
        base = {"participant_id": str(p["participant_id"]), "subject": s,
                "group": str(p["group"])}
        if compared is not None and base["group"] not in compared:
            rows.append({**base, "status": "not compared",
                         "reason": not_compared_reason(base["group"],
                                                       p.get("source_group"))})
        elif s in gone and s in sidecars:
            raise ValueError(f"subject {s} is excluded but has a time series")
        elif s in gone:
            rows.append({**base, "status": "excluded", "source": gone[s].file,
                         "reason": gone[s].reason})
        elif s in sidecars:
            rows.append({**base, "status": "included", **subject_qc(sidecars[s], atlas),
                         "reason": ""})
        else:
            raise ValueError(f"subject {s} is neither excluded nor has a time series")
    return pd.DataFrame(rows, columns=list(QC_COLUMNS))
