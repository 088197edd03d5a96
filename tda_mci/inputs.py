"""Finding and reading each subject's input data, whatever shape it arrives in.

Input kinds (``inputs.kind`` in the configuration)
--------------------------------------------------
``fmriprep``
    fMRIPrep derivatives in BIDS layout. The preprocessed image of a subject is the one
    file ``<root>/sub-<label>/[ses-<s>/]func/sub-<label>_*_bold.nii[.gz]`` whose entities
    match ``task``, ``space`` and ``desc`` (and ``ses``, ``run``, ``res`` when given).
    Its brain mask is the file of the same name with ``desc-brain_mask``; its confounds
    are ``..._desc-confounds_timeseries.tsv`` beside it (the same entities without
    ``space``, ``res`` and ``desc``), loaded with
    :func:`nilearn.interfaces.fmriprep.load_confounds_strategy`.
``nifti``
    Preprocessed 4D images in the atlas's space found through a path pattern (e.g. FSL's
    ``filtered_func_data`` warped to MNI), with optional patterns for a brain mask and a
    confounds TSV (one row per volume, a header, every column a regressor).
``timeseries``
    Precomputed ROI series, one TSV or CSV per subject (T rows; header = the atlas's ROI
    numbers), with an optional JSON sidecar of the same stem recording
    ``RepetitionTime``.
``network_csv``
    The layout of the paper's released code: a folder per network with one CSV per
    subject, no header, one *row* per ROI of that network (in atlas order within the
    network) and one column per volume.

Path patterns
-------------
A pattern is a path with ``{field}`` placeholders filled from the subject's row of
``participants.tsv`` (``{subject}`` is the label after ``sub-``, ``{participant_id}`` the
full id, ``{group}`` and any other column by name) and, for ``network_csv``, ``{network}``
(the network key, e.g. ``DMN``). Values put into a path must be letters, digits, ``.``,
``_`` or ``-``. A pattern may hold shell wildcards (``*``, ``?``, ``[...]``); it must then
match exactly one file.

Every problem with one subject's files raises
:class:`tda_mci.extract.SubjectDataError` (a :class:`ValueError`) naming the subject, the
file and the reason; configuration errors raise a plain :class:`ValueError`.
"""

from __future__ import annotations

import glob
import json
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tda_mci.extract import SubjectDataError, extract_timeseries, validate_timeseries

#: Input kinds understood by :func:`resolve_subject_inputs` and :func:`load_subject_series`.
INPUT_KINDS = ("demo", "fmriprep", "nifti", "timeseries", "network_csv")

#: nilearn denoising strategies for fMRIPrep confounds, plus ``"none"``.
DENOISE_STRATEGIES = ("simple", "scrubbing", "compcor", "ica_aroma", "none")

#: Entities of a preprocessed fMRIPrep image that select it, and their config keys.
FMRIPREP_SELECTORS = {"task": "task", "space": "space", "desc": "desc", "ses": "session",
                      "run": "run", "res": "res"}

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._-]+$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_BIDS_EXT = re.compile(r"^(?P<stem>[^.]+)(?P<ext>\..+)?$")


# ----------------------------------------------------------------------------- BIDS names
def parse_bids_name(name: str) -> tuple[dict[str, str], str, str]:
    """Split a BIDS file name into entities, suffix and extension.

    Parameters
    ----------
    name : str
        A file name (folders are ignored), e.g.
        ``sub-01_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz``.

    Returns
    -------
    entities : dict of str to str
        ``{"sub": "01", "task": "rest", ...}`` in file order.
    suffix : str
        ``"bold"``.
    extension : str
        ``".nii.gz"`` (everything from the first dot).

    Raises
    ------
    ValueError
        If a part before the suffix is not ``key-value``.
    """
    match = _BIDS_EXT.match(Path(name).name)
    if match is None:
        raise ValueError(f"{name!r} is not a BIDS file name")
    parts = match["stem"].split("_")
    entities = {}
    for part in parts[:-1]:
        key, sep, value = part.partition("-")
        if not sep or not key or not value:
            raise ValueError(f"{name!r} is not a BIDS file name (part {part!r})")
        entities[key] = value
    return entities, parts[-1], match["ext"] or ""


