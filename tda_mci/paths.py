"""The one helper that names every output file (BIDS-derivative style).

Every path the workflow writes is built here, so names stay consistent between rules,
the CLI, the tests and the report. Entities are joined as ``key-value`` pairs with ``_``
between them, in a fixed order, followed by the suffix and extension, as snakebids does::

    >>> bids("results", subject="01", datatype="func", task="rest",
    ...      atlas="dosenbach160", suffix="timeseries", extension=".tsv")
    'results/sub-01/func/sub-01_task-rest_atlas-dosenbach160_timeseries.tsv'

Values may be Snakemake wildcards (``"{subject}"``); literal values must be alphanumeric.
"""

from __future__ import annotations

import re

#: Entity order in file names.
ENTITY_ORDER = (
    "sub", "ses", "task", "space", "atlas", "comp", "net", "roi", "dim", "model",
    "win", "delay", "block", "desc",
)
_VALUE = re.compile(r"^([A-Za-z0-9]+|\{[A-Za-z_][A-Za-z0-9_]*(,[^}]*)?\})$")


def bids(
    root: str,
    *,
    subject: str | None = None,
    datatype: str | None = None,
    suffix: str,
    extension: str = "",
    **entities: str | int | None,
) -> str:
    """Build a BIDS-derivative style path.

    Parameters
    ----------
    root : str
        Output root (e.g. ``"results"``); subject files go under ``root/sub-<label>/``,
        group files (``subject=None``) under ``root/group/``.
    subject : str, optional
        Subject label without ``sub-`` (or a wildcard such as ``"{subject}"``).
    datatype : str, optional
        Sub-folder such as ``func`` (subject files) or a group folder name.
    suffix : str
        File suffix (``timeseries``, ``dgm``, ``dist`` ...).
    extension : str
        Extension with leading dot.
    **entities
        Further entities, keyed by the names of :data:`ENTITY_ORDER`; ``None`` omits one.

    Returns
    -------
    str
        The path, with ``/`` separators.

    Raises
    ------
    ValueError
        For an unknown entity or a value that is not alphanumeric (or a wildcard).
    """
    name = "_".join(_entity_parts(sub=subject, **entities) + [suffix]) + extension
    folders = [root, f"sub-{subject}" if subject is not None else "group"]
    if datatype:
        folders.append(datatype)
    return "/".join(folders + [name])


def _entity_parts(**entities: str | int | None) -> list[str]:
    """``key-value`` strings in :data:`ENTITY_ORDER`, values checked, ``None`` skipped."""
    unknown = set(entities) - set(ENTITY_ORDER)
    if unknown:
        raise ValueError(f"unknown BIDS entities {sorted(unknown)}; known: {ENTITY_ORDER}")
    parts = []
    for key in ENTITY_ORDER:
        value = entities.get(key)
        if value is None:
            continue
        value = str(value)
        if not _VALUE.match(value):
            raise ValueError(f"BIDS entity {key}={value!r} is not alphanumeric")
        parts.append(f"{key}-{value}")
    return parts


def job_file(root: str, rule: str, extension: str, **entities: str | int | None) -> str:
    """Path of a job's log or benchmark file: ``root/rule/<entities>.ext``.

    Mirrors the output names, e.g. ``job_file("logs", "compute_diagrams", ".log", sub="01")``
    is ``logs/compute_diagrams/sub-01.log``; a job without entities gets ``all.ext``.
    """
    name = "_".join(_entity_parts(**entities)) or "all"
    return f"{root}/{rule}/{name}{extension}"
