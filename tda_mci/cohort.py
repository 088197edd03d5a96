"""The cohort: participants table, subject labels and group comparisons.

The participants table is read and checked once, before the run (the workflow) and
again in the stages that read it; after screening, the included subjects and their
groups travel between stages as one table file (:func:`tda_mci.io.write_cohort`), and
each stage pairs its input files with the cohort's subjects by the ``sub-`` entity of
the file names (:func:`files_by_subject`), never by their position in a list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tda_mci.paths import by_entity

_SUBJECT = re.compile(r"^sub-[A-Za-z0-9]+$")


def load_participants(
    path: str | Path,
    group_column: str = "group",
    group_map: Mapping[str, str] | None = None,
    participant_label: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read and check a BIDS ``participants.tsv``.

    Parameters
    ----------
    path : str or Path
        Tab-separated file with at least ``participant_id`` and the group column.
    group_column : str
        Column with each participant's diagnostic group (``inputs.group_column``, e.g.
        ADNI's ``DX_bl``).
    group_map : mapping of str to str, optional
        Study group of each label of ``group_column`` (``inputs.group_map``). A
        participant whose label is not mapped gets group ``""``: no comparison holds it,
        so it is not analysed (:func:`compared_participants`). None: the labels are the
        groups.
    participant_label : sequence of str, optional
        Keep only these participants (labels without ``sub-``; ``inputs.participant_label``).

    Returns
    -------
    pandas.DataFrame
        The table as read, every value as text (no value is read as missing), plus the
        columns ``group`` (the study group; it replaces a column of that name),
        ``source_group`` (the label of ``group_column``) and ``subject`` (the label after
        ``sub-``, used in file names and as the Snakemake wildcard).

    Raises
    ------
    ValueError
        An empty or header-only file, a missing column, malformed or duplicated
        participant ids, a participant without group, a selected label that is not in
        the file; the message names the file and the offending values.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"participants file {path} does not exist")
    try:
        # every value as text: sub-NA, sub-nan, sub-0001 and sub-1e3 are valid labels
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"participants file {path} is empty") from None
    if table.empty:
        raise ValueError(f"participants file {path} lists no participants (a header only)")
    if group_column not in table.columns:
        raise ValueError(f"{path}: no column {group_column!r} (inputs.group_column); columns: "
                         f"{list(table.columns)}")
    table = table.copy()
    table["source_group"] = table[group_column]
    if group_map is not None:
        table["group"] = table[group_column].map(dict(group_map)).fillna("")
    else:
        table["group"] = table[group_column]
    table = check_participants(table, source=str(path))
    if participant_label is not None:
        wanted = [str(label) for label in participant_label]
        unknown = sorted(set(wanted) - set(table["subject"]))
        if unknown:
            raise ValueError(f"{path}: inputs.participant_label names participants not in the "
                             f"file: {unknown}")
        table = table[table["subject"].isin(wanted)].reset_index(drop=True)
    return table


def check_participants(table: pd.DataFrame, source: str = "participants table") -> pd.DataFrame:
    """Check ids and groups of a participants table; add the ``subject`` column.

    The group of a participant is ``source_group`` when the table has that column (a
    mapped group may be empty: not analysed), else ``group``. See :func:`load_participants`.
    """
    missing = [c for c in ("participant_id", "group") if c not in table.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}")
    ids = table["participant_id"].astype(str)
    bad = [i for i in ids if not _SUBJECT.match(i)]
    if bad:
        raise ValueError(f"{source}: participant_id must match sub-<alphanumeric>: {bad[:5]}")
    dup = ids[ids.duplicated()].tolist()
    if dup:
        raise ValueError(f"{source}: duplicated participant_id {sorted(set(dup))}")
    label = table["source_group" if "source_group" in table.columns else "group"]
    no_group = label.isna() | label.astype(str).str.strip().isin(["", "n/a"])
    if no_group.any():
        raise ValueError(f"{source}: no group for {ids[no_group].tolist()}")
    groups = table["group"].astype(str)
    odd = sorted(set(groups[(groups != "") & ~groups.str.fullmatch(r"[A-Za-z0-9]+")]))
    if odd:
        raise ValueError(f"{source}: group names must be alphanumeric (map them with "
                         f"inputs.group_map): {odd}")
    _check_rows(table.drop(columns=[c for c in ("group", "source_group")
                                    if c in table.columns]), source)
    table = table.copy()
    table["subject"] = ids.str.slice(4)
    return table.reset_index(drop=True)


def _check_rows(table: pd.DataFrame, source: str) -> None:
    """Check every row against ``participants.schema.yaml`` (column names, group names)."""
    from jsonschema import Draft202012Validator

    from tda_mci.settings import PARTICIPANTS_SCHEMA, load_schema

    validator = Draft202012Validator(load_schema(PARTICIPANTS_SCHEMA))
    for row in table.to_dict(orient="records"):
        record = {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
        for err in validator.iter_errors(record):
            raise ValueError(f"{source}: {row['participant_id']}: {err.message}")


def compared_participants(
    table: pd.DataFrame, comparisons: Iterable[Sequence[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split participants into those of a compared group and the others.

    A participant whose group is in no comparison (``AD`` when only HC, MCI ... are
    compared, or a misspelt ``LMIC``) is not analysed at all: no time series, no
    diagrams, absent from every cohort-level output. The workflow lists such
    participants on the console and in ``qc/cohort_qc.tsv`` (status ``not compared``).

    Parameters
    ----------
    table : pandas.DataFrame
        Participants table with a ``group`` column.
    comparisons : iterable of (str, str)
        Pairs of group names (``statistics.comparisons``).

    Returns
    -------
    compared, others : pandas.DataFrame
        Rows of ``table`` (order kept, index reset) whose group is / is not compared.
    """
    groups = {g for pair in comparisons for g in pair}
    keep = table["group"].astype(str).isin(groups)
    return table[keep].reset_index(drop=True), table[~keep].reset_index(drop=True)


