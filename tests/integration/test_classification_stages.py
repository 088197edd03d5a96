"""The classification subcommands end to end on a 20-ROI atlas, through ``tda_mci.cli.main``
with real files: compute-diagrams -> roi-distances -> train-classifiers -> permutation-test
-> summarize-classification."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from data_gen import write_atlas20

from tda_mci import io
from tda_mci.atlas import networks
from tda_mci.cli import main
from tda_mci.inputs.demo import simulate_roi_signals
from tda_mci.paths import Layout

MODELS = ["cnn", "logreg", "rf", "corr_logreg"]
COMPARISON = ["--comparison", "HC", "LMCI"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """10 HC and 10 LMCI; LMCI carry the oscillation in visual ROIs 1-3."""
    root = tmp_path_factory.mktemp("cohort")
    atlas_file = root / "atlas.tsv"
    atlas = write_atlas20(atlas_file)
    layout = Layout(out_dir=str(root / "results"), atlas="custom")
    config = {"atlas": str(atlas_file), "homology": {"max_dim": 1}}
    effect = {"rois": [1, 2, 3], "weight": {"LMCI": 0.9}, "frequency_hz": 0.05,
              "pole_modulus": 0.97}
    subjects = [f"{i:02d}" for i in range(20)]
    groups = ["HC", "LMCI"] * 10
    for i, (s, g) in enumerate(zip(subjects, groups, strict=True)):
        x = simulate_roi_signals(atlas, g, 80, 2.0, np.random.default_rng([3, i]), effect)
        io.write_timeseries(layout.timeseries(s), x, atlas["roi"].tolist(),
                            {"RepetitionTime": 2.0})
        dgm = layout.diagrams(3, 1, s)
        assert main(["compute-diagrams", "--settings", settings("compute_diagrams", config),
                     "--subject", s, "--timeseries", layout.timeseries(s),
                     "--output", dgm]) == 0
        assert main(["roi-distances", "--settings", settings("roi_distances", config),
                     "--subject", s, "--diagrams", dgm, "--output", layout.pr(s)]) == 0
    table = pd.DataFrame({"participant_id": [f"sub-{s}" for s in subjects],
                          "subject": subjects, "group": groups})
    io.write_cohort(root / "included.tsv", table)
    return {"atlas": atlas, "config": config, "layout": layout, "subjects": subjects,
            "cohort": str(root / "included.tsv")}


def settings(rule, config):
    from tda_mci.settings import STAGES

    return STAGES[rule].from_config(config).to_json()


def inputs(cohort, keep=slice(None)):
    """--cohort, --comparison, --pr and --timeseries of the subjects ``keep``."""
    layout, subjects = cohort["layout"], cohort["subjects"][keep]
    return ["--cohort", cohort["cohort"], *COMPARISON,
            "--pr", *[layout.pr(s) for s in subjects],
            "--timeseries", *[layout.timeseries(s) for s in subjects]]


def metrics_files(cohort, net, models=MODELS, dims=(0, 1)):
    """The metrics files of one network, named as the workflow names them."""
    layout = cohort["layout"]
    files = [layout.metrics(d, m, "HCvsLMCI", net) for d in dims for m in models
             if m != "corr_logreg"]
    return files + [layout.metrics(None, m, "HCvsLMCI", net) for m in models
                    if m == "corr_logreg"]


def train(cohort, net, outputs, *extra, **config):
    cfg = {**cohort["config"], "classification": {
        "n_splits": 5, "n_repeats": 1, "epochs": 3, "device": "cpu", **config}}
    return main(["train-classifiers", "--settings", settings("train_classifiers", cfg),
                 *inputs(cohort), "--network", net, "--outputs", *outputs, *extra])


def permutation(cohort, records, out, keep=slice(None), permutations=9):
    cfg = {**cohort["config"], "classification": {"permutations": permutations,
                                                   "device": "cpu"}}
    return main(["permutation-test", "--settings", settings("permutation_test", cfg),
                 *inputs(cohort, keep), "--records", *records, "--output", str(out),
                 "--figure", str(out.with_suffix(".png"))])


def test_train_permutation_summarize(cohort, tmp_path):
    nets = list(networks(cohort["atlas"]))
    records = []
    for net in nets:
        outputs = metrics_files(cohort, net)
        curves = tmp_path / f"{net}_curves.png"
        # the files are passed in reverse order: the stage reads dim and model from names
        assert train(cohort, net, outputs[::-1], "--curves", str(curves)) == 0
        assert curves.stat().st_size > 10_000
        for path in outputs:
            s = io.read_record(path, "metrics")["settings"]
            name = cohort["layout"].metrics(s["dim"], s["model"], "HCvsLMCI", net)
            assert name == path
        records += outputs
    out = tmp_path / "perm.json"
    assert permutation(cohort, records, out) == 0
    perm = io.read_record(out, "permutation")
    best = max((io.read_record(r, "metrics") for r in records),
               key=lambda r: r["summary"]["accuracy"]["mean"])
    assert perm["observed"] == best["summary"]["accuracy"]["mean"]
    assert perm["network"] == "visual"  # the planted network wins
    assert len(perm["null"]) == 9 and perm["pvalue"] == pytest.approx(
        (1 + sum(v >= perm["observed"] for v in perm["null"])) / 10)
    assert perm["pvalue"] == pytest.approx(0.1)  # beats all 9 permutations
    outputs = {"summary": str(tmp_path / "summary.tsv"), "best": str(tmp_path / "best.tsv"),
               "heatmap": str(tmp_path / "heat.png")}
    assert main(["summarize-classification", "--settings", "{}", "--records", *records,
                 "--permutation-tests", str(out), "--outputs", json.dumps(outputs)]) == 0
    table = pd.read_csv(outputs["best"], sep="\t")
    assert "index" not in table.columns and len(table) == 1
    row = table.iloc[0]
    assert (row["model"], row["network"], row["dimension"]) == (
        perm["model"], perm["network"], "-" if perm["dim"] is None else f"H{perm['dim']}")
    assert row["p_value"] == pytest.approx(perm["pvalue"])
    # corr_logreg: one row per comparison, no homology dimension
    rows = pd.read_csv(outputs["summary"], sep="\t", keep_default_na=False)
    assert rows.loc[rows["model"] == "corr_logreg", "dimension"].tolist() == ["-"]
    assert io.read_record(records[-1], "metrics")["settings"]["dim"] is None


def test_train_refuses_a_file_that_names_no_model(cohort, tmp_path, capsys):
    bad = str(tmp_path / "task-rest_net-visual_dim-0_metrics.json")
    assert train(cohort, "visual", [bad]) == 1
    assert "no model- entity" in capsys.readouterr().err


def test_permutation_refuses_records_of_other_folds(cohort, tmp_path, capsys):
    outputs = metrics_files(cohort, "visual")
    assert train(cohort, "visual", outputs, seed=4) == 0
    # same records, but the cohort lost two subjects since: the folds cannot be rebuilt
    smaller = pd.DataFrame({"participant_id": [f"sub-{s}" for s in cohort["subjects"][:18]],
                            "subject": cohort["subjects"][:18],
                            "group": ["HC", "LMCI"] * 9})
    io.write_cohort(tmp_path / "smaller.tsv", smaller)
    out = tmp_path / "p.json"
    assert permutation({**cohort, "cohort": str(tmp_path / "smaller.tsv")}, outputs, out,
                       permutations=3) == 1
    assert "folds differ" in capsys.readouterr().err
    assert not out.exists()


def test_early_stopping_settings_reach_training_and_the_permutation_test(
        cohort, tmp_path, monkeypatch):
    import tda_mci.model.stages as stages

    outputs = metrics_files(cohort, "visual", models=["cnn"])
    assert train(cohort, "visual", outputs, n_splits=4, epochs=40, learning_rate=0.01,
                 inner_val_fraction=0.25, early_stopping_patience=2) == 0
    record = io.read_record(outputs[0], "metrics")
    s = record["settings"]
    assert (s["inner_val_fraction"], s["early_stopping_patience"]) == (0.25, 2)
    # 15 training subjects per fold, a quarter of them (stratified) held out for validation
    folds = record["fold_metrics"]
    assert [f["n_train"] + f["n_val"] for f in folds] == [15] * 4
    assert all(f["n_val"] == 4 and f["n_test"] == 5 for f in folds)
    assert all(f["best_epoch"] <= f["epochs_run"] <= 40 for f in folds)
    assert any(f["epochs_run"] < 40 for f in folds)  # patience 2 stopped some fold early
    curves = pd.DataFrame(record["learning_curves"])
    assert np.isfinite(curves["val_loss"]).all()

    seen = []
    real = stages.permutation_pvalue

    def spy(*args, **kwargs):
        seen.append((kwargs["inner_val_fraction"], kwargs["early_stopping"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "permutation_pvalue", spy)
    assert permutation(cohort, outputs, tmp_path / "p.json", permutations=2) == 0
    assert seen == [(0.25, 2)]
