"""Command-line interface: ``tda-mci <stage>``, one subcommand per workflow rule.

Each subcommand reads files, calls one array-in/array-out library function and writes
files (atomically). Errors in the data exit with status 1 and a one-line message that
names the subject, the file and the reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tda_mci import io

log = logging.getLogger("tda_mci")


# ----------------------------------------------------------------------------- helpers
def _metric(args: argparse.Namespace) -> dict[str, float]:
    """Distance options from ``--order`` / ``--ground-metric`` ("inf" allowed)."""
    return {"order": float(args.order), "ground_metric": float(args.ground_metric)}


def _atlas(path: str | None):
    from tda_mci.atlas import load_atlas

    return load_atlas(path or None)


def _pairs(keys: Sequence[str], values: Sequence[str], what: str) -> dict[str, str]:
    if len(keys) != len(values):
        raise ValueError(f"{len(keys)} {what} names but {len(values)} files")
    return dict(zip(keys, values, strict=True))


def _add_metric(p: argparse.ArgumentParser) -> None:
    p.add_argument("--order", default="1", help="Wasserstein order q >= 1, or inf (bottleneck)")
    p.add_argument("--ground-metric", default="2", help="ground metric p: 1, 2 or inf")


def _add_group(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subjects", nargs="+", required=True, help="subject labels, input order")
    p.add_argument("--groups", nargs="+", required=True, help="group of each subject")
    p.add_argument("--comparison", nargs=2, required=True, metavar=("REF", "OTHER"))


def _comparison_labels(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Return the compared subjects' indices and their 0/1 labels (0 = reference group)."""
    if len(args.subjects) != len(args.groups):
        raise ValueError(f"{len(args.subjects)} subjects but {len(args.groups)} groups")
    groups = np.asarray(args.groups)
    keep = np.flatnonzero(np.isin(groups, args.comparison))
    return keep, (groups[keep] == args.comparison[1]).astype(int)


# ----------------------------------------------------------------------------- stages
def cmd_demo(args: argparse.Namespace) -> None:
    """Generate the demo cohort."""
    from tda_mci.demo import generate_demo_cohort

    n_per_group = {k: int(v) for k, v in (s.split("=") for s in args.n_per_group)}
    generate_demo_cohort(
        Path(args.participants).parent,
        n_per_group=n_per_group,
        n_volumes=args.n_volumes,
        tr=args.tr,
        seed=args.seed,
    )


def _subject_series(args: argparse.Namespace):
    """Read and check one subject's series from the source arguments (timeseries, screen)."""
    from tda_mci.inputs import load_subject_series

    atlas = _atlas(args.atlas)
    sources = {"bold": args.source, "timeseries": args.source, "mask": args.mask,
               "confounds": args.confounds, "network_csv": args.network_files or []}
    if args.kind == "network_csv" and not args.network_files:
        raise ValueError("--kind network_csv needs --network-files")
    if args.kind != "network_csv" and not args.source:
        raise ValueError(f"--kind {args.kind} needs --source")
    extraction = {"radius": args.radius, "detrend": args.detrend, "low_pass": args.low_pass,
                  "high_pass": args.high_pass,
                  "standardize": None if args.standardize == "none" else args.standardize}
    data, sidecar = load_subject_series(
        args.kind, sources, atlas, subject=args.subject, t_r=args.t_r,
        min_volumes=args.min_volumes, embedding=(args.embedding_dimension, args.embedding_delay),
        extraction=extraction, denoise_strategy=args.denoise_strategy,
        atlas_name=args.atlas or "dosenbach160",
    )
    return atlas, data, sidecar


def cmd_timeseries(args: argparse.Namespace) -> None:
    """Extract (images) or import (tables) one subject's checked ROI time series."""
    atlas, data, sidecar = _subject_series(args)
    io.write_timeseries(args.output, data, atlas["roi"].tolist(), sidecar)
    log.info("sub-%s: %d volumes x %d ROIs -> %s", args.subject, *data.shape, args.output)


def cmd_screen(args: argparse.Namespace) -> None:
    """Check one subject's data; record included, or excluded with file and reason."""
    from tda_mci.extract import SubjectDataError
    from tda_mci.qc import screen_record

    try:
        _, data, sidecar = _subject_series(args)
    except SubjectDataError as err:
        log.warning("excluding sub-%s: %s", args.subject, err)
        record = screen_record(args.subject, err)
    else:
        log.info("sub-%s passes: %d volumes x %d ROIs", args.subject, *data.shape)
        record = screen_record(args.subject, None, sidecar)
    io.write_json(args.output, record)


