"""Settings have one source: the schema. No default anywhere may drift from it."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import math

import pytest

from tda_mci.cli import COMMANDS, build_parser
from tda_mci.settings import (
    STAGES,
    DiagramSettings,
    PRSettings,
    TrainingSettings,
    load_schema,
    schema_default,
    validate_config,
)


def _leaves(node, prefix=""):
    """Every dotted key of the schema that holds a value (not an object of keys)."""
    for name, sub in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            yield from _leaves(sub, f"{key}.")
        else:
            yield key


LEAVES = sorted(_leaves(load_schema()))


def test_every_schema_key_has_a_default_and_a_description():
    for key in LEAVES:
        schema_default(key)  # raises if absent
    node = load_schema()["properties"]
    for section, sub in node.items():
        for name, leaf in sub.get("properties", {}).items():
            assert leaf.get("description") or leaf.get("$ref"), f"{section}.{name}"


def test_validate_config_fills_every_default_and_rejects_unknown_keys():
    filled = validate_config({})
    for key in LEAVES:
        node = filled
        for part in key.split("."):
            node = node[part]
        assert node == schema_default(key), key
    with pytest.raises(ValueError, match="statistic"):
        validate_config({"statistic": {"alpha": 0.05}})
    with pytest.raises(ValueError, match="homology.max_dim"):
        validate_config({"homology": {"max_dim": 3}})


@pytest.mark.parametrize("rule", sorted(STAGES))
def test_stage_settings_have_no_defaults_and_read_schema_keys(rule):
    cls = STAGES[rule]
    assert cls.rule == rule
    for f in dataclasses.fields(cls):
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, (
            f"{cls.__name__}.{f.name} has a default of its own")
        assert f.metadata["key"] in LEAVES, f.metadata["key"]
    # the schema's defaults, and they survive the JSON the workflow hands the CLI
    settings = cls.from_config({})
    for name, key in cls.keys().items():
        value = getattr(settings, name)
        expected = schema_default(key)
        assert value == (tuple(expected) if isinstance(expected, list) else expected) or (
            isinstance(expected, list)
            and value == tuple(tuple(v) if isinstance(v, list) else v for v in expected)
        ), key
    assert cls.from_json(settings.to_json()) == settings


def test_from_json_checks_every_key():
    text = DiagramSettings.from_config({"homology": {"max_dim": 1}}).to_json()
    assert DiagramSettings.from_json(text).max_dim == 1
    data = json.loads(text)
    with pytest.raises(ValueError, match=r"missing \['homology.backend'\]"):
        DiagramSettings.from_json(json.dumps({k: v for k, v in data.items()
                                              if k != "homology.backend"}))
    with pytest.raises(ValueError, match=r"unknown \['homology.colour'\]"):
        DiagramSettings.from_json(json.dumps({**data, "homology.colour": 1}))
    with pytest.raises(ValueError, match="homology.max_dim"):
        DiagramSettings.from_json(json.dumps({**data, "homology.max_dim": 5}))
    with pytest.raises(ValueError, match="distances.order"):
        PRSettings.from_json(json.dumps({"atlas": None, "distances.order": 0.5,
                                         "distances.ground_metric": 2}))
    with pytest.raises(ValueError, match="not JSON"):
        DiagramSettings.from_json("{max_dim: 1}")


def test_json_keeps_the_order_of_a_mapping():
    """The demo assigns groups in the order of demo.n_per_group: the settings a job gets
    must keep it, or the generated cohort differs from the one the workflow planned."""
    from tda_mci.settings import DemoSettings

    order = {"MCI": 3, "HC": 2, "LMCI": 4}
    settings = DemoSettings.from_config({"demo": {"n_per_group": order}})
    assert list(DemoSettings.from_json(settings.to_json()).n_per_group) == list(order)
    text = settings.to_json()
    assert text.index('"demo.n_per_group"') < text.index('"demo.n_volumes"')  # keys sorted


def test_a_stage_reads_only_its_keys():
    """A change to a key a stage does not read leaves its settings (its rerun trigger) alone."""
    base = TrainingSettings.from_config({})
    assert TrainingSettings.from_config({"classification": {"permutations": 7}}) == base
    assert TrainingSettings.from_config({"statistics": {"alpha": 0.05}}) == base
    assert TrainingSettings.from_config({"classification": {"epochs": 7}}) != base
    assert (DiagramSettings.from_config({"distances": {"order": 2}}).to_json()
            == DiagramSettings.from_config({}).to_json())


def test_every_rule_of_the_cli_has_its_settings_class():
    commands = {c.replace("-", "_") for c in COMMANDS}
    assert commands == set(STAGES)


def test_the_cli_holds_no_default():
    """Settings reach a subcommand only through --settings: no option of the CLI has a
    default of its own (files are required or absent; ``--threads`` is the job's resource)."""
    import argparse

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command, p in sub.choices.items():
        for action in p._actions:
            if action.required or isinstance(action, argparse._HelpAction):
                continue
            allowed = (1,) if action.dest == "threads" else (None, [], False)
            assert action.default in allowed, f"tda-mci {command} --{action.dest}"
        options = {a.dest for a in p._actions}
        assert "settings" in options or command == "dataset-description", command


# ----------------------------------------------------------------------------- library
#: Modules whose functions the stages call, and the config sections their parameters mean.
MODULE_SECTIONS = {
    "tda_mci.topology.windows": ["embedding"],
    "tda_mci.topology.homology": ["embedding", "homology"],
    "tda_mci.topology.distances": ["distances"],
    "tda_mci.stats.ranksum": ["statistics"],
    "tda_mci.stats.tables": ["statistics"],
    "tda_mci.stats.permanova": ["statistics"],
    "tda_mci.inputs.extract": ["extraction"],
    "tda_mci.inputs.series": ["extraction", "inputs.fmriprep"],
    "tda_mci.inputs.sources": ["inputs.fmriprep"],
    "tda_mci.inputs.demo": ["demo"],
    "tda_mci.cohort": ["qc"],
    "tda_mci.model.folds": ["classification"],
    "tda_mci.model.evaluate": ["classification"],
    "tda_mci.model.train": ["classification"],
    "tda_mci.figures": ["statistics"],
}
#: Parameter names that mean a differently named key.
ALIASES = {
    "lr": "learning_rate",
    "early_stopping": "early_stopping_patience",
    "n_permutations": "permutations",
}
#: Parameters named like a setting that are not that setting, and why.
NOT_SETTINGS = {
    # array of explicit permutations, not a count
    ("tda_mci.stats.permanova.permanova", "permutations"),
    # inference batches (memory only) and the trained model's own device
    ("tda_mci.model.train.predict_proba", "batch_size"),
    ("tda_mci.model.train.predict_proba", "device"),
    # None = no early stopping; the stage turns patience on with inner_val_fraction > 0
    ("tda_mci.model.train.train_model", "early_stopping"),
}
def _schema_key(module, sections, param):
    name = ALIASES.get(param, param)
    if module == "tda_mci.stats.permanova" and param == "n_permutations":
        name = "ps_permutations"
    for section in sections:
        key = f"{section}.{name}"
        if key in LEAVES:
            return key
    return None


def _same(a, b):
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b)
    return a == b