def not_compared_reason(group: str, source_group: str | None = None) -> str:
    """Why a participant of ``group`` is not analysed (QC table and console).

    ``group`` is empty for a participant whose label ``source_group`` is not mapped by
    ``inputs.group_map``.
    """
    if not group:
        return f"group label {source_group!r} is not mapped to a study group (inputs.group_map)"
    return f"group {group!r} is in no comparison (statistics.comparisons)"


def required_group_size(min_group_size: int, protocol: str, n_splits: int) -> tuple[int, str]:
    """Fewest subjects each compared group needs, and the setting that asks for it.

    ``qc.min_group_size``, or ``classification.n_splits`` when larger under the ``cv``
    protocol (stratified k-fold needs a subject of each group in every fold).
    """
    if protocol == "cv" and n_splits > min_group_size:
        return int(n_splits), ("classification.n_splits (stratified k-fold needs a subject "
                               "of each group in every fold)")
    return int(min_group_size), "qc.min_group_size"


def check_comparisons(
    table: pd.DataFrame,
    comparisons: Iterable[Sequence[str]],
    min_group_size: int,
    setting: str | None = None,
) -> None:
    """Check that every group named by a comparison has enough subjects.

    Parameters
    ----------
    table : pandas.DataFrame
        Participants table with a ``group`` column.
    comparisons : iterable of (str, str)
        Pairs of group names.
    min_group_size : int
        Fewest subjects a compared group may have.
    setting : str, optional
        Where the minimum comes from (e.g. ``"qc.min_group_size"``), added to the
        message.

    Raises
    ------
    ValueError
        Naming the comparison, the group and its size (a group absent from the table
        has size 0), or for a comparison of a group with itself.
    """
    counts = table["group"].value_counts()
    present = {str(g): int(n) for g, n in counts.items()}
    for pair in comparisons:
        if pair[0] == pair[1]:
            raise ValueError(f"comparison {list(pair)} compares a group with itself")
        for group in pair:
            n = int(counts.get(group, 0))
            if n < min_group_size:
                raise ValueError(
                    f"comparison {pair[0]} vs {pair[1]}: group {group!r} has {n} subject(s) in "
                    f"the participants table, need at least {min_group_size}"
                    f"{f' ({setting})' if setting else ''} (groups present: {present})"
                )


def comparison_subjects(table: pd.DataFrame, pair: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Subjects of a comparison and their labels (0 = first group, 1 = second).

    Parameters
    ----------
    table : pandas.DataFrame
        A cohort table (``subject``, ``group``).
    pair : (str, str)
        The reference group and the other group.

    Returns
    -------
    subjects : list of str
        Labels of the subjects in either group, in the table's order.
    labels : numpy.ndarray of int64
        0 for the reference group, 1 for the other.
    """
    sel = table[table["group"].isin(list(pair))]
    return sel["subject"].astype(str).tolist(), (sel["group"] == pair[1]).to_numpy(np.int64)


def files_by_subject(
    paths: Iterable[str | Path], subjects: Sequence[str], what: str
) -> dict[str, str]:
    """Pair each subject with its file by the ``sub-`` entity of the file names.

    See :func:`tda_mci.paths.by_entity` (subject label -> path, in ``subjects`` order;
    an error names the subjects without a file or with several).
    """
    return by_entity(paths, "sub", subjects, what)


def groups_of(table: pd.DataFrame) -> Mapping[str, str]:
    """Subject label -> group of a cohort or participants table."""
    return dict(zip(table["subject"].astype(str), table["group"].astype(str), strict=True))


def demo_participants(n_per_group: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Return the participants table of the demo cohort, known before any file exists.

    Subjects are numbered ``sub-001``, ``sub-002`` ... and their groups are assigned in a
    seeded random order (ids do not reveal the diagnosis).

    Parameters
    ----------
    n_per_group : dict of str to int
        Subjects per group, e.g. ``{"HC": 14, "MCI": 14}``.
    seed : int
        Seed of the group order.

    Returns
    -------
    pandas.DataFrame
        Columns ``participant_id``, ``group`` and ``subject`` (see :func:`load_participants`).
    """
    groups = [g for g, n in n_per_group.items() for _ in range(int(n))]
    order = np.random.default_rng([seed, 7919]).permutation(len(groups))
    table = pd.DataFrame(
        {
            "participant_id": [f"sub-{i + 1:03d}" for i in range(len(groups))],
            "group": [groups[i] for i in order],
        }
    )
    return check_participants(table, source="demo cohort")
