"""Every file name of the pipeline: BIDS-derivative names, built and parsed in one place.

:func:`bids` joins entities as ``key-value`` pairs with ``_`` between them, in a fixed
order, followed by the suffix and extension, as snakebids does::

    >>> bids("results", subject="01", datatype="func", task="rest",
    ...      atlas="dosenbach160", suffix="timeseries", extension=".tsv")
    'results/sub-01/func/sub-01_task-rest_atlas-dosenbach160_timeseries.tsv'

:class:`Layout` names every output, log and benchmark file of a run from the
configuration; the workflow's rules, the stages and the tests all take their paths from
it, and :func:`entities` reads the entities back from a path (a stage finds out which
subject or model a file is for by its name, never by its position in a list).

Values may be Snakemake wildcards (``"{subject}"``); literal values must be alphanumeric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

#: Entity order in file names.
ENTITY_ORDER = (
    "sub", "ses", "task", "run", "space", "atlas", "comp", "net", "roi", "dim", "model",
    "win", "delay", "block", "desc",
)
_VALUE = re.compile(r"^([A-Za-z0-9]+|\{[A-Za-z_][A-Za-z0-9_]*(,[^}]*)?\})$")
_BIDS_EXT = re.compile(r"^(?P<stem>[^.]+)(?P<ext>\..+)?$")

#: Wildcards of the workflow, the default value of every :class:`Layout` entity.
SUBJECT, COMPARISON, NETWORK, BLOCK = "{subject}", "{comp}", "{net}", "{block}"
#: Wildcard of one scan's outputs: its :func:`scan_stem`.
SCAN = "{scan}"
#: Entities of the scan that a subject's outputs keep from its input (BIDS order).
SCAN_ENTITIES = ("ses", "task", "run", "space")
#: Space label of the demo images (fMRIPrep's default output space).
DEMO_SPACE = "MNI152NLin2009cAsym"


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


def scan_stem(
    subject: str,
    *,
    ses: str | None = None,
    task: str | None = "rest",
    run: str | int | None = None,
    space: str | None = None,
) -> str:
    """Folder and name stem of one scan's outputs, relative to the output root.

    The entities are those of the scan's input (:data:`SCAN_ENTITIES`), kept in every
    name of its outputs, e.g.::

        >>> scan_stem("001", ses="01", run=2, space="MNI152NLin2009cAsym")
        'sub-001/ses-01/func/sub-001_ses-01_task-rest_run-2_space-MNI152NLin2009cAsym'
        >>> scan_stem("001")
        'sub-001/func/sub-001_task-rest'

    Parameters
    ----------
    subject : str
        Subject label (without ``sub-``).
    ses, task, run, space : str, optional
        The scan's entities; ``None`` omits one (a session adds its folder).

    Returns
    -------
    str
    """
    name = "_".join(_entity_parts(sub=subject, ses=ses, task=task, run=run, space=space))
    folders = [f"sub-{subject}"] + ([f"ses-{ses}"] if ses is not None else []) + ["func"]
    return "/".join(folders + [name])


def _stem(scan: str) -> str:
    """Return a scan stem as given, or the stem of a bare subject label (task rest only).

    ``scan`` is a :func:`scan_stem`, the wildcard :data:`SCAN`, or a subject label.
    """
    if "/" in scan or scan.startswith("{"):
        return scan
    return scan_stem(scan)


def job_file(root: str, rule: str, extension: str, **entities: str | int | None) -> str:
    """Path of a job's log or benchmark file: ``root/rule/<entities>.ext``.

    Mirrors the output names, e.g. ``job_file("logs", "compute_diagrams", ".log", sub="01")``
    is ``logs/compute_diagrams/sub-01.log``; a job without entities gets ``all.ext``.
    """
    name = "_".join(_entity_parts(**entities)) or "all"
    return f"{root}/{rule}/{name}{extension}"


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


def bids_join(entities: Mapping[str, str], suffix: str, extension: str) -> str:
    """Join entities (in the given order), suffix and extension into a BIDS file name."""
    return "_".join([f"{k}-{v}" for k, v in entities.items()] + [suffix]) + extension


def entities(path: str | Path) -> dict[str, str]:
    """Entities of a file name built by :func:`bids`, e.g. ``{"sub": "001", ...}``.

    Raises
    ------
    ValueError
        If the name is not a BIDS name.
    """
    return parse_bids_name(Path(path).name)[0]


def entity_of(path: str | Path, key: str) -> str:
    """Return the value of entity ``key`` in a file name (e.g. the subject of a file).

    Raises
    ------
    ValueError
        If the name has no such entity.
    """
    found = entities(path)
    if key not in found:
        raise ValueError(f"{path}: the file name has no {key}- entity")
    return found[key]


def by_entity(
    paths: Iterable[str | Path], key: str, values: Sequence[str], what: str
) -> dict[str, str]:
    """Pair each wanted value of entity ``key`` with the one file whose name carries it.

    Parameters
    ----------
    paths : iterable of str or Path
        Files named by :func:`bids` (any order; files of other values are ignored).
    key : str
        The entity, e.g. ``"sub"`` or ``"net"``.
    values : sequence of str
        The values wanted, in the order of the result.
    what : str
        What the files are, for messages (``"PR"``, ``"diagrams"`` ...).

    Returns
    -------
    dict of str to str
        Value -> path, in the order of ``values``.

    Raises
    ------
    ValueError
        When a value has no file or several (the message names them).
    """
    found: dict[str, list[str]] = {}
    for path in paths:
        found.setdefault(entity_of(path, key), []).append(str(path))
    missing = [v for v in values if v not in found]
    several = {v: found[v] for v in values if len(found.get(v, [])) > 1}
    if missing or several:
        raise ValueError(f"{what} files: none for {key}-{missing}"
                         + (f"; several for {several}" if several else ""))
    return {v: found[v][0] for v in values}


def model_entity(model: str) -> str:
    """Return the file-name value of a model name: ``corr_logreg`` -> ``corrlogreg``.

    Entity values are alphanumeric.
    """
    return model.replace("_", "")


def comparison_key(pair: tuple[str, str] | list[str]) -> str:
    """File-name key of a comparison, e.g. ``("HC", "MCI")`` -> ``"HCvsMCI"``."""
    a, b = pair
    return f"{a}vs{b}"


def atlas_key(atlas: str | None) -> str:
    """``atlas-`` entity of a run: ``dosenbach160``, or ``custom`` for a user's atlas TSV."""
    return "dosenbach160" if not atlas else "custom"