def cmd_screen_cohort(args: argparse.Namespace) -> None:
    """Included and excluded tables of the cohort; group sizes checked after exclusions."""
    import pandas as pd

    from tda_mci.qc import check_included_groups, exclusion_tables

    if len(args.subjects) != len(args.groups):
        raise ValueError(f"{len(args.subjects)} subjects but {len(args.groups)} groups")
    participants = pd.DataFrame({"participant_id": [f"sub-{s}" for s in args.subjects],
                                 "subject": args.subjects, "group": args.groups})
    records = {path: io.read_json(path) for path in args.records}
    included, excluded = exclusion_tables(participants, records)
    pairs = [c.split(":") for c in args.comparisons or []]
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"--comparisons takes REF:OTHER pairs, got {args.comparisons}")
    # Write the tables first: on failure the exclusion table still explains why.
    io.write_tsv(args.excluded, excluded)
    for r in excluded.itertuples():
        log.warning("excluded %s (%s): %s: %s", r.participant_id, r.group, r.file, r.reason)
    try:
        check_included_groups(included, excluded, pairs, args.min_group_size,
                              setting=args.min_group_size_setting)
    except ValueError:
        Path(args.included).unlink(missing_ok=True)
        raise
    io.write_tsv(args.included, included)
    log.info("%d included, %d excluded", len(included), len(excluded))


def cmd_carpet(args: argparse.Namespace) -> None:
    """Carpet plot of one subject's ROI time series."""
    from tda_mci.qc import carpet_plot

    atlas = _atlas(args.atlas)
    data, rois = io.read_timeseries(args.input)
    if rois != atlas["roi"].tolist():
        raise ValueError(f"sub-{args.subject}: {args.input}: ROI order differs from the atlas")
    carpet_plot(data, atlas, args.output, title=f"sub-{args.subject}", t_r=args.t_r)


def cmd_qc_cohort(args: argparse.Namespace) -> None:
    """Cohort QC table (one row per participant) and its figure."""
    import pandas as pd

    from tda_mci.qc import cohort_qc_table, plot_cohort_qc

    if len(args.subjects) != len(args.groups):
        raise ValueError(f"{len(args.subjects)} subjects but {len(args.groups)} groups")
    participants = pd.DataFrame({"participant_id": [f"sub-{s}" for s in args.subjects],
                                 "subject": args.subjects, "group": args.groups})
    included = pd.read_csv(args.included, sep="\t", dtype=str)
    excluded = pd.read_csv(args.excluded, sep="\t", dtype=str, keep_default_na=False)
    if len(included) != len(args.sidecars):
        raise ValueError(f"{len(included)} included subjects but {len(args.sidecars)} sidecars")
    sidecars = {s: io.read_json(p) for s, p in zip(included["subject"], args.sidecars, strict=True)}
    table = cohort_qc_table(participants, sidecars, excluded, _atlas(args.atlas))
    io.write_tsv(args.output_table, table)
    plot_cohort_qc(table, args.output_figure)


