"""Finding each subject's input files before the run, whatever shape they arrive in.

Input kinds (``inputs.kind`` in the configuration)
--------------------------------------------------
``fmriprep``
    fMRIPrep derivatives in BIDS layout. The preprocessed image of a subject is the one
    file ``<root>/sub-<label>/[ses-<s>/]func/sub-<label>_*_bold.nii[.gz]`` whose entities
    match ``task``, ``space`` and ``desc`` (and ``ses``, ``run``, ``res`` when given;
    ``session`` and ``run`` may name a participants column, ``"{VISCODE}"``, to choose
    per subject). When several images still match, ``scan_choice`` decides: ``error``
    (default; the message lists them), ``first`` or ``last`` in natural order of
    (session, run), e.g. ``ses-bl`` < ``ses-m06`` < ``ses-m12``, ``run-2`` < ``run-10``.
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
:class:`tda_mci.validation.SubjectDataError` (a :class:`ValueError`) naming the subject, the
file and the reason; configuration errors raise a plain :class:`ValueError`.
"""

from __future__ import annotations

import glob
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tda_mci.inputs.readers import DENOISE_STRATEGIES, confounds_files
from tda_mci.paths import SCAN_ENTITIES, bids_join, parse_bids_name
from tda_mci.validation import SubjectDataError

#: Input kinds understood by :func:`resolve_subject_inputs` and :func:`load_subject_series`.
INPUT_KINDS = ("demo", "fmriprep", "nifti", "timeseries", "network_csv")


_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._-]+$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def _is_wanted_bold(path: Path, wanted: Mapping[str, str | None], space: str | None) -> bool:
    """Whether a file is a preprocessed image with the wanted entities and space.

    An entity of ``wanted`` that is ``None`` accepts any value; ``space=None`` wants an
    image without a space entity.
    """
    try:
        entities, suffix, ext = parse_bids_name(path.name)
    except ValueError:
        return False
    if suffix != "bold" or ext not in (".nii", ".nii.gz"):
        return False
    if any(v is not None and entities.get(k) != v for k, v in wanted.items()):
        return False
    return entities.get("space") == space


#: How :func:`find_fmriprep_files` picks among several matching images.
SCAN_CHOICES = ("error", "first", "last")


def _natural(text: str | None) -> tuple:
    """Sort key of an entity value: digit runs compare as numbers (``m6`` < ``m12``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.split(r"(\d+)", text or "") if p)


def _scan_order(path: Path) -> tuple:
    """Natural order of an image by session, then run, then name."""
    entities = parse_bids_name(path.name)[0]
    return _natural(entities.get("ses")), _natural(entities.get("run")), path.name


def _select_bold(
    folder: Path, subject: str, wanted: Mapping[str, str | None], space: str | None,
    choice: str = "error",
) -> Path:
    """Return the one preprocessed image of a subject's folder that matches.

    ``choice`` (:data:`SCAN_CHOICES`) picks among several matches. Raises
    :class:`SubjectDataError` listing the candidates when none match, or several under
    ``choice="error"``.
    """
    candidates = sorted(folder.glob(f"**/sub-{subject}_*_bold.nii*")) if folder.is_dir() else []
    hits = [path for path in candidates if _is_wanted_bold(path, wanted, space)]
    selector = ", ".join(f"{k}-{v}" for k, v in {**wanted, "space": space}.items()
                         if v is not None)
    if not hits:
        seen = ", ".join(p.name for p in candidates[:5]) or "none"
        raise SubjectDataError(
            subject, folder,
            f"no preprocessed image matches {selector} (bold images found: {seen})",
        )
    if len(hits) > 1 and choice == "error":
        raise SubjectDataError(
            subject, folder,
            f"{len(hits)} preprocessed images match {selector}: "
            f"{', '.join(p.name for p in hits)}; set session, run or res in the "
            "configuration (inputs.fmriprep) to select one, or scan_choice: first / last",
        )
    hits = sorted(hits, key=_scan_order)
    return hits[-1] if choice == "last" else hits[0]


def _brain_mask_beside(bold: Path, subject: str) -> Path:
    """Return the brain mask of an fMRIPrep image; SubjectDataError when it is missing."""
    entities, _, ext = parse_bids_name(bold.name)
    mask = bold.with_name(bids_join({**entities, "desc": "brain"}, "mask", ext))
    if not mask.is_file():
        raise SubjectDataError(subject, mask, "brain mask not found (expected beside the image)")
    return mask


def _confounds_beside(bold: Path, subject: str) -> Path:
    """Return the confounds TSV of an fMRIPrep image; SubjectDataError when it is missing."""
    names = confounds_files(bold)
    found = [path for path in names if path.is_file()]
    if not found:
        raise SubjectDataError(
            subject, names[0],
            "confounds file not found (expected beside the image); set "
            "inputs.fmriprep.denoise_strategy to none to extract without confounds",
        )
    return found[0]


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
    scan_choice: str = "error",
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
        Further entities the image must carry; ``None`` accepts any value.
    scan_choice : {"error", "first", "last"}
        When several images match: an error listing them, or the first / last in natural
        order of (session, run).
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
    if scan_choice not in SCAN_CHOICES:
        raise ValueError(f"scan_choice = {scan_choice!r}; expected one of {SCAN_CHOICES}")
    bold = _select_bold(folder, subject, wanted, space, scan_choice)
    out = {"bold": str(bold)}
    if brain_mask:
        out["mask"] = str(_brain_mask_beside(bold, subject))
    if confounds:
        out["confounds"] = str(_confounds_beside(bold, subject))
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


def _per_subject(value: str | int | None, fields: Mapping[str, Any]) -> str | None:
    """Return an entity selector for one subject: a literal, or ``{column}`` of its row."""
    return None if value is None else format_pattern(str(value), fields)


def scan_entities(subject: str, files: Mapping[str, Any]) -> dict[str, str | None]:
    """Return the entities of a subject's scan, which every output name of it keeps.

    Parameters
    ----------
    subject : str
        Subject label (without ``sub-``).
    files : mapping
        The subject's input files by role (:func:`resolve_subject_inputs`; ``bold`` for
        images, ``timeseries`` for an imported table).

    Returns
    -------
    dict
        ``ses``, ``task``, ``run`` and ``space`` (:data:`tda_mci.paths.SCAN_ENTITIES`)
        as the BIDS name of the image or table gives them (``None`` where it has none);
        ``task`` is ``"rest"`` when the name has none, or when the file has no BIDS
        name of this subject (e.g. FSL's ``filtered_func_data.nii.gz``, or the
        per-network CSVs of ``network_csv``): the method's input is resting state.
    """
    source = files.get("bold") or files.get("timeseries")
    found: dict[str, str] = {}
    if isinstance(source, str):
        try:
            found = parse_bids_name(source)[0]
        except ValueError:
            found = {}
        if found.get("sub") != subject:
            found = {}
    out = {key: found.get(key) for key in SCAN_ENTITIES}
    out["task"] = out["task"] or "rest"
    return out


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
            session=_per_subject(f.get("session"), fields),
            run=_per_subject(f.get("run"), fields), res=f.get("res"),
            scan_choice=f.get("scan_choice", "error"),
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
