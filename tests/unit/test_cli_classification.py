"""The classification subcommands end to end on a 20-ROI atlas: classify -> permutation ->
summarize, through ``tda_mci.cli.main`` with real files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tda_mci import io
from tda_mci.atlas import networks
from tda_mci.cli import main
from tda_mci.demo import simulate_roi_signals

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data_gen import write_atlas20  # noqa: E402

MODELS = ["cnn", "logreg", "rf", "corr_logreg"]


def output_files(root, prefix=""):
    """H0 and H1 of each PR model, then corr_logreg once (the order classify writes)."""
    return ([str(root / f"{prefix}H{d}_{m}.json") for d in (0, 1) for m in MODELS[:3]]
            + [str(root / f"{prefix}corr_logreg.json")])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """10 HC and 10 LMCI; LMCI carry the oscillation in visual ROIs 1-3."""
    root = tmp_path_factory.mktemp("cohort")
    atlas = write_atlas20(root / "atlas.tsv")
    effect = {"rois": [1, 2, 3], "weight": {"LMCI": 0.9}, "frequency_hz": 0.05,
              "pole_modulus": 0.97}
    subjects = [f"{i:02d}" for i in range(20)]
    groups = ["HC", "LMCI"] * 10
    pr, series = [], []
    for i, (s, g) in enumerate(zip(subjects, groups, strict=True)):
        x = simulate_roi_signals(atlas, g, 80, 2.0, np.random.default_rng([3, i]), effect)
        ts, dgm, prf = (root / f"sub-{s}_{k}" for k in ("ts.tsv", "dgm.npz", "pr.npz"))
        io.write_timeseries(ts, x, atlas["roi"].tolist(), {"RepetitionTime": 2.0})
        assert main(["diagrams", "--subject", s, "--input", str(ts), "--output", str(dgm),
                     "--max-dim", "1"]) == 0
        assert main(["pr", "--subject", s, "--input", str(dgm), "--output", str(prf),
                     "--atlas", str(root / "atlas.tsv")]) == 0
        pr.append(str(prf))
        series.append(str(ts))
    return {"atlas": atlas, "subjects": subjects, "groups": groups, "pr": pr,
            "series": series, "atlas_file": str(root / "atlas.tsv")}


def inputs(cohort, keep=slice(None)):
    """--subjects/--groups/--comparison and --pr/--timeseries/--atlas of ``keep``."""
    return ["--subjects", *cohort["subjects"][keep], "--groups", *cohort["groups"][keep],
            "--comparison", "HC", "LMCI", "--pr", *cohort["pr"][keep],
            "--timeseries", *cohort["series"][keep], "--atlas", cohort["atlas_file"]]


def classify(cohort, net, outputs, *extra):
    return main(["classify", *inputs(cohort), "--network", net,
                 "--models", *MODELS, "--outputs", *outputs, "--n-splits", "5",
                 "--n-repeats", "1", "--epochs", "3", "--device", "cpu", *extra])


def test_classify_permutation_summarize(cohort, tmp_path):
    nets = list(networks(cohort["atlas"]))
    records = []
    for net in nets:
        outputs = output_files(tmp_path, f"{net}_")
        extra = ["--out-curves", str(tmp_path / f"{net}_curves.png")]
        assert classify(cohort, net, outputs, *extra) == 0
        assert (tmp_path / f"{net}_curves.png").stat().st_size > 10_000
        records += outputs
    out, fig = tmp_path / "perm.json", tmp_path / "perm.png"
    assert main(["permutation", *inputs(cohort), "--results", *records,
                 "--permutations", "9", "--device", "cpu", "--output", str(out),
                 "--figure", str(fig)]) == 0
    perm = io.read_json(out)
    best = max((io.read_json(r) for r in records),
               key=lambda r: r["summary"]["accuracy"]["mean"])
    assert perm["observed"] == best["summary"]["accuracy"]["mean"]
    assert perm["network"] == "visual"  # the planted network wins
    assert len(perm["null"]) == 9 and perm["pvalue"] == pytest.approx(
        (1 + sum(v >= perm["observed"] for v in perm["null"])) / 10)
    assert perm["pvalue"] == pytest.approx(0.1)  # beats all 9 permutations
    summary, best_tsv = tmp_path / "summary.tsv", tmp_path / "best.tsv"
    assert main(["summarize", "--inputs", *records, "--permutations", str(out),
                 "--output", str(summary), "--out-best", str(best_tsv),
                 "--out-heatmap", str(tmp_path / "heat.png")]) == 0
    table = pd.read_csv(best_tsv, sep="\t")
    assert "index" not in table.columns and len(table) == 1
    row = table.iloc[0]
    assert (row["model"], row["network"], row["dimension"]) == (
        perm["model"], perm["network"], "-" if perm["dim"] is None else f"H{perm['dim']}")
    assert row["p_value"] == pytest.approx(perm["pvalue"])
    # corr_logreg: one row per comparison, no homology dimension
    rows = pd.read_csv(summary, sep="\t", keep_default_na=False)
    assert rows.loc[rows["model"] == "corr_logreg", "dimension"].tolist() == ["-"]
    assert io.read_json(records[-1])["settings"]["dim"] is None


def test_classify_refuses_a_wrong_number_of_outputs(cohort, tmp_path, capsys):
    assert classify(cohort, "visual", output_files(tmp_path)[:-1]) == 1
    assert "7 files needed" in capsys.readouterr().err


def test_permutation_refuses_records_of_other_folds(cohort, tmp_path, capsys):
    outputs = output_files(tmp_path)
    assert classify(cohort, "visual", outputs, "--seed", "4") == 0
    # same records, but the cohort lost two subjects since: the folds cannot be rebuilt
    assert main(["permutation", *inputs(cohort, slice(0, 18)),
                 "--results", *outputs, "--permutations", "3", "--device", "cpu",
                 "--output", str(tmp_path / "p.json"), "--figure", str(tmp_path / "p.png")]) == 1
    assert "folds differ" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_early_stopping_settings_reach_training_and_the_permutation_test(
        cohort, tmp_path, monkeypatch):
    import tda_mci.model.evaluate as evaluate

    outputs = [str(tmp_path / f"H{d}_cnn.json") for d in (0, 1)]
    assert main(["classify", *inputs(cohort), "--network", "visual", "--models", "cnn",
                 "--outputs", *outputs, "--n-splits", "4", "--n-repeats", "1",
                 "--epochs", "40", "--learning-rate", "0.01", "--device", "cpu",
                 "--inner-val-fraction", "0.25", "--early-stopping-patience", "2"]) == 0
    record = io.read_json(outputs[0])
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
    real = evaluate.cross_validate

    def spy(*args, **kwargs):
        seen.append((kwargs["inner_val_fraction"], kwargs["early_stopping"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "cross_validate", spy)
    assert main(["permutation", *inputs(cohort), "--results", *outputs,
                 "--permutations", "2", "--device", "cpu",
                 "--output", str(tmp_path / "p.json"), "--figure", str(tmp_path / "p.png")]) == 0
    assert seen == [(0.25, 2)] * 2
