"""Settings: the configuration schema, and what each stage reads of the configuration.

One source of truth
-------------------
Every setting, its type, bounds and default live in one file,
``tda_mci/schemas/config.schema.yaml`` (JSON Schema 2020-12, shipped with the package).
The workflow validates ``config.yaml`` against it (Snakemake's ``validate`` fills in the
defaults); :func:`validate_config` does the same for a caller without Snakemake.

What a stage reads
------------------
Each stage of the workflow (one rule, one ``tda-mci`` subcommand) has a frozen dataclass
below that lists the configuration keys it reads, one field per key, with no default of
its own. The workflow hands a stage exactly those keys as one JSON object
(``StageSettings.to_json``, a rule's ``params.settings``), so Snakemake reruns a job
when, and only when, a key it reads has changed; the subcommand rebuilds the object
(``StageSettings.from_json``), which checks that every key is there and valid against
its schema. A setting is therefore spelled once in the schema, and once in the class of
each stage that reads it.

Example::

    >>> s = DiagramSettings.from_config({})          # schema defaults
    >>> s.dimension, s.delay, s.max_dim, s.backend
    (3, 1, 2, 'gudhi')
    >>> sorted(json.loads(s.to_json()).items())[:2]
    [('embedding.delay', 1), ('embedding.dimension', 3)]
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "CONFIG_SCHEMA",
    "PARTICIPANTS_SCHEMA",
    "STAGES",
    "StageSettings",
    "load_schema",
    "schema_default",
    "validate_config",
]

#: The configuration schema (every key, its type, bounds, description and default).
CONFIG_SCHEMA = Path(__file__).parent / "schemas" / "config.schema.yaml"
#: The schema of one row of ``participants.tsv``.
PARTICIPANTS_SCHEMA = Path(__file__).parent / "schemas" / "participants.schema.yaml"


@functools.cache
def load_schema(path: Path = CONFIG_SCHEMA) -> dict[str, Any]:
    """Return a schema file as a dict (read once per process)."""
    import yaml

    return yaml.safe_load(Path(path).read_text())


def _subschema(key: str) -> dict[str, Any]:
    """Return the schema of one dotted configuration key, e.g. ``"homology.max_dim"``."""
    node = load_schema()
    for part in key.split("."):
        props = node.get("properties", {})
        if part not in props:
            raise KeyError(f"{key!r} is not a configuration key (no {part!r} in the schema)")
        node = props[part]
    return node


def schema_default(key: str) -> Any:
    """Return the schema's default of a dotted configuration key.

    Raises
    ------
    KeyError
        If the key is not in the schema or has no default.
    """
    node = _subschema(key)
    if "default" not in node:
        raise KeyError(f"{key!r} has no default in the schema")
    return copy.deepcopy(node["default"])


def _validator(schema: Mapping[str, Any], fill_defaults: bool):
    """Return a Draft 2020-12 validator of ``schema``.

    With ``fill_defaults`` it inserts every missing key's default before validating it
    (the behaviour of Snakemake's ``validate``).
    """
    from jsonschema import Draft202012Validator, validators

    if not fill_defaults:
        return Draft202012Validator(schema)
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    extended = validators.extend(Draft202012Validator, {"properties": properties})
    return extended(schema)


def _raise_first(errors, what: str) -> None:
    errors = sorted(errors, key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ValueError(f"{what}: {where}: {err.message}")


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a configuration against the schema and fill in every default.

    Parameters
    ----------
    config : mapping
        A configuration as in ``config.yaml`` (any keys may be left out).

    Returns
    -------
    dict
        A deep copy with every default filled in.

    Raises
    ------
    ValueError
        Naming the first offending key and why (unknown key, wrong type, out of bounds).
    """
    filled = copy.deepcopy(dict(config))
    _raise_first(_validator(load_schema(), True).iter_errors(filled), "configuration")
    return filled


def _freeze(value: Any) -> Any:
    """Turn lists into tuples (settings are immutable) and copy mappings."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def _thaw(value: Any) -> Any:
    """Undo :func:`_freeze` (tuples become lists again), for JSON."""
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def key(path: str) -> Any:
    """Declare a field of a :class:`StageSettings` class: the configuration key it holds."""
    return field(metadata={"key": path})


@dataclass(frozen=True)
class StageSettings:
    """The configuration keys one stage reads; subclasses add one field per key.

    A field's value is the configuration's value (lists as tuples). Fields have no
    defaults: the schema holds them, and :meth:`from_config` fills them in.
    """

    #: The workflow rule (and, with ``-`` for ``_``, the ``tda-mci`` subcommand).
    rule: ClassVar[str] = ""

    @classmethod
    def keys(cls) -> dict[str, str]:
        """Field name -> dotted configuration key."""
        return {f.name: f.metadata["key"] for f in fields(cls)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StageSettings:
        """Pick this stage's keys from a configuration (validated, defaults filled in)."""
        filled = validate_config(config)
        values = {}
        for name, dotted in cls.keys().items():
            node: Any = filled
            for part in dotted.split("."):
                node = node[part]
            values[name] = _freeze(node)
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> StageSettings:
        """Rebuild the settings from :meth:`to_json` text, checking every key.

        Raises
        ------
        ValueError
            If the text is not a JSON object, a key is missing or unknown to this
            stage, or a value is invalid under the schema (the message names the key).
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{cls.rule} settings are not JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{cls.rule} settings must be a JSON object; got {text[:80]!r}")
        expected = set(cls.keys().values())
        missing, unknown = sorted(expected - set(data)), sorted(set(data) - expected)
        if missing or unknown:
            raise ValueError(
                f"{cls.rule} settings: missing {missing}, unknown {unknown}; expected "
                f"exactly {sorted(expected)}"
            )
        defs = {"$defs": load_schema().get("$defs", {})}
        for dotted, value in data.items():
            validator = _validator({**defs, **_subschema(dotted)}, False)
            _raise_first(validator.iter_errors(value), f"{cls.rule} setting {dotted}")
        return cls(**{name: _freeze(data[dotted]) for name, dotted in cls.keys().items()})

    def to_json(self) -> str:
        """Return the settings as canonical JSON: ``{"section.key": value}``.

        The keys are sorted; a value keeps its own order (a mapping such as
        ``demo.n_per_group`` means something by its order: the demo assigns groups in it).
        """
        data = {dotted: _thaw(getattr(self, name))
                for name, dotted in sorted(self.keys().items(), key=lambda kv: kv[1])}
        return json.dumps(data)


# ----------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class DemoSettings(StageSettings):
    """``demo_cohort``: the generated demo cohort."""

    rule: ClassVar[str] = "demo_cohort"
    seed: int = key("demo.seed")
    n_per_group: dict = key("demo.n_per_group")
    n_volumes: int = key("demo.n_volumes")
    tr: float = key("demo.tr")


@dataclass(frozen=True)
class SeriesSettings(StageSettings):
    """``extract_timeseries`` and ``screen_subject``: one subject's checked ROI series."""

    rule: ClassVar[str] = "extract_timeseries"
    atlas: str | None = key("atlas")
    kind: str = key("inputs.kind")
    denoise_strategy: str = key("inputs.fmriprep.denoise_strategy")
    radius: float = key("extraction.radius")
    standardize: str = key("extraction.standardize")
    detrend: bool = key("extraction.detrend")
    low_pass: float | None = key("extraction.low_pass")
    high_pass: float | None = key("extraction.high_pass")
    t_r: float = key("extraction.t_r")
    tr_tolerance: float = key("extraction.tr_tolerance")
    min_volumes: int = key("extraction.min_volumes")
    import_standardize: str = key("inputs.import_standardize")
    import_detrend: bool = key("inputs.import_detrend")
    dimension: int = key("embedding.dimension")
    delay: int = key("embedding.delay")


@dataclass(frozen=True)
class ScreenSettings(SeriesSettings):
    """``screen_subject``: the checks of extraction, recorded instead of raised."""

    rule: ClassVar[str] = "screen_subject"


@dataclass(frozen=True)
class CohortSettings(StageSettings):
    """``screen_cohort``: the included/excluded tables and group sizes after exclusions."""

    rule: ClassVar[str] = "screen_cohort"
    group_column: str = key("inputs.group_column")
    group_map: dict | None = key("inputs.group_map")
    participant_label: tuple | None = key("inputs.participant_label")
    comparisons: tuple = key("statistics.comparisons")
    covariates: tuple = key("statistics.covariates")
    site_column: str | None = key("statistics.site_column")
    min_group_size: int = key("qc.min_group_size")
    protocol: str = key("classification.protocol")
    n_splits: int = key("classification.n_splits")


@dataclass(frozen=True)
class CarpetSettings(StageSettings):
    """``plot_carpet``: one subject's carpet plot."""

    rule: ClassVar[str] = "plot_carpet"
    atlas: str | None = key("atlas")
    t_r: float = key("extraction.t_r")


@dataclass(frozen=True)
class CohortQCSettings(StageSettings):
    """``cohort_qc``: the cohort QC table and figure."""

    rule: ClassVar[str] = "cohort_qc"
    atlas: str | None = key("atlas")
    group_column: str = key("inputs.group_column")
    group_map: dict | None = key("inputs.group_map")
    participant_label: tuple | None = key("inputs.participant_label")
    comparisons: tuple = key("statistics.comparisons")


@dataclass(frozen=True)
class DiagramSettings(StageSettings):
    """``compute_diagrams``: sliding-window embedding and Rips persistence."""

    rule: ClassVar[str] = "compute_diagrams"
    dimension: int = key("embedding.dimension")
    delay: int = key("embedding.delay")
    max_dim: int = key("homology.max_dim")
    backend: str = key("homology.backend")


@dataclass(frozen=True)
class PRSettings(StageSettings):
    """``roi_distances``: one subject's inter-ROI (PR) matrices."""

    rule: ClassVar[str] = "roi_distances"
    atlas: str | None = key("atlas")
    order: float | str = key("distances.order")
    ground_metric: float | str = key("distances.ground_metric")


@dataclass(frozen=True)
class PSSettings(PRSettings):
    """``subject_distances``: inter-subject (PS) matrices of a block of ROIs.

    The distance settings of :class:`PRSettings`, and the size of a block.
    """

    rule: ClassVar[str] = "subject_distances"
    rois_per_job: int = key("distances.ps_rois_per_job")


@dataclass(frozen=True)
class RankSumSettings(StageSettings):
    """``wilcoxon_tests``: rank-sum tests of every PR pair between two groups."""

    rule: ClassVar[str] = "wilcoxon_tests"
    atlas: str | None = key("atlas")
    alpha: float = key("statistics.alpha")
    fdr_level: float = key("statistics.fdr_level")
    covariates: tuple = key("statistics.covariates")


@dataclass(frozen=True)
class DiagramFigureSettings(StageSettings):
    """``plot_diagrams``: diagrams of the top hub ROI (reads no setting)."""

    rule: ClassVar[str] = "plot_diagrams"


@dataclass(frozen=True)
class PermanovaSettings(StageSettings):
    """``permanova_tests``: PERMANOVA of every ROI's PS matrices."""

    rule: ClassVar[str] = "permanova_tests"
    atlas: str | None = key("atlas")
    permutations: int = key("statistics.ps_permutations")
    seed: int = key("statistics.seed")
    fdr_level: float = key("statistics.ps_fdr_level")
    covariates: tuple = key("statistics.covariates")


@dataclass(frozen=True)
class TrainingSettings(StageSettings):
    """``train_classifiers``: cross-validated classifiers of one comparison and network."""

    rule: ClassVar[str] = "train_classifiers"
    atlas: str | None = key("atlas")
    protocol: str = key("classification.protocol")
    n_splits: int = key("classification.n_splits")
    n_repeats: int = key("classification.n_repeats")
    epochs: int = key("classification.epochs")
    inner_val_fraction: float = key("classification.inner_val_fraction")
    early_stopping_patience: int = key("classification.early_stopping_patience")
    batch_size: int = key("classification.batch_size")
    learning_rate: float = key("classification.learning_rate")
    seed: int = key("classification.seed")
    device: str = key("classification.device")
    harmonize: str = key("classification.harmonize")
    site_column: str | None = key("statistics.site_column")
    covariates: tuple = key("statistics.covariates")


@dataclass(frozen=True)
class PermutationSettings(StageSettings):
    """``permutation_test``: label permutations of a comparison's best model.

    The model's own settings are read from its metrics record, so that the null
    distribution is built exactly as the observed score was.
    """

    rule: ClassVar[str] = "permutation_test"
    atlas: str | None = key("atlas")
    permutations: int = key("classification.permutations")
    device: str = key("classification.device")


@dataclass(frozen=True)
class SummarySettings(StageSettings):
    """``summarize_classification``: the classification tables (reads no setting)."""

    rule: ClassVar[str] = "summarize_classification"


@dataclass(frozen=True)
class MethodsSettings(StageSettings):
    """``methods_text``: the settings the methods text states.

    The series' own treatment (extraction or import) is read from their sidecars.
    """

    rule: ClassVar[str] = "methods_text"
    session: str | None = key("inputs.fmriprep.session")
    run: str | int | None = key("inputs.fmriprep.run")
    scan_choice: str = key("inputs.fmriprep.scan_choice")
    dimension: int = key("embedding.dimension")
    delay: int = key("embedding.delay")
    max_dim: int = key("homology.max_dim")
    backend: str = key("homology.backend")
    order: float | str = key("distances.order")
    ground_metric: float | str = key("distances.ground_metric")
    comparisons: tuple = key("statistics.comparisons")
    alpha: float = key("statistics.alpha")
    fdr_level: float = key("statistics.fdr_level")
    ps_permutations: int = key("statistics.ps_permutations")
    ps_fdr_level: float = key("statistics.ps_fdr_level")
    covariates: tuple = key("statistics.covariates")
    site_column: str | None = key("statistics.site_column")
    harmonize: str = key("classification.harmonize")
    models: tuple = key("classification.models")
    protocol: str = key("classification.protocol")
    n_splits: int = key("classification.n_splits")
    n_repeats: int = key("classification.n_repeats")
    epochs: int = key("classification.epochs")
    inner_val_fraction: float = key("classification.inner_val_fraction")
    early_stopping_patience: int = key("classification.early_stopping_patience")
    batch_size: int = key("classification.batch_size")
    learning_rate: float = key("classification.learning_rate")
    seed: int = key("classification.seed")
    permutations: int = key("classification.permutations")


@dataclass(frozen=True)
class RuntimeSettings(StageSettings):
    """``runtime_statistics``: run-time table of the benchmark files (reads no setting)."""

    rule: ClassVar[str] = "runtime_statistics"


#: Every stage's settings class, by rule name.
STAGES: dict[str, type[StageSettings]] = {
    cls.rule: cls
    for cls in (
        DemoSettings, SeriesSettings, ScreenSettings, CohortSettings, CarpetSettings,
        CohortQCSettings, DiagramSettings, PRSettings, PSSettings, RankSumSettings,
        DiagramFigureSettings, PermanovaSettings, TrainingSettings, PermutationSettings,
        SummarySettings, MethodsSettings, RuntimeSettings,
    )
}  # fmt: skip