def _bids_join(entities: Mapping[str, str], suffix: str, extension: str) -> str:
    return "_".join([f"{k}-{v}" for k, v in entities.items()] + [suffix]) + extension


def find_fmriprep_files(
    root: str | Path,
    subject: str,
    *,
    task: str = "rest",
    space: str | None = "MNI152NLin2009cAsym",
    desc: str = "preproc",
    session: str | None = None,
    run: str | int | None = None,
    res: str | int | None = None,
    brain_mask: bool = True,
    confounds: bool = True,
) -> dict[str, str]:
    """Find one subject's preprocessed image, brain mask and confounds in fMRIPrep output.

    Parameters
    ----------
    root : str or Path
        The fMRIPrep derivatives folder (holding ``sub-<label>/``).
    subject : str
        Subject label (without ``sub-``).
    task, space, desc : str
        Entities the image must carry (``space=None``: the image has no space entity).
    session, run, res : str or int, optional
        Further entities the image must carry; ``None`` accepts any value (and an error
        lists the candidates when that leaves more than one image).
    brain_mask, confounds : bool
        Also locate the brain mask / the confounds TSV (their absence is then an error).

    Returns
    -------
    dict
        ``{"bold": path}`` plus ``"mask"`` and ``"confounds"`` when requested (paths as
        str).

    Raises
    ------
    SubjectDataError
        When no image or several images match (the message lists the candidates), or the
        mask or confounds file is missing.
    """
    folder = Path(root) / f"sub-{subject}"
    wanted = {"sub": subject, "task": task, "desc": desc, "ses": session,
              "run": None if run is None else str(run), "res": None if res is None else str(res)}
    hits = []
    candidates = sorted(folder.glob(f"**/sub-{subject}_*_bold.nii*")) if folder.is_dir() else []
    for path in candidates:
        try:
            entities, suffix, ext = parse_bids_name(path.name)
        except ValueError:
            continue
        if suffix != "bold" or ext not in (".nii", ".nii.gz"):
            continue
        if any(v is not None and entities.get(k) != v for k, v in wanted.items()):
            continue
        if entities.get("space") != space:
            continue
        hits.append(path)
    selector = ", ".join(f"{k}-{v}" for k, v in {**wanted, "space": space}.items()
                         if v is not None)
    if not hits:
        seen = ", ".join(p.name for p in candidates[:5]) or "none"
        raise SubjectDataError(
            subject, folder,
            f"no preprocessed image matches {selector} (bold images found: {seen})",
        )
    if len(hits) > 1:
        raise SubjectDataError(
            subject, folder,
            f"{len(hits)} preprocessed images match {selector}: "
            f"{', '.join(p.name for p in hits)}; set session, run or res in the "
            "configuration (inputs.fmriprep) to select one",
        )
    bold = hits[0]
    entities, _, ext = parse_bids_name(bold.name)
    out = {"bold": str(bold)}
    if brain_mask:
        mask = bold.with_name(_bids_join({**entities, "desc": "brain"}, "mask", ext))
        if not mask.is_file():
            raise SubjectDataError(
                subject, mask, "brain mask not found (expected beside the image)"
            )
        out["mask"] = str(mask)
    if confounds:
        base = {k: v for k, v in entities.items() if k not in ("space", "res", "den", "cohort",
                                                                "desc")}
        names = [_bids_join({**base, "desc": "confounds"}, s, ".tsv")
                 for s in ("timeseries", "regressors")]
        found = [bold.with_name(n) for n in names if bold.with_name(n).is_file()]
        if not found:
            raise SubjectDataError(
                subject, bold.with_name(names[0]),
                "confounds file not found (expected beside the image); set "
                "inputs.fmriprep.denoise_strategy to none to extract without confounds",
            )
        out["confounds"] = str(found[0])
    return out


