"""The workflow end to end: lint, dry run and a full run of the tiny test config."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tda_mci import io
from tda_mci.settings import MethodsSettings

CONFIG = Path(__file__).resolve().parent / "config.yaml"

#: The entities of the demo scans and group outputs (task, space) and the atlas.
G = "task-rest_space-MNI152NLin2009cAsym_atlas-dosenbach160"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, snakemake):
    """A full run of the tiny config (run once for the module)."""
    work = tmp_path_factory.mktemp("wf")
    result = snakemake(work, CONFIG)
    assert result.returncode == 0, result.stderr[-5000:]
    return work


def test_lint_has_no_findings(tmp_path, snakemake):
    result = snakemake(tmp_path, CONFIG, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_dry_run_lists_every_stage(tmp_path, snakemake):
    result = snakemake(tmp_path, CONFIG, "-n")
    assert result.returncode == 0, result.stderr
    for rule in ("demo_cohort", "extract_timeseries", "compute_diagrams", "roi_distances",
                 "subject_distances", "wilcoxon_tests", "train_classifiers",
                 "summarize_classification", "permutation_test", "plot_diagrams",
                 "runtime_statistics", "dataset_description", "methods_text"):
        assert rule in result.stdout, rule
    # 999 PERMANOVA permutations cannot let BH (q 0.05, 160 ROIs) mark a lone ROI: said now
    assert ("Warning: statistics.ps_permutations = 999: the smallest attainable PERMANOVA p is "
            "0.001") in result.stdout + result.stderr


def test_enough_permutations_raise_no_warning(tmp_path, snakemake):
    config = yaml.safe_load(CONFIG.read_text())
    config["statistics"]["ps_permutations"] = 3200
    result = snakemake(tmp_path, config, "-n")
    assert result.returncode == 0, result.stderr
    assert "smallest attainable PERMANOVA p" not in result.stdout + result.stderr


def test_misspelled_config_key_fails(tmp_path, snakemake):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.read_text() + "statistic:\n  alpha: 0.05\n")
    result = snakemake(tmp_path, bad, "-n")
    assert result.returncode != 0
    assert "statistic" in result.stdout + result.stderr


def test_expected_files(run_dir):
    res = run_dir / "results"
    subjects = sorted(p.name for p in res.glob("sub-*"))
    assert len(subjects) == 8
    s = subjects[0]
    stem = f"{s}_{G}"
    func = res / s / "func"
    for name in (f"{stem}_timeseries.tsv", f"{stem}_timeseries.json",
                 f"{stem}_win-3_delay-1_dgm.npz", f"{stem}_desc-PR_dist.npz"):
        assert (func / name).is_file(), name
    group = res / "group"
    assert len(list((group / "ps").glob("*_desc-PS_dist.npz"))) == 2
    for name in (f"stats/{G}_comp-HCvsLMCI_stat.npz",
                 f"stats/{G}_comp-HCvsLMCI_desc-significant_pairs.tsv",
                 f"figures/{G}_comp-HCvsLMCI_net-DMN_pplot.png",
                 f"classification/{G}_summary.tsv"):
        assert (group / name).is_file(), name
    # per network: 3 dimensions x 3 PR models, and corr_logreg once
    assert len(list((group / "classification").glob("*_metrics.json"))) == 6 * (3 * 3 + 1)
    for name in (f"stats/{G}_comp-HCvsLMCI_desc-PS_permanova.tsv",
                 f"figures/{G}_comp-HCvsLMCI_connectome.html",
                 f"figures/{G}_accuracy.png",
                 f"classification/{G}_desc-best_summary.tsv",
                 f"classification/{G}_comp-HCvsLMCI_desc-best_permutation.json",
                 f"figures/{G}_comp-HCvsLMCI_desc-best_permutation.png",
                 f"figures/{G}_comp-HCvsLMCI_desc-tophub_dgm.png"):
        assert (group / name).is_file(), name
    assert len(list((group / "figures").glob("*_model-cnn_curves.png"))) == 6
    assert (res / "dataset_description.json").is_file()
    logs = run_dir / "results" / "logs"  # under out_dir, like everything else
    assert logs.is_dir() and any(logs.rglob("*.log")) and not (run_dir / "logs").exists()


def test_outputs_are_consistent(run_dir):
    res = run_dir / "results"
    s = sorted(p.name for p in res.glob("sub-*"))[0]
    stem = res / s / "func" / f"{s}_{G}"
    series, rois = io.read_timeseries(f"{stem}_timeseries.tsv")
    assert series.shape == (40, 160) and rois == list(range(1, 161))
    diagrams, _, meta = io.read_diagrams(f"{stem}_win-3_delay-1_dgm.npz")
    assert len(diagrams) == 160 and all(len(d) == 3 for d in diagrams)
    # H0 of T-2 = 38 points: 37 finite bars (one infinite bar implied), all born at 0
    assert all(d[0].shape == (37, 2) and np.all(d[0][:, 0] == 0) for d in diagrams)
    pr, _, _ = io.read_pr(f"{stem}_desc-PR_dist.npz")
    assert pr["DMN"].shape == (3, 34, 34)
    assert np.allclose(pr["DMN"], pr["DMN"].transpose(0, 2, 1))
    summary = pd.read_csv(next((res / "group" / "classification").glob("*_summary.tsv")),
                          sep="\t")
    assert len(summary) > 0
    # the best model's permutation p-value reaches the Table 3 layout
    best = pd.read_csv(next((res / "group" / "classification").glob("*_desc-best_summary.tsv")),
                       sep="\t").iloc[0]
    perm = io.read_record(next((res / "group" / "classification").glob("*_permutation.json")),
                          "permutation")
    assert (best["model"], best["network"], best["dimension"]) == (
        perm["model"], perm["network"], "-" if perm["dim"] is None else f"H{perm['dim']}")
    assert best["p_value"] == perm["pvalue"] and len(perm["null"]) == 9
    # runtime statistics: one row per benchmarked rule, every job counted once
    runtime = pd.read_csv(next((res / "group" / "runtime").glob("*_runtime.tsv")), sep="\t")
    root = run_dir / "results" / "benchmarks"
    files = list(root.rglob("*.tsv"))  # per-scan jobs: <rule>/sub-<label>/.../<stem>.tsv
    assert runtime.set_index("rule").loc["all rules", "jobs"] == len(files) > 0
    assert set(runtime["rule"]) == {f.relative_to(root).parts[0] for f in files} | {"all rules"}
    assert {"extract_timeseries", "compute_diagrams", "roi_distances"} <= set(runtime["rule"])
    desc = io.read_json(res / "dataset_description.json")
    assert desc["GeneratedBy"][0]["Name"] == "tda_mci" and len(desc["ConfigHash"]) == 64


def test_report_contains_pplots_and_summary(run_dir, snakemake):
    result = snakemake(run_dir, CONFIG, "--report", "report.zip")
    assert result.returncode == 0, result.stderr[-3000:]
    import zipfile

    with zipfile.ZipFile(run_dir / "report.zip") as z:
        names = z.namelist()
        html = next(z.read(n).decode() for n in names if n.endswith("report.html"))
        methods = next(z.read(n).decode() for n in names if n.endswith("methods.html"))
    assert any(n.endswith("_net-DMN_pplot.png") for n in names)
    assert any(n.endswith("_summary.tsv") for n in names)
    assert any(n.endswith("_model-cnn_curves.png") for n in names)
    assert any(n.endswith("_desc-best_permutation.png") for n in names)
    assert any(n.endswith("_runtime.tsv") for n in names)
    for category in ("Time series", "Diagrams", "Distances", "Group statistics",
                     "Classification", "QC", "Runtime", "Methods"):
        assert category in html, category
    # the methods text of this run: the demo's images, 40 volumes, this config's settings
    assert "tda_mci" in html
    assert "NiftiSpheresMasker" in methods and "Every volume was kept: 40 per subject" in methods
    assert "persim.wasserstein" in methods and "trained for 2 epochs" in methods


def _planned(dry_run_stdout):
    """``{rule: [reasons]}`` of the jobs a dry run plans."""
    jobs, rule = {}, None
    for line in dry_run_stdout.splitlines():
        stripped = line.strip()
        if stripped.startswith(("rule ", "localrule ", "checkpoint ")) and stripped.endswith(":"):
            rule = stripped.split()[1].rstrip(":")
            jobs.setdefault(rule, [])
        elif rule and stripped.startswith("reason:"):
            jobs[rule].append(stripped)
    return jobs


@pytest.mark.parametrize(("change", "rerun"), [
    ({"statistics": {"alpha": 0.05}}, {"wilcoxon_tests"}),
    ({"statistics": {"ps_fdr_level": 0.1}}, {"permanova_tests"}),
    ({"classification": {"epochs": 3}}, {"train_classifiers"}),
    # read by the permutation test only: the 24 training jobs, which read the rest of
    # `classification`, must not rerun
    ({"classification": {"permutations": 5}}, {"permutation_test"}),
    ({"homology": {"backend": "ripser"}}, {"compute_diagrams"}),
])
def test_a_changed_setting_reruns_exactly_the_jobs_that_read_it(run_dir, snakemake, change,
                                                                 rerun):
    """Snakemake's params trigger: a job whose settings changed reruns (and what depends on
    its outputs); nothing else does."""
    config = yaml.safe_load(CONFIG.read_text())
    for section, values in change.items():
        config.setdefault(section, {}).update(values)
    changed = run_dir / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    result = snakemake(run_dir, changed, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _planned(result.stdout)
    params_changed = {r for r, reasons in jobs.items()
                      if any("params" in reason.lower() for reason in reasons)}
    # dataset_description records the whole configuration: any change reruns it; the methods
    # text reruns when the key is one it describes (all of these are)
    changed_keys = {f"{section}.{name}" for section, values in change.items() for name in values}
    described = set(MethodsSettings.keys().values())
    assert changed_keys <= described
    assert params_changed == rerun | {"dataset_description", "methods_text"}, jobs


def _training_settings(dry_run_stdout):
    """The --settings JSON of every train_classifiers job of a dry run (-p)."""
    import json
    import shlex

    found = set()
    for line in dry_run_stdout.splitlines():
        command = line.strip().removeprefix("Shell command:").strip()
        if command.startswith("tda-mci train-classifiers"):
            args = shlex.split(command)
            found.add(args[args.index("--settings") + 1])
    return [json.loads(s) for s in sorted(found)]


def test_a_user_config_means_the_same_from_any_folder(tmp_path, snakemake, copy_workflow):
    """The workflow reads no configuration of its own: a user config that leaves the
    classification keys out gets the schema's (the paper's) values, whether it runs in the
    repository (beside config.yaml and demo.yaml) or from another folder."""
    snakefile = copy_workflow(tmp_path / "repo")
    user = {"inputs": {"kind": "demo"}, "demo": {"n_per_group": {"HC": 5, "LMCI": 5}},
            "statistics": {"comparisons": [["HC", "LMCI"]]}}
    (tmp_path / "elsewhere").mkdir()
    runs = {}
    for where in ("repo", "elsewhere"):
        config = tmp_path / f"user_{where}.yaml"
        config.write_text(yaml.safe_dump(user))
        result = snakemake(tmp_path / where, config, "-n", "-p", snakefile=snakefile)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[where] = _training_settings(result.stdout)
    assert runs["repo"] and runs["repo"] == runs["elsewhere"]
    for settings in runs["repo"]:
        assert settings["classification.epochs"] == 100
        assert settings["classification.n_repeats"] == 3


def test_the_demo_config_holds_only_the_demo_shortcuts():
    """demo.yaml = config.yaml (= the schema's defaults) with two shortcuts."""
    from tda_mci.settings import validate_config

    root = Path(__file__).resolve().parents[2]
    shipped = validate_config(yaml.safe_load((root / "config.yaml").read_text()))
    assert shipped == validate_config({})
    demo = validate_config(yaml.safe_load((root / "demo.yaml").read_text()))
    assert demo["classification"].pop("epochs") == 10
    assert demo["classification"].pop("n_repeats") == 1
    del shipped["classification"]["epochs"], shipped["classification"]["n_repeats"]
    assert demo == shipped
