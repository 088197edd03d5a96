"""The cohort: participants table, subject labels and group comparisons."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

_SUBJECT = re.compile(r"^sub-[A-Za-z0-9]+$")


def load_participants(path: str | Path) -> pd.DataFrame:
    """Read and check a BIDS ``participants.tsv``.

    Parameters
    ----------
    path : str or Path
        Tab-separated file with at least ``participant_id`` and ``group``.

    Returns
    -------
    pandas.DataFrame
        The table as read, plus a column ``subject``: the label after ``sub-``, used in
        file names and as the Snakemake wildcard.

    Raises
    ------
    ValueError
        Missing columns, malformed or duplicated participant ids; the message names the
        file and the offending values.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"participants file {path} does not exist")
    table = pd.read_csv(path, sep="\t", dtype={"participant_id": str, "group": str})
    return check_participants(table, source=str(path))


def check_participants(table: pd.DataFrame, source: str = "participants table") -> pd.DataFrame:
    """Check ids and groups of a participants table; add the ``subject`` column.

    See :func:`load_participants`.
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
    if table["group"].isna().any():
        rows = ids[table["group"].isna()].tolist()
        raise ValueError(f"{source}: no group for {rows}")
    table = table.copy()
    table["subject"] = ids.str.slice(4)
    return table.reset_index(drop=True)


def comparison_key(pair: Sequence[str]) -> str:
    """Return the file-name key of a comparison, e.g. ``("HC", "MCI")`` -> ``"HCvsMCI"``."""
    a, b = pair
    return f"{a}vs{b}"


def check_comparisons(
    table: pd.DataFrame,
    comparisons: Iterable[Sequence[str]],
    min_group_size: int = 2,
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


def comparison_subjects(table: pd.DataFrame, pair: Sequence[str]) -> tuple[list[str], list[int]]:
    """Subjects of a comparison and their labels (0 = first group, 1 = second).

    Subjects keep the table's order.
    """
    sel = table[table["group"].isin(pair)]
    return sel["subject"].tolist(), [int(g == pair[1]) for g in sel["group"]]


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