def cmd_diagrams(args: argparse.Namespace) -> None:
    """Compute persistence diagrams H0..max_dim for every ROI of one subject."""
    from tda_mci.homology import subject_diagrams

    data, rois = io.read_timeseries(args.input)
    t0 = time.perf_counter()
    step = max(1, len(rois) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            log.info("sub-%s: %d/%d ROIs (%.1f s)", args.subject, done, total,
                     time.perf_counter() - t0)

    diagrams = subject_diagrams(
        data, dimension=args.dimension, delay=args.delay, max_dim=args.max_dim,
        backend=args.backend, n_jobs=args.n_jobs, progress=progress,
    )
    log.info("sub-%s: %d ROIs in %.1f s", args.subject, len(rois), time.perf_counter() - t0)
    meta = {
        "subject": args.subject, "dimension": args.dimension, "delay": args.delay,
        "max_dim": args.max_dim, "backend": args.backend, "source": args.input,
        "filtration": "Vietoris-Rips, Euclidean distance, coefficients Z/2",
        "bars": "finite (birth, death) pairs; H0's single infinite bar implied",
    }
    io.save_diagrams(args.output, diagrams, rois, meta)


def cmd_pr(args: argparse.Namespace) -> None:
    """Inter-ROI (PR) Wasserstein matrices of one subject, per network."""
    from tda_mci.atlas import networks
    from tda_mci.distances import roi_distance_matrices

    atlas = _atlas(args.atlas)
    diagrams, rois, meta = io.load_diagrams(args.input)
    if rois != atlas["roi"].tolist():
        raise ValueError(f"sub-{args.subject}: {args.input}: ROI order differs from the atlas")
    nets = networks(atlas)
    mats = roi_distance_matrices(diagrams, nets, n_jobs=args.n_jobs, **_metric(args))
    arrays = {}
    for key, idx in nets.items():
        arrays[key] = mats[key]
        arrays[f"{key}_rois"] = atlas["roi"].to_numpy()[idx]
    io.save_arrays(
        args.output,
        meta={"subject": args.subject, "kind": "PR", "order": args.order,
              "ground_metric": args.ground_metric, "diagrams": args.input,
              "axes": "(homology dimension, ROI, ROI), ROIs in atlas order within the network"},
        **arrays,
    )


def cmd_ps(args: argparse.Namespace) -> None:
    """Inter-subject (PS) Wasserstein matrices for a block of ROIs."""
    from tda_mci.distances import subject_distance_matrices

    files = _pairs(args.subjects, args.inputs, "subject")
    rows = [int(r) for r in args.rows]
    per_subject = []
    rois = None
    for subject, path in files.items():
        diagrams, rois_s, _ = io.load_diagrams(path)
        if rois is None:
            rois = rois_s
        elif rois_s != rois:
            raise ValueError(f"sub-{subject}: {path}: ROI order differs from the other subjects")
        per_subject.append([diagrams[r] for r in rows])
    out = {}
    for j, row in enumerate(rows):
        t0 = time.perf_counter()
        out[f"roi{rois[row]}"] = subject_distance_matrices(
            [d[j] for d in per_subject], n_jobs=args.n_jobs, **_metric(args)
        )
        log.info("ROI %d (%d/%d): %.1f s", rois[row], j + 1, len(rows), time.perf_counter() - t0)
    io.save_arrays(
        args.output,
        meta={"kind": "PS", "order": args.order, "ground_metric": args.ground_metric,
              "axes": "(homology dimension, subject, subject)"},
        subjects=np.asarray(args.subjects), rois=np.asarray([rois[r] for r in rows]), **out,
    )


def cmd_stats(args: argparse.Namespace) -> None:
    """Rank-sum tests between two groups on every PR pair; tables and P-plots."""
    from tda_mci.atlas import networks
    from tda_mci.plotting import (
        plot_connectome_glass,
        plot_hubs,
        plot_pplot,
        plot_pplot_overview,
        write_connectome_html,
    )
    from tda_mci.stats import compare_groups, hub_table, significant_pairs_table

    atlas = _atlas(args.atlas)
    nets = networks(atlas)
    keep, labels = _comparison_labels(args)
    stacks = {key: [] for key in nets}
    for i in keep:
        arrays, _ = io.load_arrays(args.inputs[i])
        for key in nets:
            stacks[key].append(arrays[key])
    results = {}
    for key in nets:
        x = np.stack(stacks[key])  # (subjects, dims, n, n)
        for dim in range(x.shape[1]):
            results[key, dim] = compare_groups(
                x[labels == 0, dim], x[labels == 1, dim], alpha=args.alpha
            )
    comp = f"{args.comparison[0]} vs {args.comparison[1]}"
    sig = significant_pairs_table(results, atlas, nets, args.alpha, comp)
    hubs = hub_table(sig, atlas)
    io.save_arrays(
        args.out_stats,
        meta={"comparison": list(args.comparison), "alpha": args.alpha,
              "n": [int((labels == 0).sum()), int((labels == 1).sum())],
              "test": "two-sided Mann-Whitney U (rank-sum) per ROI pair"},
        **{f"{key}_H{dim}_{name}": value
           for (key, dim), res in results.items() for name, value in res.items()},
    )
    io.write_tsv(args.out_pairs, sig)
    io.write_tsv(args.out_hubs, hubs)
    for key, path in _pairs(list(nets), args.out_pplots, "network").items():
        dims = sorted(d for (k, d) in results if k == key)
        labels_k = atlas["label"].to_numpy()[nets[key]].tolist()
        plot_pplot([results[key, d] for d in dims], labels_k, args.alpha,
                   f"{comp}: {key}", path)
    plot_pplot_overview(results, atlas, nets, args.alpha, comp, args.out_overview)
    plot_hubs(hubs, args.out_hub_figure, title=f"Hubs, {comp} (alpha {args.alpha:g})")
    plot_connectome_glass(sig, atlas, args.out_connectome, title=f"{comp}: significant pairs")
    write_connectome_html(sig, atlas, args.out_connectome_html, title=f"{comp}")
    log.info("%s: %d significant pairs at alpha %g", comp, len(sig), args.alpha)


def cmd_ps_tests(args: argparse.Namespace) -> None:
    """Permutation tests (PERMANOVA) of group separation on every ROI's PS matrices."""
    from tda_mci.plotting import plot_ps_brain_map, plot_ps_matrix
    from tda_mci.stats import ps_group_tests

    atlas = _atlas(args.atlas)
    groups = dict(zip(args.subjects, args.groups, strict=True))
    ps = {}
    for path in args.inputs:
        arrays, _ = io.load_arrays(path)
        subjects = arrays["subjects"].tolist()
        keep = np.flatnonzero(np.isin([groups[s] for s in subjects], args.comparison))
        for roi in arrays["rois"].tolist():
            ps[int(roi)] = arrays[f"roi{roi}"][:, keep][:, :, keep]
    labels = [groups[subjects[i]] for i in keep]
    t0 = time.perf_counter()
    table = ps_group_tests(ps, labels, n_permutations=args.permutations, seed=args.seed)
    comp = f"{args.comparison[0]} vs {args.comparison[1]}"
    log.info("%s: %d ROI x dimension tests in %.1f s", comp, len(table), time.perf_counter() - t0)
    table.insert(0, "comparison", comp)
    io.write_tsv(args.out_table, table)
    plot_ps_brain_map(table, atlas, args.out_brain_map, alpha=args.alpha,
                      title=f"{comp}: PERMANOVA on inter-subject distances")
    top = int(table.sort_values(["p", "pseudo_F"], ascending=[True, False])["roi"].iloc[0])
    label = atlas.loc[atlas["roi"] == top, "label"].iloc[0]
    plot_ps_matrix(ps[top], labels, f"{comp}: PS matrices of ROI {label}", args.out_matrix,
                   group_order=list(args.comparison))


def _classification_data(
    args: argparse.Namespace, network: str
) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]:
    """Return compared subjects, 0/1 labels, PR ``(subjects, dims, n, n)``, ROI series.

    ``args.pr`` and ``args.timeseries`` hold one file per ``args.subjects`` entry; the
    network's ROIs are in atlas order in both.
    """
    from tda_mci.atlas import networks

    atlas = _atlas(args.atlas)
    idx = networks(atlas)[network]
    keep, y = _comparison_labels(args)
    subjects = [args.subjects[i] for i in keep]
    pr = np.stack([io.load_arrays(args.pr[i])[0][network] for i in keep])
    series = [io.read_timeseries(args.timeseries[i])[0][:, idx] for i in keep]
    return subjects, y, pr, series


