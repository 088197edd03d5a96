"""Every file format of the pipeline: one writer and one reader per output kind.

===========================  =====================================  =========================
output kind                  writer / reader                        file
===========================  =====================================  =========================
ROI time series              :func:`write_timeseries` /              ``*_timeseries.tsv`` +
                             :func:`read_timeseries`                 ``.json`` sidecar
persistence diagrams         :func:`write_diagrams` /                ``*_dgm.npz``
                             :func:`read_diagrams`
inter-ROI matrices (PR)      :func:`write_pr` / :func:`read_pr`      ``*_desc-PR_dist.npz``
inter-subject matrices (PS)  :func:`write_ps` / :func:`read_ps`      ``*_desc-PS_dist.npz``
rank-sum statistics          :func:`write_pr_statistics` /           ``*_stat.npz``
                             :func:`read_pr_statistics`
classifier records           :func:`write_record` /                  ``*_metrics.json``,
                             :func:`read_record`                     ``*_permutation.json``
the cohort                   :func:`write_cohort` /                  ``qc/included.tsv``
                             :func:`read_cohort`
tables                       :func:`write_tsv` / :func:`read_tsv`    ``*.tsv``
===========================  =====================================  =========================

Every write is atomic: data are written to a temporary file in the destination folder
and renamed into place, so a killed job never leaves an output that looks finished.

Every file that a later stage reads back carries an *integrity stamp*
(:data:`INTEGRITY_KEY`): its kind, its own file name and the SHA-256 of its content
(for a table, in its JSON sidecar: also the rows and columns). Every reader checks the
stamp, so a truncated, emptied, edited or swapped file (another subject's, another
kind's) raises :class:`DamagedFileError` naming the subject, the file and the reason,
instead of being used; the command line removes such a file so that the next run of the
workflow remakes it.
The layout of each file is documented with its writer (and in ``docs/architecture.md``);
names come from :mod:`tda_mci.paths`.
"""

from __future__ import annotations

import hashlib
import io as _stdio
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Key of the integrity stamp: an npz member, a key of a JSON object.
INTEGRITY_KEY = "integrity"