def demo_image(root: str, subject: str, kind: str) -> str:
    """Path of a demo subject's preprocessed image (``kind="bold"``) or brain mask (``"mask"``).

    fMRIPrep-style names, e.g.
    ``root/sub-001/func/sub-001_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz``.
    """
    desc, suffix = {"bold": ("preproc", "bold"), "mask": ("brain", "mask")}[kind]
    return bids(root, subject=subject, datatype="func", task="rest", space=DEMO_SPACE,
                desc=desc, suffix=suffix, extension=".nii.gz")


@dataclass(frozen=True)
class Layout:
    """The name of every file a run writes.

    A scan's outputs go to ``<out_dir>/<scan>_<entities>_<suffix>``, where ``<scan>`` is
    its :func:`scan_stem` (``sub-<label>/[ses-<s>/]func/sub-<label>_[ses-<s>_]task-<t>
    [_run-<r>][_space-<sp>]``: the entities of its input); group outputs go to
    ``<out_dir>/group/<kind>/``, QC tables to ``<out_dir>/qc/``, the demo cohort to
    ``<out_dir>/demo/``; logs and benchmarks to ``<logs>/<rule>/<scan>.log`` (mirroring the
    outputs) or ``<logs>/<rule>/<entities>.log``, and the same under ``<benchmarks>``.
    Arguments default to the workflow's wildcards (``{scan}``, ``{comp}``, ``{net}``,
    ``{block}``), so a rule can write ``LAYOUT.timeseries()`` and a stage
    ``layout.timeseries(scan_stem("001", ses="01"))``; a bare subject label stands for
    ``scan_stem(label)`` (task ``rest``, no other entity).

    Parameters
    ----------
    out_dir : str
        Root of the results (``out_dir`` in the configuration).
    atlas : str
        ``atlas-`` entity of every output (see :func:`atlas_key`).
    task, space : str or None
        ``task-`` and ``space-`` entities of the group outputs: those the cohort's scans
        share (:meth:`for_scans`); None omits one.
    logs, benchmarks : str
        Roots of the job logs and benchmark files (a run's: ``<out_dir>/logs`` and
        ``<out_dir>/benchmarks``, see :meth:`from_config`).
    """

    out_dir: str = "results"
    atlas: str = "dosenbach160"
    task: str | None = "rest"
    space: str | None = None
    logs: str = "logs"
    benchmarks: str = "benchmarks"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layout:
        """Return the layout of a run of ``config``: everything under ``out_dir``.

        Logs and benchmarks included, so a run that moves ``out_dir`` leaves nothing behind.
        """
        out = str(config["out_dir"])
        return cls(out_dir=out, atlas=atlas_key(config.get("atlas")), logs=f"{out}/logs",
                   benchmarks=f"{out}/benchmarks")

    def for_scans(self, scans: Iterable[Mapping[str, Any]]) -> Layout:
        """Return this layout with the task and space that every scan shares.

        ``scans`` are the entities of each subject's scan (keys of
        :data:`SCAN_ENTITIES`); an entity the scans do not all share (or none has) is
        left out of the group outputs' names.
        """
        scans = list(scans)

        def shared(key: str) -> str | None:
            values = {None if s.get(key) is None else str(s[key]) for s in scans}
            return values.pop() if len(values) == 1 else None

        return replace(self, task=shared("task"), space=shared("space"))

    # ------------------------------------------------------------------ building blocks
    def subject_file(self, scan: str = SCAN, *, suffix: str, extension: str,
                     **parts: Any) -> str:
        """Return a file of one scan: ``<out_dir>/<scan>_atlas-<a>_<parts>_<suffix><ext>``."""
        name = "_".join(_entity_parts(atlas=self.atlas, **parts) + [suffix]) + extension
        return f"{self.out_dir}/{_stem(scan)}_{name}"

    def group_file(self, kind: str, **parts: Any) -> str:
        """Return a group file under ``<out_dir>/group/<kind>/``."""
        return bids(self.out_dir, datatype=kind, task=self.task, space=self.space,
                    atlas=self.atlas, **parts)

    def log(self, rule: str, scan: str | None = None, **parts: Any) -> str:
        """Log file of one job of ``rule`` (of one scan, or named by ``parts``)."""
        if scan is not None:
            return f"{self.logs}/{rule}/{_stem(scan)}.log"
        return job_file(self.logs, rule, ".log", **parts)

    def benchmark(self, rule: str, scan: str | None = None, **parts: Any) -> str:
        """Benchmark file of one job of ``rule`` (of one scan, or named by ``parts``)."""
        if scan is not None:
            return f"{self.benchmarks}/{rule}/{_stem(scan)}.tsv"
        return job_file(self.benchmarks, rule, ".tsv", **parts)

    # ------------------------------------------------------------------ per scan
    def timeseries(self, scan: str = SCAN) -> str:
        """ROI time series (TSV, T x ROIs); its JSON sidecar is :meth:`timeseries_sidecar`."""
        return self.subject_file(scan, suffix="timeseries", extension=".tsv")

    def timeseries_sidecar(self, scan: str = SCAN) -> str:
        """JSON sidecar of :meth:`timeseries`."""
        return self.subject_file(scan, suffix="timeseries", extension=".json")

    def carpet(self, scan: str = SCAN) -> str:
        """Carpet plot of the time series."""
        return self.subject_file(scan, suffix="carpet", extension=".png")

    def diagrams(self, window: int, delay: int, scan: str = SCAN) -> str:
        """Return the persistence diagrams of every ROI (npz)."""
        return self.subject_file(scan, win=window, delay=delay, suffix="dgm",
                                 extension=".npz")

    def pr(self, scan: str = SCAN) -> str:
        """Inter-ROI (PR) Wasserstein matrices per network (npz)."""
        return self.subject_file(scan, desc="PR", suffix="dist", extension=".npz")

    # ------------------------------------------------------------------ demo and QC
    def demo_dir(self) -> str:
        """Root of the generated demo cohort."""
        return f"{self.out_dir}/demo"

    def demo_participants(self) -> str:
        """``participants.tsv`` of the demo cohort."""
        return f"{self.demo_dir()}/participants.tsv"

    def demo_truth(self) -> str:
        """Ground truth of the demo cohort (JSON)."""
        return f"{self.demo_dir()}/ground_truth.json"

    def demo_bold(self, subject: str = SUBJECT) -> str:
        """Return a demo subject's preprocessed 4D image."""
        return demo_image(self.demo_dir(), subject, "bold")

    def demo_mask(self, subject: str = SUBJECT) -> str:
        """Return a demo subject's brain mask."""
        return demo_image(self.demo_dir(), subject, "mask")

    def qc_dir(self) -> str:
        """Folder of the QC tables."""
        return f"{self.out_dir}/qc"

    def screen(self, scan: str = SCAN) -> str:
        """One scan's screening verdict (JSON; policy exclude)."""
        return f"{self.qc_dir()}/{_stem(scan)}_atlas-{self.atlas}_screen.json"

    def included(self) -> str:
        """Return the cohort table: included subjects and their groups (TSV)."""
        return f"{self.qc_dir()}/included.tsv"

    def excluded(self) -> str:
        """Excluded subjects with file and reason (TSV)."""
        return f"{self.qc_dir()}/excluded.tsv"

    def cohort_qc(self) -> str:
        """One QC row per participant (TSV)."""
        return f"{self.qc_dir()}/cohort_qc.tsv"

    def cohort_qc_figure(self) -> str:
        """Figure of the cohort QC table."""
        return f"{self.qc_dir()}/cohort_qc.png"

    # ------------------------------------------------------------------ group outputs
    def ps(self, block: int | str = BLOCK) -> str:
        """Inter-subject (PS) matrices of one block of ROIs (npz)."""
        return self.group_file("ps", block=block, desc="PS", suffix="dist", extension=".npz")

    def pr_statistics(self, comp: str = COMPARISON, networks: list[str] = ()) -> dict:
        """Return the outputs of the rank-sum tests of one comparison, by name.

        ``pplots`` holds one P-plot per network key of ``networks``.
        """
        fig = {"kind": "figures", "comp": comp}
        return {
            "stats": self.group_file("stats", comp=comp, suffix="stat", extension=".npz"),
            "pairs": self.group_file("stats", comp=comp, desc="significant", suffix="pairs",
                                     extension=".tsv"),
            "hubs": self.group_file("stats", comp=comp, suffix="hubs", extension=".tsv"),
            "hub_figure": self.group_file(**fig, suffix="hubs", extension=".png"),
            "overview": self.group_file(**fig, suffix="pplot", extension=".png"),
            "pplots": [self.group_file(**fig, net=n, suffix="pplot", extension=".png")
                       for n in networks],
            "connectome": self.group_file(**fig, suffix="connectome", extension=".png"),
            "connectome_html": self.group_file(**fig, suffix="connectome", extension=".html"),
        }

    def diagram_figure(self, comp: str = COMPARISON) -> str:
        """Diagrams of a comparison's top hub ROI, per group (PNG)."""
        return self.group_file("figures", comp=comp, desc="tophub", suffix="dgm",
                               extension=".png")

    def ps_statistics(self, comp: str = COMPARISON) -> dict:
        """Return the outputs of the PERMANOVA tests of one comparison, by name."""
        return {
            "table": self.group_file("stats", comp=comp, desc="PS", suffix="permanova",
                                     extension=".tsv"),
            "brain_map": self.group_file("figures", comp=comp, desc="PS", suffix="permanova",
                                         extension=".png"),
            "matrix": self.group_file("figures", comp=comp, desc="PStop", suffix="dist",
                                      extension=".png"),
        }

    def metrics(self, dim: int | None, model: str, comp: str = COMPARISON,
                net: str = NETWORK) -> str:
        """Metrics of one classifier (JSON); ``dim`` None for models of no dimension."""
        return self.group_file("classification", comp=comp, net=net, dim=dim,
                               model=model_entity(model), suffix="metrics", extension=".json")

    def learning_curves(self, comp: str = COMPARISON, net: str = NETWORK) -> str:
        """CNN learning curves of one comparison and network (PNG)."""
        return self.group_file("figures", comp=comp, net=net, model="cnn", suffix="curves",
                               extension=".png")

    def permutation(self, comp: str = COMPARISON) -> str:
        """Label-permutation test of a comparison's best model (JSON)."""
        return self.group_file("classification", comp=comp, desc="best", suffix="permutation",
                               extension=".json")

    def permutation_figure(self, comp: str = COMPARISON) -> str:
        """Null distribution of :meth:`permutation` (PNG)."""
        return self.group_file("figures", comp=comp, desc="best", suffix="permutation",
                               extension=".png")

    def classification_summary(self) -> dict:
        """Return the classification tables and heatmap, by name."""
        return {
            "summary": self.group_file("classification", suffix="summary", extension=".tsv"),
            "best": self.group_file("classification", desc="best", suffix="summary",
                                    extension=".tsv"),
            "heatmap": self.group_file("figures", suffix="accuracy", extension=".png"),
        }

    def methods(self) -> dict:
        """Return the methods text of the run: Markdown (``text``) and HTML (``html``)."""
        return {"text": f"{self.out_dir}/methods.md", "html": f"{self.out_dir}/methods.html"}

    def dataset_description(self) -> str:
        """BIDS ``dataset_description.json`` of the results folder."""
        return f"{self.out_dir}/dataset_description.json"

    def runtime(self) -> str:
        """Run-time statistics per rule (TSV)."""
        return self.group_file("runtime", suffix="runtime", extension=".tsv")