def cmd_classify(args: argparse.Namespace) -> None:
    """Cross-validated classifiers for one comparison and network, every dimension."""
    from tda_mci.model.evaluate import cross_validate, make_folds, result_to_json
    from tda_mci.plotting import plot_learning_curves

    subjects, y, pr, series = _classification_data(args, args.network)
    # One set of folds for every model and dimension of this comparison.
    folds = make_folds(y, protocol=args.protocol, n_splits=args.n_splits,
                       n_repeats=args.n_repeats, seed=args.seed)
    # corr_logreg reads the ROI series, not a homology dimension: evaluated once, last.
    jobs = [(dim, m) for dim in range(pr.shape[1]) for m in args.models if m != "corr_logreg"]
    jobs += [(None, "corr_logreg")] if "corr_logreg" in args.models else []
    if len(args.outputs) != len(jobs):
        raise ValueError(f"--outputs: {len(jobs)} files needed ({pr.shape[1]} dimensions x "
                         f"PR models, then corr_logreg once), got {len(args.outputs)}")
    curves = {}
    for (dim, model), output in zip(jobs, args.outputs, strict=True):
        t0 = time.perf_counter()
        result = cross_validate(
            series if dim is None else pr[:, dim], y, subjects,
            protocol=args.protocol, n_splits=args.n_splits, n_repeats=args.n_repeats,
            epochs=args.epochs, batch_size=args.batch_size, lr=args.learning_rate,
            seed=args.seed, device=args.device, threads=args.threads, model=model,
            inner_val_fraction=args.inner_val_fraction,
            early_stopping=args.early_stopping_patience, folds=folds,
        )
        seconds = time.perf_counter() - t0
        record = result_to_json(result)
        record["predictions"] = result["predictions"].to_dict(orient="list")
        record["learning_curves"] = result["learning_curves"].to_dict(orient="list")
        record["settings"] = {
            "comparison": list(args.comparison), "network": args.network, "dim": dim,
            "model": model, "protocol": args.protocol, "n_splits": args.n_splits,
            "n_repeats": args.n_repeats, "epochs": args.epochs,
            "batch_size": args.batch_size, "learning_rate": args.learning_rate,
            "inner_val_fraction": args.inner_val_fraction,
            "early_stopping_patience": args.early_stopping_patience,
            "seed": args.seed, "device": result["device"], "threads": args.threads,
            "wall_seconds": seconds,
        }
        io.write_json(output, record)
        log.info("%s %s %s: accuracy %.3f (%.1f s)", args.network,
                 "correlation" if dim is None else f"H{dim}", model,
                 result["summary"]["accuracy"]["mean"], seconds)
        if model == "cnn":
            curves[f"H{dim}"] = result["learning_curves"]
    if args.out_curves:
        if not curves:
            raise ValueError("--out-curves needs the cnn among --models")
        plot_learning_curves(curves, args.out_curves,
                             title=f"{' vs '.join(args.comparison)}, {args.network}: hybrid CNN")


