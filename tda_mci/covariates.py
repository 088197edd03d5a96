"""Covariates and sites of the participants, as the group tests and ComBat take them.

``statistics.covariates`` names columns of ``participants.tsv`` (ADNI's ``AGE``,
``PTGENDER`` ...); ``statistics.site_column`` names the column of each participant's
acquisition site. The workflow carries those columns, as text, from ``participants.tsv``
into the cohort table (``qc/included.tsv``), and the group stages turn them into numbers
here:

* a column is *numeric* when every value parses as a number (``71.2``, ``68``); it
  enters as that number;
* any other column is *categorical*: it enters as one 0/1 indicator per level except
  the first level in sorted order (the reference), named ``<column>=<level>``;
* a value that is empty or a missing-value token (:data:`MISSING`) is an error naming
  the participants and the column: an adjusted test cannot drop a subject silently,
  and imputing would be a modelling choice of its own.

Levels and constant columns are those of the rows given (one comparison's subjects, one
training fold): a categorical level that none of them has, or a column that is constant
among them, carries no information and is dropped, so the design is never singular for
that reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["MISSING", "check_columns", "cohort_columns", "covariate_design", "site_labels"]

#: Values read as missing in a covariate or site column (BIDS writes ``n/a``).
MISSING = frozenset({"", "n/a", "N/A", "NA", "na", "nan", "NaN", "None", "null"})


def cohort_columns(covariates: Sequence[str], site_column: str | None) -> list[str]:
    """Return the participants columns the cohort table carries: covariates, then site."""
    columns = list(dict.fromkeys([*covariates, *([site_column] if site_column else [])]))
    reserved = sorted(set(columns) & {"participant_id", "subject", "group", "source_group"})
    if reserved:
        raise ValueError(f"statistics.covariates / site_column name {reserved}, which are the "
                         "participant's id and group, not covariates")
    return columns


def check_columns(table: pd.DataFrame, columns: Sequence[str], source: str,
                  setting: str = "statistics.covariates") -> None:
    """Check that ``table`` has every column and a value in it for every row.

    Parameters
    ----------
    table : pandas.DataFrame
        Participants or cohort table (``participant_id`` and the columns, as text).
    columns : sequence of str
        The covariate (or site) columns.
    source : str
        The file, for messages.
    setting : str
        The configuration key that names the columns, for messages.

    Raises
    ------
    ValueError
        For a missing column (listing the table's columns) or missing values (naming
        the participants, at most 10).
    """
    for column in columns:
        if column not in table.columns:
            raise ValueError(f"{source}: no column {column!r} ({setting}); columns: "
                             f"{list(table.columns)}")
        values = table[column].astype(str).str.strip()
        gone = table.loc[values.isin(MISSING), "participant_id"].astype(str).tolist()
        if gone:
            shown = ", ".join(gone[:10]) + (f" and {len(gone) - 10} more" if len(gone) > 10
                                            else "")
            raise ValueError(f"{source}: column {column!r} ({setting}) has no value for "
                             f"{shown}; give every analysed participant a value, or leave "
                             "them out (inputs.participant_label)")


def _numeric(values: pd.Series) -> np.ndarray | None:
    """Return the column as float64 if every value parses as a finite number, else None."""
    parsed = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    if parsed.isna().any() or not np.isfinite(parsed.to_numpy(np.float64)).all():
        return None
    return parsed.to_numpy(np.float64)


def covariate_design(table: pd.DataFrame, columns: Sequence[str],
                     source: str = "cohort table") -> tuple[np.ndarray, list[str]]:
    """Numeric design columns of the covariates of the rows of ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows = subjects (in the order of the result), with ``participant_id`` and the
        covariate columns as text.
    columns : sequence of str
        The covariates (``statistics.covariates``), in order.
    source : str
        The file, for messages.

    Returns
    -------
    design : numpy.ndarray
        float64, shape ``(rows, k)``, no intercept: numeric columns as numbers, then for
        a categorical column one indicator per non-reference level (see the module
        docstring); constant columns dropped. ``k`` may be 0.
    names : list of str
        Name of each design column: the column, or ``<column>=<level>``.

    Raises
    ------
    ValueError
        See :func:`check_columns`.
    """
    check_columns(table, columns, source)
    blocks, names = [], []
    for column in columns:
        number = _numeric(table[column])
        if number is not None:
            if np.ptp(number) > 0:
                blocks.append(number[:, None])
                names.append(column)
            continue
        values = table[column].astype(str).str.strip().to_numpy()
        for level in sorted(set(values))[1:]:
            blocks.append((values == level).astype(np.float64)[:, None])
            names.append(f"{column}={level}")
    design = np.hstack(blocks) if blocks else np.empty((len(table), 0))
    return design, names


def site_labels(table: pd.DataFrame, column: str, source: str = "cohort table") -> np.ndarray:
    """Each row's site label (text) from ``column`` (``statistics.site_column``).

    Raises
    ------
    ValueError
        See :func:`check_columns`.
    """
    check_columns(table, [column], source, setting="statistics.site_column")
    return table[column].astype(str).str.strip().to_numpy()