class DamagedFileError(ValueError):
    """A file written by the pipeline that fails its integrity check.

    Parameters
    ----------
    path : str or Path
        The damaged file.
    reason : str
        What is wrong (``"truncated or cut: 30 complete rows where its sidecar records
        60"`` ...).
    remake : sequence of str or Path, optional
        The files to remove so that the workflow remakes the damaged one (by default the
        file itself; a table and its sidecar go together).

    Attributes
    ----------
    path : Path
    reason : str
    remake : list of Path
    """

    def __init__(self, path: str | Path, reason: str,
                 remake: Sequence[str | Path] | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.remake = [Path(p) for p in (remake or [path])]
        subject = _subject_of(self.path)
        prefix = f"sub-{subject}: " if subject else ""
        super().__init__(f"{prefix}{path}: damaged file ({reason})")

    def remove(self) -> str:
        """Remove the files of :attr:`remake`; return the error message saying so."""
        for path in self.remake:
            path.unlink(missing_ok=True)
        names = ", ".join(str(p) for p in self.remake)
        return (f"{self}; removed {names}: the workflow remakes it where it is needed "
                "(run the same command again)")


def _subject_of(path: Path) -> str | None:
    from tda_mci.paths import entities

    try:
        return entities(path).get("sub")
    except ValueError:
        return None


def _digest_arrays(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of named arrays (name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _digest_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON text of an object as read back from JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(kind: str, path: str | Path, sha256: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "file": Path(path).name, "sha256": sha256, **extra}


def _check_stamp(path: str | Path, stamp: Any, kind: str | Sequence[str], sha256: str,
                 remake: Sequence[str | Path] | None = None) -> None:
    """Raise :class:`DamagedFileError` unless ``stamp`` fits.

    It must name this file, a kind of ``kind`` and the content's digest ``sha256``.
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    if not isinstance(stamp, dict):
        raise DamagedFileError(path, "no integrity stamp: not written by this version of "
                               "tda_mci", remake)
    if stamp.get("kind") not in kinds:
        raise DamagedFileError(path, f"a {stamp.get('kind')!r} file where a "
                               f"{' or '.join(map(repr, kinds))} file was expected", remake)
    if stamp.get("file") != Path(path).name:
        raise DamagedFileError(path, f"the content of {stamp.get('file')!r}, not of this "
                               "file (copied or renamed?)", remake)
    if stamp.get("sha256") != sha256:
        raise DamagedFileError(path, "content differs from what was written (checksum "
                               "mismatch: truncated or changed since)", remake)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: str | Path, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp_path)`` and rename the temporary file to ``path``.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created.
    write : callable
        Writes the content to the temporary path it receives.
    suffix : str
        Suffix of the temporary file (some writers choose the format by extension).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def write_json(path: str | Path, obj: dict[str, Any], kind: str | None = None,
               **stamp_extra: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (numpy scalars and arrays converted).

    Parameters
    ----------
    path : str or Path
        Destination.
    obj : dict
        The content.
    kind : str, optional
        Add an integrity stamp of this kind under :data:`INTEGRITY_KEY` (for files
        that a later stage reads back with :func:`read_json`).
    **stamp_extra
        Further entries of the stamp (a sidecar's stamp of its table).
    """
    plain = json.loads(json.dumps(obj, default=_json_default))
    if kind is not None:
        plain[INTEGRITY_KEY] = _stamp(kind, path, _digest_json(plain), **stamp_extra)
    write_text(path, json.dumps(plain, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    """Write a text file (UTF-8) atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_json(path: str | Path, kind: str | Sequence[str] | None = None,
              remake: Sequence[str | Path] | None = None) -> Any:
    """Read a JSON file; with ``kind``, one written by :func:`write_json` with its stamp.

    Parameters
    ----------
    path : str or Path
        The file.
    kind : str or sequence of str, optional
        The kind(s) of stamp accepted; the stamp is checked and removed from the result.
    remake : sequence of path, optional
        What :class:`DamagedFileError` names for removal (default: the file).

    Raises
    ------
    DamagedFileError
        If the file is not valid JSON, or (with ``kind``) its stamp is missing, of
        another kind or file, or its content was changed.
    FileNotFoundError
        If the file does not exist.
    """
    if kind is None:
        return _parse_json(path, remake)
    return _read_stamped(path, kind, remake)[0]


def _parse_json(path: str | Path, remake: Sequence[str | Path] | None) -> Any:
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        reason = "empty file" if not text.strip() else f"not valid JSON ({err})"
        raise DamagedFileError(path, reason, remake) from None


def _read_stamped(path: str | Path, kind: str | Sequence[str],
                  remake: Sequence[str | Path] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a stamped JSON object: the object without its stamp, and the stamp (checked)."""
    obj = _parse_json(path, remake)
    if not isinstance(obj, dict):
        raise DamagedFileError(path, "not a JSON object", remake)
    stamp = obj.pop(INTEGRITY_KEY, None)
    _check_stamp(path, stamp, kind, _digest_json(obj), remake)
    return obj, stamp
    if not isinstance(obj, dict):
        raise DamagedFileError(path, "not a JSON object", remake)
    stamp = obj.pop(INTEGRITY_KEY, None)
    _check_stamp(path, stamp, kind, _digest_json(obj), remake)
    return obj


def write_tsv(path: str | Path, table: pd.DataFrame, float_format: str = "%.10g",
              kind: str | None = None, sidecar: dict[str, Any] | None = None) -> None:
    """Write a table as TSV without index (floats with 10 significant digits).

    Parameters
    ----------
    path : str or Path
        ``*.tsv``.
    table : pandas.DataFrame
        The table.
    float_format : str
        Format of floats.
    kind : str, optional
        For a table that a later stage reads back: also write the JSON sidecar
        (:func:`sidecar_of`) with ``sidecar``'s entries and a stamp of this kind that
        records the table's file name, rows, columns and SHA-256 (read it with
        :func:`read_tsv` and the same ``kind``). The sidecar is written first, so a table
        that was not completely replaced fails the check.
    sidecar : dict, optional
        Entries of the sidecar (with ``kind``).
    """
    text = table.to_csv(sep="\t", index=False, float_format=float_format)
    if kind is not None:
        write_json(sidecar_of(path), sidecar or {}, kind, table={
            "file": Path(path).name, "rows": len(table), "columns": list(map(str, table.columns)),
            "sha256": hashlib.sha256(text.encode()).hexdigest()})
    write_text(path, text)


def sidecar_of(path: str | Path) -> Path:
    """Return the JSON sidecar of a table: ``x.tsv`` -> ``x.json``."""
    return Path(path).with_suffix(".json")


def read_tsv(path: str | Path, text: bool = False, kind: str | None = None) -> pd.DataFrame:
    """Read a TSV written by :func:`write_tsv`.

    Parameters
    ----------
    path : str or Path
        The table.
    text : bool
        Read every column as text, and empty cells as empty strings (never NaN): for
        tables of labels such as subject ids (``sub-NA`` is a valid BIDS label).
    kind : str, optional
        Check the table against the stamp of this kind in its sidecar first.

    Raises
    ------
    DamagedFileError
        With ``kind``: the sidecar is missing or damaged, or the table's bytes are not
        those the sidecar records (truncated, emptied, edited, another file).
    """
    if kind is None:
        source: Any = path
    else:
        source = _stdio.StringIO(_checked_table_text(path, kind))
    if text:
        return pd.read_csv(source, sep="\t", dtype=str, keep_default_na=False)
    return pd.read_csv(source, sep="\t")


def _checked_table_text(path: str | Path, kind: str) -> str:
    """Return the text of a table whose sidecar stamp (of ``kind``) matches its bytes."""
    path, side = Path(path), sidecar_of(path)
    both = [path, side]
    if not side.is_file():
        raise DamagedFileError(path, f"its sidecar {side.name} is missing", both)
    try:
        record = _read_stamped(side, kind, both)[1].get("table", {})
    except DamagedFileError as err:
        raise DamagedFileError(path, f"its sidecar {side.name}: {err.reason}", both) from None
    data = path.read_bytes()
    if record.get("file") != path.name:
        raise DamagedFileError(path, f"its sidecar describes {record.get('file')!r}", both)
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        rows = max(data.count(b"\n") - 1, 0)
        if not data:
            reason = "empty file"
        elif rows != record.get("rows") or not data.endswith(b"\n"):
            reason = (f"truncated or cut: {rows} complete rows where its sidecar records "
                      f"{record.get('rows')}")
        else:
            reason = "content differs from what was written (checksum mismatch)"
        raise DamagedFileError(path, reason, both)
    return data.decode("utf-8")


#: Columns of the cohort table (``qc/included.tsv``).
COHORT_COLUMNS = ("participant_id", "subject", "group")


def write_cohort(path: str | Path, table: pd.DataFrame, extra: Sequence[str] = ()) -> None:
    """Write the cohort table: one row per included subject, participants order.

    Columns :data:`COHORT_COLUMNS` (the label after ``sub-`` is ``subject``), then the
    ``extra`` columns of ``table`` as text (the covariates and the site, see
    :mod:`tda_mci.covariates`). Group stages read the subjects, their groups and
    covariates from this file.
    """
    columns = list(COHORT_COLUMNS) + [c for c in extra if c not in COHORT_COLUMNS]
    write_tsv(path, table[columns].astype(str), kind="cohort")


def read_cohort(path: str | Path) -> pd.DataFrame:
    """Read the cohort table written by :func:`write_cohort` (every value as text).

    Raises
    ------
    DamagedFileError
        If the table or its sidecar fails the integrity check.
    ValueError
        If a column of :data:`COHORT_COLUMNS` is missing.
    """
    table = read_tsv(path, text=True, kind="cohort")
    missing = [c for c in COHORT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a cohort table (missing column(s) {missing})")
    return table


def write_timeseries(
    path: str | Path, data: np.ndarray, rois: Sequence[int], sidecar: dict[str, Any]
) -> None:
    """Write a T x R time-series table and its JSON sidecar.

    Parameters
    ----------
    path : str or Path
        ``..._timeseries.tsv``; the sidecar goes beside it as ``..._timeseries.json``.
    data : numpy.ndarray, shape (T, R)
        One row per volume, one column per ROI in atlas order.
    rois : sequence of int
        ROI numbers, written as the header.
    sidecar : dict
        Metadata (RepetitionTime, NumberOfVolumes, Source, settings).
    """
    data = np.asarray(data, dtype=float)
    table = pd.DataFrame(data, columns=[str(r) for r in rois])
    # 17 significant digits: the TSV round-trips float64 exactly.
    write_tsv(path, table, float_format="%.17g", kind="timeseries", sidecar=sidecar)


def read_timeseries(path: str | Path) -> tuple[np.ndarray, list[int]]:
    """Read a time-series TSV.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
    rois : list of int
        ROI numbers from the header.

    Raises
    ------
    DamagedFileError
        If the table or its sidecar fails the integrity check.
    """
    table = read_tsv(path, kind="timeseries")
    return table.to_numpy(dtype=float), [int(c) for c in table.columns]


def read_timeseries_sidecar(path: str | Path) -> dict[str, Any]:
    """Read (and check) the sidecar of a time-series table, ``*_timeseries.json``."""
    return read_json(path, kind="timeseries", remake=[path, Path(path).with_suffix(".tsv")])


def write_diagrams(
    path: str | Path,
    diagrams: Sequence[Sequence[np.ndarray]],
    rois: Sequence[int],
    meta: dict[str, Any],
) -> None:
    """Save every ROI's persistence diagrams of one subject in one compressed file.

    Parameters
    ----------
    path : str or Path
        ``..._dgm.npz``.
    diagrams : sequence over ROIs of sequence over dimensions of (k, 2) arrays
        ``diagrams[i][q]`` holds the finite (birth, death) pairs of ROI ``i`` in H_q.
        H0's single infinite bar is implied and not stored.
    rois : sequence of int
        ROI numbers, same order as ``diagrams``.
    meta : dict
        Embedding and backend settings, stored as JSON text.
    """
    n_dims = len(diagrams[0]) if len(diagrams) else 0
    arrays: dict[str, np.ndarray] = {"rois": np.asarray(rois, dtype=np.int64)}
    for q in range(n_dims):
        parts = [np.asarray(d[q], dtype=np.float64).reshape(-1, 2) for d in diagrams]
        sizes = np.array([len(p) for p in parts], dtype=np.int64)
        arrays[f"H{q}"] = np.concatenate(parts) if parts else np.empty((0, 2))
        arrays[f"H{q}_offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    _save_arrays(path, "diagrams", meta, **arrays)


def read_diagrams(path: str | Path) -> tuple[list[list[np.ndarray]], list[int], dict[str, Any]]:
    """Load a file written by :func:`write_diagrams`.

    Returns
    -------
    diagrams : list over ROIs of list over dimensions of (k, 2) float64 arrays
    rois : list of int
    meta : dict
    """
    f, meta = _load_arrays(path, "diagrams")
    rois = f["rois"].tolist()
    dims = sorted(int(k[1:]) for k in f if k.startswith("H") and "_" not in k)
    per_dim = []
    for q in dims:
        flat, off = f[f"H{q}"], f[f"H{q}_offsets"]
        per_dim.append([flat[off[i] : off[i + 1]] for i in range(len(rois))])
    return [[per_dim[q][i] for q in range(len(dims))] for i in range(len(rois))], rois, meta


def _save_arrays(
    path: str | Path, kind: str, meta: dict[str, Any], **arrays: np.ndarray
) -> None:
    """Save named arrays to a compressed ``.npz``.

    With JSON metadata (member ``meta``) and the integrity stamp (member
    :data:`INTEGRITY_KEY`, JSON text).
    """
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta, sort_keys=True))
    stamp = _stamp(kind, path, _digest_arrays(payload))
    payload[INTEGRITY_KEY] = np.array(json.dumps(stamp, sort_keys=True))
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **payload), suffix=".npz")


def _load_arrays(path: str | Path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load and check a file written by :func:`_save_arrays`; returns ``(arrays, meta)``.

    Raises
    ------
    DamagedFileError
        If the file is not a readable npz (truncated, empty, another format), or fails
        its stamp (another kind or file, changed content).
    FileNotFoundError
        If the file does not exist.
    """
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        reason = ("empty file" if Path(path).stat().st_size == 0
                  else f"not a readable npz: {type(err).__name__}: {err}")
        raise DamagedFileError(path, reason) from None
    stamp_text = arrays.pop(INTEGRITY_KEY, None)
    try:
        stamp = None if stamp_text is None else json.loads(str(stamp_text))
    except json.JSONDecodeError:
        stamp = None
    _check_stamp(path, stamp, kind, _digest_arrays(arrays))
    return arrays, json.loads(str(arrays.pop("meta")))


# ----------------------------------------------------------------------------- PR and PS
def write_pr(
    path: str | Path,
    matrices: dict[str, np.ndarray],
    rois: dict[str, np.ndarray],
    meta: dict[str, Any],
) -> None:
    """Write one subject's inter-ROI (PR) matrices.

    Layout: for every network key ``K`` (in the order given), an array ``K`` of shape
    ``(n_dims, n, n)`` (``K[q, i, j]``: H_q Wasserstein distance between the network's
    ROIs ``i`` and ``j``, atlas order within the network) and ``K_rois`` (their atlas
    numbers); ``meta`` as JSON text.
    """
    arrays = {}
    for net, mat in matrices.items():
        arrays[net] = mat
        arrays[f"{net}_rois"] = rois[net]
    _save_arrays(path, "pr", meta, **arrays)


def read_pr(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, list[int]], dict]:
    """Read a file written by :func:`write_pr`.

    Returns
    -------
    matrices : dict of str to numpy.ndarray, shape (n_dims, n, n)
    rois : dict of str to list of int
    meta : dict
    """
    arrays, meta = _load_arrays(path, "pr")
    nets = [k for k in arrays if not k.endswith("_rois")]
    return ({k: arrays[k] for k in nets},
            {k: arrays[f"{k}_rois"].tolist() for k in nets}, meta)


def write_ps(
    path: str | Path,
    matrices: dict[int, np.ndarray],
    subjects: list[str],
    meta: dict[str, Any],
) -> None:
    """Write the inter-subject (PS) matrices of a block of ROIs.

    Layout: ``subjects`` (labels, the row order of every matrix), ``rois`` (atlas
    numbers of the block) and, per ROI ``r``, ``roi<r>`` of shape ``(n_dims, N, N)``;
    ``meta`` as JSON text.
    """
    _save_arrays(path, "ps", meta, subjects=np.asarray(subjects),
                 rois=np.asarray(list(matrices)), **{f"roi{r}": m for r, m in matrices.items()})


def read_ps(path: str | Path) -> tuple[dict[int, np.ndarray], list[str], dict[str, Any]]:
    """Read a file written by :func:`write_ps`.

    Returns
    -------
    matrices : dict of int to numpy.ndarray, shape (n_dims, N, N)
        By atlas ROI number, in file order.
    subjects : list of str
    meta : dict
    """
    arrays, meta = _load_arrays(path, "ps")
    rois = [int(r) for r in arrays["rois"].tolist()]
    return {r: arrays[f"roi{r}"] for r in rois}, arrays["subjects"].tolist(), meta


# ----------------------------------------------------------------------------- statistics
def write_pr_statistics(
    path: str | Path,
    results: dict[tuple[str, int], dict[str, np.ndarray]],
    meta: dict[str, Any],
) -> None:
    """Write the rank-sum results of one comparison.

    Layout: per network key ``K``, dimension ``q`` and result name ``x`` (``p``,
    ``p_bh``, ``p_by``, ``U``, ``effect``, ``median_a``, ``median_b``, ``significant``:
    the :func:`tda_mci.stats.compare_groups` dict), an ``(n, n)`` array ``K_Hq_x``;
    ``meta`` as JSON text.
    """
    _save_arrays(path, "pr_statistics", meta, **{
        f"{net}_H{dim}_{name}": value
        for (net, dim), res in results.items() for name, value in res.items()
    })


def read_pr_statistics(
    path: str | Path,
) -> tuple[dict[tuple[str, int], dict[str, np.ndarray]], dict[str, Any]]:
    """Read a file written by :func:`write_pr_statistics`: ``({(net, dim): result}, meta)``."""
    arrays, meta = _load_arrays(path, "pr_statistics")
    results: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    for name, value in arrays.items():
        net, dim, field = name.split("_", 2)
        results.setdefault((net, int(dim[1:])), {})[field] = value
    return results, meta


# ----------------------------------------------------------------------------- records
def write_record(path: str | Path, record: dict[str, Any], kind: str) -> None:
    """Write a classifier record as stamped JSON.

    Parameters
    ----------
    path : str or Path
        ``*_metrics.json`` or ``*_permutation.json``.
    record : dict
        Its keys are documented by the stage that makes it
        (:func:`tda_mci.model.stages.train_classifiers`,
        :func:`tda_mci.model.stages.permutation_test`).
    kind : {"metrics", "permutation"}
        Which record.
    """
    write_json(path, record, kind=kind)


def read_record(path: str | Path, kind: str) -> dict[str, Any]:
    """Read (and check) a record written by :func:`write_record` with the same ``kind``."""
    return read_json(path, kind=kind)