def _check_folds_match(record: dict, folds: list, subjects: list[str], source: str) -> None:
    """Raise unless ``folds`` test the same subjects, fold by fold, as ``record`` did."""
    recorded = [(t["repeat"], t["fold"], t["subject_ids"]) for t in record["test_subjects"]]
    rebuilt = [(r, f, [subjects[i] for i in test]) for r, f, _, test in folds]
    if recorded != rebuilt:
        raise ValueError(
            f"{source}: its folds differ from the folds rebuilt from its settings and "
            "subjects (were subjects excluded since?); rerun the classifiers first"
        )


def cmd_permutation(args: argparse.Namespace) -> None:
    """Label-permutation p-value of the best classifier of one comparison."""
    from tda_mci.model.evaluate import make_folds, permutation_pvalue
    from tda_mci.model.tables import best_records
    from tda_mci.plotting import plot_permutation_null

    comp = " vs ".join(args.comparison)
    records = [io.read_json(p) for p in args.results]
    best = best_records(records, "accuracy")
    if list(best) != [(comp,)]:
        raise ValueError(f"--results must be the records of {comp} only; got {list(best)}")
    source = args.results[best[(comp,)]]
    record = records[best[(comp,)]]
    s = record["settings"]
    subjects, y, pr, series = _classification_data(args, s["network"])
    folds = make_folds(y, protocol=s["protocol"], n_splits=s["n_splits"],
                       n_repeats=s["n_repeats"], seed=s["seed"])
    _check_folds_match(record, folds, subjects, source)
    observed = float(record["summary"]["accuracy"]["mean"])
    dim = "correlation" if s["dim"] is None else f"H{s['dim']}"
    label = f"{comp}: {s['model']} on {s['network']} {dim}"
    log.info("%s (accuracy %.3f, %s): %d permutations", label, observed, source,
             args.permutations)
    t0 = time.perf_counter()
    step = max(1, args.permutations // 10)

    def progress(i: int, score: float) -> None:
        if (i + 1) % step == 0 or i + 1 == args.permutations:
            log.info("permutation %d/%d: accuracy %.3f (%.1f s)", i + 1, args.permutations,
                     score, time.perf_counter() - t0)

    result = permutation_pvalue(
        series if s["dim"] is None else pr[:, s["dim"]], y, subjects,
        n_permutations=args.permutations, seed=s["seed"], metric="accuracy",
        observed=observed, folds=folds, protocol=s["protocol"], model=s["model"],
        epochs=s["epochs"], batch_size=s["batch_size"], lr=s["learning_rate"],
        inner_val_fraction=s["inner_val_fraction"], early_stopping=s["early_stopping_patience"],
        device=args.device, threads=args.threads, callback=progress,
    )
    seconds = time.perf_counter() - t0
    log.info("%s: p = %.4g (%.1f s)", label, result["pvalue"], seconds)
    io.write_json(args.output, {
        "comparison": list(args.comparison), "network": s["network"], "dim": s["dim"],
        "model": s["model"], "metric": "accuracy", "observed": observed,
        "pvalue": result["pvalue"], "n_permutations": result["n_permutations"],
        "null": result["null"].tolist(), "seed": s["seed"], "source": source,
        "settings": s, "wall_seconds": seconds,
        "method": "labels of all compared subjects permuted; same folds and model seeds; "
                  "p = (1 + #{null >= observed}) / (1 + permutations)",
    })
    plot_permutation_null(result["null"], observed, result["pvalue"], args.figure,
                          title=f"{label}: label permutations")


def cmd_summarize(args: argparse.Namespace) -> None:
    """Collect classifier metrics into the paper's Table 1 layout."""
    from tda_mci.model.tables import best_results_table, record_key, summary_table
    from tda_mci.plotting import plot_accuracy_heatmap

    results = [io.read_json(p) for p in args.inputs]
    tested = {}
    for path in args.permutations:
        perm = io.read_json(path)
        tested[record_key({**perm, "summary": {}})] = perm
    for record in results:
        if record_key(record) in tested:
            record["permutation"] = tested.pop(record_key(record))
    if tested:
        raise ValueError(f"permutation results match no classifier record: {list(tested)}")
    io.write_tsv(args.output, summary_table(results).reset_index())
    io.write_tsv(args.out_best, best_results_table(results))
    plot_accuracy_heatmap(summary_table(results, formatted=False), args.out_heatmap)


def cmd_diagram_figure(args: argparse.Namespace) -> None:
    """Diagrams of the comparison's top hub ROI, pooled per group."""
    import pandas as pd

    from tda_mci.plotting import plot_group_diagrams

    files = _pairs(args.subjects, args.inputs, "subject")
    groups = dict(zip(args.subjects, args.groups, strict=True))
    hubs = pd.read_csv(args.hubs, sep="\t")
    if hubs.empty:
        raise ValueError(f"{args.hubs}: empty hubs table")
    top = hubs.iloc[0]
    pooled = {g: [] for g in args.comparison}
    for subject, path in files.items():
        if groups[subject] not in pooled:
            continue
        diagrams, rois, _ = io.load_diagrams(path)
        if int(top["roi"]) not in rois:
            raise ValueError(f"sub-{subject}: {path}: no ROI {int(top['roi'])}")
        pooled[groups[subject]].append(diagrams[rois.index(int(top["roi"]))])
    why = (f"in {int(top['n_pairs'])} significant pairs" if top["n_pairs"] > 0
           else "top of the hubs table; no significant pairs")
    plot_group_diagrams(pooled, args.output,
                        title=f"{' vs '.join(args.comparison)}: ROI {top['label']} ({why})")


def cmd_runtime(args: argparse.Namespace) -> None:
    """Summarise the run's benchmark files per rule (wall time, CPU time, memory)."""
    from tda_mci.runtime import runtime_table

    table = runtime_table(args.benchmarks)
    io.write_tsv(args.output, table)
    total = table.iloc[-1]
    log.info("%d jobs: %.0f s of job wall time, %.0f CPU-s, peak %.0f MB", total["jobs"],
             total["wall_s_total"], total["cpu_s_total"], total["max_rss_mb"])


def cmd_describe(args: argparse.Namespace) -> None:
    """Write the BIDS-derivative dataset_description.json."""
    from tda_mci.provenance import dataset_description

    io.write_json(args.output, dataset_description(json.loads(args.config_json)))


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``tda-mci``."""
    parser = argparse.ArgumentParser(prog="tda-mci", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help=cmd_demo.__doc__)
    p.add_argument("--participants", required=True,
                   help="participants.tsv to write; the cohort goes into its folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-per-group", nargs="+", required=True, metavar="GROUP=N")
    p.add_argument("--n-volumes", type=int, default=140)
    p.add_argument("--tr", type=float, default=3.0)
    p.set_defaults(func=cmd_demo)

    for name, func in (("timeseries", cmd_timeseries), ("screen", cmd_screen)):
        p = sub.add_parser(name, help=func.__doc__)
        p.add_argument("--subject", required=True)
        p.add_argument("--kind", choices=["nifti", "fmriprep", "timeseries", "network_csv"],
                       required=True)
        p.add_argument("--source", default=None, help="image or time-series table")
        p.add_argument("--network-files", nargs="+", default=None,
                       help="network_csv: one CSV per network, sorted network keys")
        p.add_argument("--output", required=True)
        p.add_argument("--mask", default=None, help="brain mask image (image inputs)")
        p.add_argument("--confounds", default=None, help="confounds TSV (nifti inputs)")
        p.add_argument("--denoise-strategy", default="simple",
                       help="fmriprep: nilearn load_confounds_strategy preset, or none")
        p.add_argument("--atlas", default=None)
        p.add_argument("--radius", type=float, default=5.0)
        p.add_argument("--standardize", default="zscore_sample")
        p.add_argument("--detrend", action=argparse.BooleanOptionalAction, default=True)
        p.add_argument("--low-pass", type=float, default=None)
        p.add_argument("--high-pass", type=float, default=None)
        p.add_argument("--t-r", type=float, required=True)
        p.add_argument("--min-volumes", type=int, default=20)
        p.add_argument("--embedding-dimension", type=int, default=3)
        p.add_argument("--embedding-delay", type=int, default=1)
        p.set_defaults(func=func)

    p = sub.add_parser("screen-cohort", help=cmd_screen_cohort.__doc__)
    p.add_argument("--subjects", nargs="+", required=True)
    p.add_argument("--groups", nargs="+", required=True)
    p.add_argument("--records", nargs="+", required=True,
                   help="screening JSONs or time-series sidecars, one per subject")
    p.add_argument("--comparisons", nargs="*", default=[], metavar="REF:OTHER")
    p.add_argument("--min-group-size", type=int, default=2)
    p.add_argument("--min-group-size-setting", default="qc.min_group_size",
                   help="the configuration key(s) the minimum comes from, for messages")
    p.add_argument("--included", required=True)
    p.add_argument("--excluded", required=True)
    p.set_defaults(func=cmd_screen_cohort)

    p = sub.add_parser("carpet", help=cmd_carpet.__doc__)
    p.add_argument("--subject", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--atlas", default=None)
    p.add_argument("--t-r", type=float, default=None)
    p.set_defaults(func=cmd_carpet)

    p = sub.add_parser("qc-cohort", help=cmd_qc_cohort.__doc__)
    p.add_argument("--subjects", nargs="+", required=True)
    p.add_argument("--groups", nargs="+", required=True)
    p.add_argument("--included", required=True)
    p.add_argument("--excluded", required=True)
    p.add_argument("--sidecars", nargs="*", default=[], help="included subjects, in order")
    p.add_argument("--atlas", default=None)
    p.add_argument("--output-table", required=True)
    p.add_argument("--output-figure", required=True)
    p.set_defaults(func=cmd_qc_cohort)

    p = sub.add_parser("diagrams", help=cmd_diagrams.__doc__)
    p.add_argument("--subject", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--dimension", type=int, default=3)
    p.add_argument("--delay", type=int, default=1)
    p.add_argument("--max-dim", type=int, default=2)
    p.add_argument("--backend", choices=["gudhi", "ripser"], default="gudhi")
    p.add_argument("--n-jobs", type=int, default=1)
    p.set_defaults(func=cmd_diagrams)

    p = sub.add_parser("pr", help=cmd_pr.__doc__)
    p.add_argument("--subject", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--atlas", default=None)
    p.add_argument("--n-jobs", type=int, default=1)
    _add_metric(p)
    p.set_defaults(func=cmd_pr)

    p = sub.add_parser("ps", help=cmd_ps.__doc__)
    p.add_argument("--subjects", nargs="+", required=True)
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--rows", nargs="+", required=True, help="atlas row indices of the ROIs")
    p.add_argument("--output", required=True)
    p.add_argument("--n-jobs", type=int, default=1)
    _add_metric(p)
    p.set_defaults(func=cmd_ps)

    p = sub.add_parser("stats", help=cmd_stats.__doc__)
    _add_group(p)
    p.add_argument("--inputs", nargs="+", required=True, help="PR files, one per subject")
    p.add_argument("--atlas", default=None)
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--out-stats", required=True)
    p.add_argument("--out-pairs", required=True)
    p.add_argument("--out-hubs", required=True)
    p.add_argument("--out-hub-figure", required=True)
    p.add_argument("--out-overview", required=True)
    p.add_argument("--out-pplots", nargs="+", required=True, help="one PNG per network")
    p.add_argument("--out-connectome", required=True, help="glass-brain PNG")
    p.add_argument("--out-connectome-html", required=True, help="interactive offline HTML")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("ps-tests", help=cmd_ps_tests.__doc__)
    _add_group(p)
    p.add_argument("--inputs", nargs="+", required=True, help="PS block files")
    p.add_argument("--atlas", default=None)
    p.add_argument("--permutations", type=int, default=999)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.05, help="FDR level of the brain map")
    p.add_argument("--out-table", required=True)
    p.add_argument("--out-brain-map", required=True)
    p.add_argument("--out-matrix", required=True, help="PS matrices of the top ROI (PNG)")
    p.set_defaults(func=cmd_ps_tests)

    p = sub.add_parser("classify", help=cmd_classify.__doc__)
    _add_group(p)
    p.add_argument("--network", required=True)
    p.add_argument("--pr", nargs="+", required=True, help="PR files, one per subject")
    p.add_argument("--timeseries", nargs="+", required=True, help="one TSV per subject")
    p.add_argument("--atlas", default=None)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--outputs", nargs="+", required=True,
                   help="metrics JSON per dimension x PR model (dimension-major), then one "
                        "for corr_logreg")
    p.add_argument("--protocol", choices=["cv", "paper"], default="cv")
    p.add_argument("--n-splits", type=int, default=5)
    p.add_argument("--n-repeats", type=int, default=1)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--inner-val-fraction", type=float, default=0.0,
                   help="CNN early stopping: share of each training fold held out for "
                        "validation (0 = off, all epochs on the whole training fold)")
    p.add_argument("--early-stopping-patience", type=int, default=10,
                   help="CNN early stopping patience in epochs on the validation loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-curves", default=None, help="CNN learning curves (PNG)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("permutation", help=cmd_permutation.__doc__)
    _add_group(p)
    p.add_argument("--results", nargs="+", required=True,
                   help="the comparison's classifier records (metrics JSON)")
    p.add_argument("--pr", nargs="+", required=True, help="PR files, one per subject")
    p.add_argument("--timeseries", nargs="+", required=True, help="one TSV per subject")
    p.add_argument("--atlas", default=None)
    p.add_argument("--permutations", type=int, required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--output", required=True, help="p-value and null scores (JSON)")
    p.add_argument("--figure", required=True, help="null histogram (PNG)")
    p.set_defaults(func=cmd_permutation)

    p = sub.add_parser("summarize", help=cmd_summarize.__doc__)
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--output", required=True, help="Table 1 layout (TSV)")
    p.add_argument("--out-best", required=True, help="best result per comparison (TSV)")
    p.add_argument("--out-heatmap", required=True, help="heatmap of mean accuracy (PNG)")
    p.add_argument("--permutations", nargs="*", default=[],
                   help="permutation results (JSON) to attach to the best-results table")
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("diagram-figure", help=cmd_diagram_figure.__doc__)
    _add_group(p)
    p.add_argument("--inputs", nargs="+", required=True, help="diagram files, one per subject")
    p.add_argument("--hubs", required=True, help="hubs table of the comparison (TSV)")
    p.add_argument("--output", required=True, help="figure (PNG)")
    p.set_defaults(func=cmd_diagram_figure)

    p = sub.add_parser("runtime", help=cmd_runtime.__doc__)
    p.add_argument("--benchmarks", required=True, help="benchmark folder (<rule>/<job>.tsv)")
    p.add_argument("--output", required=True, help="per-rule summary (TSV)")
    p.set_defaults(func=cmd_runtime)

    p = sub.add_parser("describe", help=cmd_describe.__doc__)
    p.add_argument("--config-json", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_describe)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tda-mci``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log.info("tda-mci %s: %s", args.command, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        print(f"tda-mci {args.command}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