def _checked_defaults():
    found = []
    for module, sections in MODULE_SECTIONS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        for name, func in inspect.getmembers(mod, inspect.isfunction):
            if name.startswith("_") or not func.__module__.startswith(module):
                continue
            for param in inspect.signature(func).parameters.values():
                if param.default is inspect.Parameter.empty:
                    continue
                if (f"{func.__module__}.{name}", param.name) in NOT_SETTINGS:
                    continue
                key = _schema_key(module, sections, param.name)
                if key is not None:
                    found.append((f"{func.__module__}.{name}", param.name, param.default, key))
    return found


def test_library_defaults_equal_the_schema():
    checked = _checked_defaults()
    bad = [(f, p, d, k, schema_default(k)) for f, p, d, k in checked
           if not _same(d, schema_default(k))]
    assert not bad, "library defaults that differ from the schema: " + "; ".join(
        f"{f}({p}={d!r}) but {k} defaults to {s!r}" for f, p, d, k, s in bad)
    # the scan must really see the stage functions' parameters
    seen = {(f.rsplit(".", 1)[1], p) for f, p, _, _ in checked}
    for expected in [("sliding_window", "dimension"), ("subject_diagrams", "max_dim"),
                     ("persistence_diagrams", "backend"), ("wasserstein_distance", "order"),
                     ("distance_matrix", "ground_metric"), ("compare_groups", "alpha"),
                     ("ps_group_tests", "n_permutations"), ("extract_timeseries", "radius"),
                     ("cross_validate", "epochs"), ("cross_validate", "lr"),
                     ("make_folds", "n_repeats"), ("train_model", "batch_size"),
                     ("generate_demo_cohort", "n_volumes")]:
        assert expected in seen, expected