# ----------------------------------------------------------------------------- patterns
def pattern_fields(pattern: str) -> list[str]:
    """Names of the ``{field}`` placeholders of a path pattern, in order."""
    try:
        return [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as err:
        raise ValueError(f"path pattern {pattern!r} is malformed ({err})") from err


def format_pattern(pattern: str, fields: Mapping[str, Any]) -> str:
    """Fill a path pattern's placeholders.

    Parameters
    ----------
    pattern : str
        Path with ``{name}`` placeholders.
    fields : mapping
        Values by name (a participant's row, plus ``network`` where relevant).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For a placeholder with no value, a format spec, or a value that is empty or
        holds characters other than letters, digits, ``.``, ``_`` and ``-``.
    """
    values = {}
    for name in pattern_fields(pattern):
        if not name.isidentifier():
            raise ValueError(f"path pattern {pattern!r}: placeholder {{{name}}} is not a name")
        if name not in fields:
            raise ValueError(
                f"path pattern {pattern!r}: no value for {{{name}}}; available: "
                f"{sorted(fields)}"
            )
        value = fields[name]
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        if not _SAFE_VALUE.match(text) or text in (".", ".."):
            raise ValueError(
                f"path pattern {pattern!r}: value {text!r} of {{{name}}} cannot go into a "
                "path (letters, digits, '.', '_' and '-' only)"
            )
        values[name] = text
    return pattern.format(**values)


def resolve_pattern(pattern: str, fields: Mapping[str, Any], subject: str, what: str) -> str:
    """Fill a pattern and return the one existing file it names.

    Parameters
    ----------
    pattern : str
        Path pattern (see the module docstring); may hold shell wildcards.
    fields : mapping
        Placeholder values.
    subject : str
        Subject label, for error messages.
    what : str
        What the file is (``"image"``, ``"confounds"`` ...), for error messages.

    Returns
    -------
    str
        The path.

    Raises
    ------
    SubjectDataError
        When no file or several files match.
    """
    path = format_pattern(pattern, fields)
    if _GLOB_CHARS.search(path):
        hits = sorted(p for p in glob.glob(path) if Path(p).is_file())
        if not hits:
            raise SubjectDataError(subject, path, f"no {what} file matches the pattern")
        if len(hits) > 1:
            raise SubjectDataError(
                subject, path,
                f"{len(hits)} {what} files match the pattern: {', '.join(hits[:10])}",
            )
        return hits[0]
    if not Path(path).is_file():
        raise SubjectDataError(subject, path, f"{what} file not found")
    return path


def _participant_fields(participant: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(participant)
    pid = str(fields["participant_id"])
    fields.setdefault("subject", pid[4:] if pid.startswith("sub-") else pid)
    return fields


def resolve_subject_inputs(
    spec: Mapping[str, Any], participant: Mapping[str, Any], network_keys: Sequence[str] = ()
) -> dict[str, str | list[str]]:
    """Return one subject's input files, checked to exist and to be unambiguous.

    Parameters
    ----------
    spec : mapping
        The ``inputs`` section of the configuration: ``kind`` and the keys of that kind
        (``fmriprep``: a mapping with ``root, task, space, desc, session, run, res,
        denoise_strategy, brain_mask``; ``nifti``: ``bold`` and optional ``mask``,
        ``confounds``; ``timeseries``: ``timeseries``; ``network_csv``: ``network_csv``).
    participant : mapping
        The subject's row of the participants table (``participant_id``, ``group`` ...).
    network_keys : sequence of str
        Network keys in order (``network_csv`` only).

    Returns
    -------
    dict
        ``fmriprep``/``nifti``: ``bold`` and, when used, ``mask`` and ``confounds``;
        ``timeseries``: ``timeseries`` and, when the table has one, its JSON ``sidecar``;
        ``network_csv``: ``network_csv``, a list of paths in ``network_keys`` order.

    Raises
    ------
    SubjectDataError
        A file is missing or a pattern matches several files.
    ValueError
        For an unknown kind or a bad pattern.
    """
    kind = spec.get("kind")
    fields = _participant_fields(participant)
    subject = str(fields["subject"])
    if kind == "fmriprep":
        f = spec.get("fmriprep") or {}
        if not f.get("root"):
            raise ValueError("inputs.kind is fmriprep but inputs.fmriprep.root is not set")
        strategy = f.get("denoise_strategy", "simple")
        if strategy not in DENOISE_STRATEGIES:
            raise ValueError(
                f"inputs.fmriprep.denoise_strategy = {strategy!r}; expected one of "
                f"{DENOISE_STRATEGIES}"
            )
        return find_fmriprep_files(
            f["root"], subject, task=f.get("task", "rest"),
            space=f.get("space", "MNI152NLin2009cAsym"), desc=f.get("desc", "preproc"),
            session=f.get("session"), run=f.get("run"), res=f.get("res"),
            brain_mask=bool(f.get("brain_mask", True)), confounds=strategy != "none",
        )
    if kind == "nifti":
        if not spec.get("bold"):
            raise ValueError("inputs.kind is nifti but inputs.bold is not set")
        out = {"bold": resolve_pattern(spec["bold"], fields, subject, "image")}
        for key, what in (("mask", "brain mask"), ("confounds", "confounds")):
            if spec.get(key):
                out[key] = resolve_pattern(spec[key], fields, subject, what)
        return out
    if kind == "timeseries":
        if not spec.get("timeseries"):
            raise ValueError("inputs.kind is timeseries but inputs.timeseries is not set")
        table = resolve_pattern(spec["timeseries"], fields, subject, "time-series")
        sidecar = Path(table).with_suffix(".json")
        return {"timeseries": table, **({"sidecar": str(sidecar)} if sidecar.is_file() else {})}
    if kind == "network_csv":
        pattern = spec.get("network_csv")
        if not pattern:
            raise ValueError("inputs.kind is network_csv but inputs.network_csv is not set")
        if "network" not in pattern_fields(pattern):
            raise ValueError(f"inputs.network_csv = {pattern!r} needs a {{network}} placeholder")
        return {"network_csv": [
            resolve_pattern(pattern, {**fields, "network": key}, subject, f"{key} network CSV")
            for key in network_keys
        ]}
    raise ValueError(f"inputs.kind = {kind!r}; expected one of {INPUT_KINDS[1:]} here")


def resolve_cohort_inputs(
    spec: Mapping[str, Any], participants: pd.DataFrame, network_keys: Sequence[str] = ()
) -> dict[str, dict[str, str | list[str]]]:
    """:func:`resolve_subject_inputs` for every participant; all problems in one error.

    Parameters
    ----------
    spec : mapping
        The ``inputs`` section of the configuration.
    participants : pandas.DataFrame
        From :func:`tda_mci.cohort.load_participants` (with a ``subject`` column).
    network_keys : sequence of str
        Network keys in order (``network_csv`` only).

    Returns
    -------
    dict
        Subject label -> that subject's files.

    Raises
    ------
    ValueError
        Listing every subject whose files are missing or ambiguous (one line each:
        subject, file or pattern, reason), or a configuration error.
    """
    out, problems = {}, []
    for row in participants.to_dict(orient="records"):
        try:
            out[str(row["subject"])] = resolve_subject_inputs(spec, row, network_keys)
        except SubjectDataError as err:
            problems.append(str(err))
    if problems:
        head = f"{len(problems)} of {len(participants)} subject(s) have no usable input files"
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20
                                 else [])
        raise ValueError(head + ":\n  " + "\n  ".join(shown))
    return out


# ----------------------------------------------------------------------------- reading
def _read_table(path: str | Path, subject: str, header: bool) -> pd.DataFrame:
    sep = "," if str(path).lower().endswith(".csv") else "\t"
    try:
        return pd.read_csv(path, sep=sep, header=0 if header else None)
    except FileNotFoundError:
        raise SubjectDataError(subject, path, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SubjectDataError(subject, path, f"unreadable table ({err})") from err


def _numeric(table: pd.DataFrame, subject: str, path: Any) -> np.ndarray:
    try:
        return table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise SubjectDataError(subject, path, f"values are not numeric ({err})") from err


def read_series_table(path: str | Path, subject: str) -> tuple[np.ndarray, list[str], float | None]:
    """Read a precomputed T x R time-series table and its sidecar's repetition time.

    Parameters
    ----------
    path : str or Path
        ``.tsv`` (tab-separated) or ``.csv`` (comma-separated) with one header row of ROI
        numbers and one row per volume.
    subject : str
        Subject label, for error messages.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
    header : list of str
        Column names as written (checked against the atlas by
        :func:`tda_mci.extract.validate_timeseries`).
    repetition_time : float or None
        ``RepetitionTime`` from a JSON file of the same stem beside the table, if any.

    Raises
    ------
    SubjectDataError
        Unreadable file, non-numeric values, or an unreadable sidecar.
    """
    table = _read_table(path, subject, header=True)
    data = _numeric(table, subject, path)
    sidecar = Path(path).with_suffix(".json")
    tr = None
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise SubjectDataError(subject, sidecar, f"unreadable JSON sidecar ({err})") from err
        if isinstance(meta, dict) and meta.get("RepetitionTime") is not None:
            try:
                tr = float(meta["RepetitionTime"])
            except (TypeError, ValueError):
                raise SubjectDataError(
                    subject, sidecar, f"RepetitionTime = {meta['RepetitionTime']!r} is not a number"
                ) from None
    return data, [str(c) for c in table.columns], tr


def read_network_csvs(
    files: Sequence[str | Path], atlas: pd.DataFrame, subject: str
) -> tuple[np.ndarray, list[int]]:
    """Assemble a T x R table from the paper's layout: one CSV per network, rows = ROIs.

    Parameters
    ----------
    files : sequence of str or Path
        One CSV per network, in the order of :func:`tda_mci.atlas.networks` (sorted
        network keys). Each has no header, one row per ROI of the network in atlas order
        and one column per volume (as the released code reads them with
        ``pandas.read_csv(header=None)``).
    atlas : pandas.DataFrame
        From :func:`tda_mci.atlas.load_atlas`.
    subject : str
        Subject label, for error messages.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
        Columns in atlas order.
    rois : list of int
        The atlas's ROI numbers.

    Raises
    ------
    SubjectDataError
        Unreadable or non-numeric file, a row count other than the network's ROI count,
        or networks of different lengths.
    """
    from tda_mci.atlas import networks

    nets = networks(atlas)
    if len(files) != len(nets):
        raise ValueError(f"{len(files)} network files for {len(nets)} networks {list(nets)}")
    out = np.full((0, len(atlas)), np.nan)
    length = None
    for (key, idx), path in zip(nets.items(), files, strict=True):
        block = _numeric(_read_table(path, subject, header=False), subject, path)
        if block.shape[0] != len(idx):
            raise SubjectDataError(
                subject, path,
                f"{block.shape[0]} rows but network {key} has {len(idx)} ROIs in the atlas "
                "(expected one row per ROI, one column per volume, no header)",
            )
        if length is None:
            length = block.shape[1]
            out = np.full((length, len(atlas)), np.nan)
        elif block.shape[1] != length:
            raise SubjectDataError(
                subject, path,
                f"{block.shape[1]} volumes (columns) but the {list(nets)[0]} file has {length}",
            )
        out[:, idx] = block.T
    return out, [int(r) for r in atlas["roi"]]


def read_confounds_table(path: str | Path, subject: str) -> pd.DataFrame:
    """Read a plain confounds TSV (``nifti`` inputs): a header, one row per volume.

    Raises
    ------
    SubjectDataError
        Unreadable file, non-numeric values, or NaN/Inf (the message names the columns).
    """
    table = _read_table(path, subject, header=True)
    values = _numeric(table, subject, path)
    bad = ~np.isfinite(values).all(axis=0)
    if bad.any():
        raise SubjectDataError(
            subject, path, f"confounds hold NaN or Inf in column(s) {list(table.columns[bad])}"
        )
    return pd.DataFrame(values, columns=[str(c) for c in table.columns])


def load_fmriprep_confounds(
    bold: str | Path, strategy: str, subject: str
) -> tuple[pd.DataFrame | None, np.ndarray | None, dict[str, Any]]:
    """Confounds and sample mask of an fMRIPrep image through nilearn.

    Calls :func:`nilearn.interfaces.fmriprep.load_confounds_strategy` with
    ``denoise_strategy=strategy``, which finds the confounds file beside the image.

    Parameters
    ----------
    bold : str or Path
        The preprocessed image (fMRIPrep name).
    strategy : {'simple', 'scrubbing', 'compcor', 'ica_aroma', 'none'}
        nilearn's preset; ``'none'`` returns no confounds and no sample mask.
    subject : str
        Subject label, for error messages.

    Returns
    -------
    confounds : pandas.DataFrame or None
        One row per volume of the image.
    sample_mask : numpy.ndarray of int or None
        Indices of the volumes kept (non-steady-state and, for ``scrubbing``, high-motion
        volumes removed); ``None`` keeps all.
    info : dict
        ``DenoiseStrategy``, ``ConfoundColumns`` and ``MeanFramewiseDisplacement``
        (from the confounds file when it has ``framewise_displacement``, else ``None``).

    Raises
    ------
    ValueError
        For an unknown strategy.
    SubjectDataError
        When nilearn cannot find or use the confounds.
    """
    if strategy not in DENOISE_STRATEGIES:
        raise ValueError(f"denoise strategy {strategy!r}; expected one of {DENOISE_STRATEGIES}")
    info: dict[str, Any] = {"DenoiseStrategy": strategy, "ConfoundColumns": [],
                            "MeanFramewiseDisplacement": None}
    if strategy == "none":
        return None, None, info
    import warnings

    from nilearn.interfaces.fmriprep import load_confounds_strategy

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            confounds, sample_mask = load_confounds_strategy(str(bold), denoise_strategy=strategy)
    except (ValueError, KeyError, OSError, pd.errors.ParserError) as err:
        raise SubjectDataError(
            subject, bold, f"cannot load fMRIPrep confounds ({strategy}): {err}"
        ) from err
    info["ConfoundColumns"] = [str(c) for c in confounds.columns]
    entities, _, _ = parse_bids_name(Path(bold).name)
    base = {k: v for k, v in entities.items() if k not in ("space", "res", "den", "cohort",
                                                            "desc")}
    raw = Path(bold).with_name(_bids_join({**base, "desc": "confounds"}, "timeseries", ".tsv"))
    if raw.is_file():
        fd = pd.read_csv(raw, sep="\t", usecols=lambda c: c == "framewise_displacement")
        if "framewise_displacement" in fd:
            info["MeanFramewiseDisplacement"] = float(np.nanmean(fd["framewise_displacement"]))
    if sample_mask is not None:
        sample_mask = np.asarray(sample_mask, dtype=np.int64)
    return confounds, sample_mask, info


def embedding_min_volumes(dimension: int, delay: int) -> int:
    """Fewest volumes that give a delay embedding of at least two points.

    A series of T volumes gives ``T - (dimension - 1) * delay`` points.
    """
    return (int(dimension) - 1) * int(delay) + 2


def load_subject_series(
    kind: str,
    sources: Mapping[str, Any],
    atlas: pd.DataFrame,
    *,
    subject: str,
    t_r: float,
    min_volumes: int = 3,
    embedding: tuple[int, int] = (3, 1),
    extraction: Mapping[str, Any] | None = None,
    denoise_strategy: str = "simple",
    atlas_name: str = "dosenbach160",
    tr_tolerance: float = 0.01,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One subject's checked T x R ROI series and sidecar, from any input kind.

    Parameters
    ----------
    kind : {'fmriprep', 'nifti', 'timeseries', 'network_csv'}
        Input kind (``demo`` images are ``nifti``).
    sources : mapping
        Files as returned by :func:`resolve_subject_inputs`: ``bold`` (and optional
        ``mask``, ``confounds``), ``timeseries``, or ``network_csv`` (list in network
        order).
    atlas : pandas.DataFrame
        From :func:`tda_mci.atlas.load_atlas`; columns of the result follow its rows.
    subject : str
        Subject label.
    t_r : float
        Repetition time in seconds expected of the data (checked against the image
        header, or a time-series sidecar's ``RepetitionTime``).
    min_volumes : int
        Fewest volumes (after removal of censored volumes) accepted.
    embedding : (int, int)
        Window length and delay of the embedding; fewer volumes than
        :func:`embedding_min_volumes` is an error.
    extraction : mapping, optional
        Keyword arguments of :func:`tda_mci.extract.extract_timeseries` (radius,
        standardize, detrend, low_pass, high_pass) for image inputs.
    denoise_strategy : str
        nilearn preset for fMRIPrep confounds (see :func:`load_fmriprep_confounds`).
    atlas_name : str
        Recorded in the sidecar.
    tr_tolerance : float
        Allowed absolute TR difference in seconds.

    Returns
    -------
    data : numpy.ndarray, shape (T, R), float64
    sidecar : dict
        ``Subject``, ``Source``, ``InputKind``, ``RepetitionTime``, ``NumberOfVolumes``,
        ``Atlas``, ``ROIs`` and, for images, everything
        :func:`tda_mci.extract.extract_timeseries` records (plus ``DenoiseStrategy``,
        ``ConfoundColumns``, ``MeanFramewiseDisplacement`` for fMRIPrep).

    Raises
    ------
    SubjectDataError
        Naming subject, file and reason, for any problem with the subject's data.
    ValueError
        For a bad argument.
    """
    needed = embedding_min_volumes(*embedding)
    extraction = dict(extraction or {})
    if kind in ("fmriprep", "nifti", "demo"):
        bold = str(sources["bold"])
        confounds, sample_mask, info = None, None, {}
        if kind == "fmriprep":
            confounds, sample_mask, info = load_fmriprep_confounds(bold, denoise_strategy,
                                                                   subject)
        elif sources.get("confounds"):
            confounds = read_confounds_table(sources["confounds"], subject)
            info = {"ConfoundColumns": list(confounds.columns),
                    "ConfoundsFile": str(sources["confounds"])}
        data, sidecar = extract_timeseries(
            bold, atlas, t_r=t_r, confounds=confounds, sample_mask=sample_mask,
            mask_img=sources.get("mask"), subject=subject, min_volumes=min_volumes,
            tr_tolerance=tr_tolerance, atlas_name=atlas_name, **extraction,
        )
        sidecar.update(info)
        where = bold
    elif kind in ("timeseries", "network_csv"):
        if kind == "timeseries":
            where = str(sources["timeseries"])
            raw, header, file_tr = read_series_table(where, subject)
            if file_tr is not None and abs(file_tr - float(t_r)) > tr_tolerance:
                raise SubjectDataError(
                    subject, Path(where).with_suffix(".json"),
                    f"RepetitionTime is {file_tr:g} s but the configuration says "
                    f"t_r = {float(t_r):g} s",
                )
        else:
            files = [str(p) for p in sources["network_csv"]]
            where = files[0]
            raw, header = read_network_csvs(files, atlas, subject)
            file_tr = None
        data, rois = validate_timeseries(raw, header, atlas, subject=subject, path=where,
                                         min_volumes=min_volumes)
        sidecar = {
            "Subject": subject,
            "Source": where if kind == "timeseries" else [str(p) for p in sources["network_csv"]],
            "RepetitionTime": float(t_r),
            "SourceRepetitionTime": file_tr,
            "NumberOfVolumes": int(data.shape[0]),
            "Atlas": atlas_name,
            "ROIs": rois,
            "Imported": True,
        }
    else:
        raise ValueError(f"kind = {kind!r}; expected one of {INPUT_KINDS}")
    if data.shape[0] < needed:
        raise SubjectDataError(
            subject, where,
            f"{data.shape[0]} volumes kept; the embedding (window {embedding[0]}, delay "
            f"{embedding[1]}) needs at least {needed}",
        )
    sidecar["InputKind"] = kind
    sidecar["MinimumVolumes"] = max(int(min_volumes), needed)
    return data, sidecar


def check_atlas_networks(atlas: pd.DataFrame, source: str = "atlas") -> None:
    """Every network needs at least two ROIs (a pair for the PR matrices and tests).

    Raises
    ------
    ValueError
        Naming the networks with fewer than two ROIs.
    """
    from tda_mci.atlas import networks

    small = {k: len(v) for k, v in networks(atlas).items() if len(v) < 2}
    if small:
        raise ValueError(
            f"{source}: network(s) with fewer than 2 ROIs have no ROI pair to compare: {small}"
        )
