"""Workflow stages of the group statistics: rank-sum tests of PR pairs, PERMANOVA of PS.

Each function is one rule of the workflow and one ``tda-mci`` subcommand. The subjects
and their groups come from the cohort table; input files are paired with subjects by
their names (:func:`tda_mci.cohort.files_by_subject`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tda_mci import io
from tda_mci.atlas import load_atlas, networks
from tda_mci.cohort import comparison_subjects, files_by_subject, groups_of
from tda_mci.covariates import covariate_design
from tda_mci.figures import (
    plot_connectome_glass,
    plot_group_diagrams,
    plot_hubs,
    plot_pplot,
    plot_pplot_overview,
    plot_ps_brain_map,
    plot_ps_matrix,
    write_connectome_html,
)
from tda_mci.paths import by_entity
from tda_mci.settings import DiagramFigureSettings, PermanovaSettings, RankSumSettings
from tda_mci.stats.permanova import ADJUSTED_PERMANOVA, fdr_floor, ps_group_tests
from tda_mci.stats.ranksum import ADJUSTED_RANK_SUM, check_adjustable, compare_groups
from tda_mci.stats.tables import hub_table, significant_pairs_table

log = logging.getLogger(__name__)


def _name(comparison: Sequence[str]) -> str:
    return f"{comparison[0]} vs {comparison[1]}"


def _design(table: pd.DataFrame, subjects: Sequence[str], labels, covariates: Sequence[str],
            source: str, comp: str, what: str,
            how: str) -> tuple[np.ndarray | None, list[str]]:
    """Covariate design of ``subjects`` (cohort rows in that order), or ``None`` if unadjusted.

    The design is :func:`tda_mci.covariates.covariate_design` of exactly these rows (the
    comparison's subjects, in the order of the test); ``labels`` are their groups, for
    the check that the covariates leave a group difference to test. Logs one line saying
    what ``what`` (the tests) are adjusted for, and ``how``.
    """
    covariates = list(covariates or ())
    if not covariates:
        log.info("%s: %s unadjusted (statistics.covariates is empty)", comp, what)
        return None, []
    table = table.assign(subject=table["subject"].astype(str))
    rows = table.set_index("subject", drop=False).loc[list(subjects)].reset_index(drop=True)
    design, names = covariate_design(rows, covariates, source)
    try:
        check_adjustable(design, labels)
    except ValueError as err:
        raise ValueError(f"{source}: {comp}: statistics.covariates {covariates}: {err}") from None
    log.info("%s: %s adjusted for %s (design columns: %s): %s", comp, what,
             ", ".join(covariates),
             ", ".join(names) or "none, every covariate is constant among these subjects", how)
    return design, names


def _adjusted_title(covariates: Sequence[str]) -> str:
    """Suffix of the figure titles of an adjusted test ("" when unadjusted)."""
    return f", adjusted for {', '.join(covariates)}" if covariates else ""


def wilcoxon_tests(
    settings: RankSumSettings,
    *,
    cohort: str,
    comparison: Sequence[str],
    pr: Sequence[str],
    outputs: dict[str, str | list[str]],
) -> None:
    """Rank-sum tests between two groups on every PR pair; tables, P-plots, glass brain.

    Pairs are significant at raw ``p < settings.alpha`` (the paper's criterion); tables
    and figures also say which of them survive FDR (Benjamini-Hochberg ``p_bh <
    settings.fdr_level`` over the pairs of one network and dimension).

    With ``settings.covariates`` the tests are adjusted for them
    (:func:`tda_mci.stats.ranksum.rank_sum_test_adjusted`: Mann-Whitney U of the
    residuals of each pair's least-squares fit on the covariates; design from the cohort
    table's rows of the compared subjects), and the statistics file's meta also records
    ``covariates``, ``design_columns`` and ``adjustment``. Without covariates the outputs
    are those of the unadjusted tests, unchanged.

    Parameters
    ----------
    settings : RankSumSettings
        Atlas, significance level, FDR level and covariates.
    cohort : str
        The cohort table (included subjects and groups).
    comparison : (str, str)
        Reference group and other group.
    pr : sequence of str
        PR files of (at least) the compared subjects.
    outputs : dict
        Paths by name, as :meth:`tda_mci.paths.Layout.pr_statistics` names them
        (``pplots``: one per network, matched by the ``net-`` entity).
    """
    atlas = load_atlas(settings.atlas)
    nets = networks(atlas)
    table = io.read_cohort(cohort)
    subjects, labels = comparison_subjects(table, comparison)
    comp, alpha, fdr = _name(comparison), settings.alpha, settings.fdr_level
    covariates = list(settings.covariates or ())
    # Design rows in the order of the test: group a's subjects, then group b's.
    order = np.concatenate([np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)])
    design, names = _design(table, [subjects[i] for i in order], labels[order], covariates,
                            cohort, comp, "rank-sum tests", ADJUSTED_RANK_SUM)
    stacks = {key: [] for key in nets}
    for path in files_by_subject(pr, subjects, "PR").values():
        matrices, _, _ = io.read_pr(path)
        for key in nets:
            stacks[key].append(matrices[key])
    results = {}
    for key in nets:
        x = np.stack(stacks[key])  # (subjects, dims, n, n)
        for dim in range(x.shape[1]):
            results[key, dim] = compare_groups(
                x[labels == 0, dim], x[labels == 1, dim], alpha=settings.alpha, design=design
            )
    sig = significant_pairs_table(results, atlas, nets, alpha, comp, fdr_level=fdr)
    hubs = hub_table(sig, atlas)
    meta = {
        "comparison": list(comparison), "alpha": alpha, "fdr_level": fdr,
        "n": [int((labels == 0).sum()), int((labels == 1).sum())],
        "test": "two-sided Mann-Whitney U (rank-sum) per ROI pair",
    }  # fmt: skip
    if design is not None:  # added keys only: an unadjusted file is unchanged
        meta.update(covariates=covariates, design_columns=names, adjustment=ADJUSTED_RANK_SUM)
    io.write_pr_statistics(outputs["stats"], results, meta=meta)
    io.write_tsv(outputs["pairs"], sig)
    io.write_tsv(outputs["hubs"], hubs, kind="hubs")
    _rank_sum_figures(results, sig, hubs, atlas, nets, comp, alpha, fdr, outputs,
                      adjusted=_adjusted_title(covariates if design is not None else []))
    log.info("%s: %d significant pairs at alpha %g, %d survive FDR at q %g",
             comp, len(sig), alpha, int(sig["fdr"].sum()), fdr)  # fmt: skip
    unlisted = sum(int(np.count_nonzero(np.triu((r["p_bh"] < fdr) & (r["p"] >= alpha), 1)))
                   for r in results.values())  # fmt: skip
    if unlisted:
        log.warning("%s: %d pairs survive FDR at q %g but have p >= alpha %g: they are ringed "
                    "in the P-plots but not in the pairs table, hubs or connectomes",
                    comp, unlisted, fdr, alpha)  # fmt: skip


def _rank_sum_figures(results, sig, hubs, atlas, nets, comp, alpha, fdr, outputs,
                      adjusted: str = "") -> None:
    """Write the figures of :func:`wilcoxon_tests` (raw ``p < alpha``, FDR level ``fdr``).

    ``adjusted`` (e.g. ``", adjusted for AGE"``) is added to the P-plot titles.
    """
    pplots = by_entity(outputs["pplots"], "net", list(nets), "P-plot")
    for key, path in pplots.items():
        dims = sorted(d for (k, d) in results if k == key)
        labels_k = atlas["label"].to_numpy()[nets[key]].tolist()
        plot_pplot([results[key, d] for d in dims], labels_k, alpha, f"{comp}: {key}{adjusted}",
                   path, fdr_level=fdr)  # fmt: skip
    plot_pplot_overview(results, atlas, nets, alpha, f"{comp}{adjusted}", outputs["overview"],
                        fdr_level=fdr)  # fmt: skip
    plot_hubs(hubs, outputs["hub_figure"], title=f"Hubs, {comp}", alpha=alpha, fdr_level=fdr)
    plot_connectome_glass(sig, atlas, outputs["connectome"], title=f"{comp}: significant pairs",
                          alpha=alpha, fdr_level=fdr)  # fmt: skip
    write_connectome_html(sig, atlas, outputs["connectome_html"], title=f"{comp}",
                          alpha=alpha, fdr_level=fdr)  # fmt: skip


def plot_diagrams(
    settings: DiagramFigureSettings,
    *,
    cohort: str,
    comparison: Sequence[str],
    diagrams: Sequence[str],
    hubs: str,
    output: str,
) -> None:
    """Diagrams of the comparison's top hub ROI, pooled per group."""
    table = io.read_tsv(hubs, kind="hubs")
    if table.empty:
        raise ValueError(f"{hubs}: empty hubs table")
    top = table.iloc[0]
    roi = int(top["roi"])
    groups = groups_of(io.read_cohort(cohort))
    subjects, _ = comparison_subjects(io.read_cohort(cohort), comparison)
    pooled = {g: [] for g in comparison}
    for subject, path in files_by_subject(diagrams, subjects, "diagrams").items():
        dgms, rois, _ = io.read_diagrams(path)
        if roi not in rois:
            raise ValueError(f"sub-{subject}: {path}: no ROI {roi}")
        pooled[groups[subject]].append(dgms[rois.index(roi)])
    why = (f"in {int(top['n_pairs'])} significant pairs" if top["n_pairs"] > 0
           else "top of the hubs table; no significant pairs")
    plot_group_diagrams(pooled, output,
                        title=f"{_name(comparison)}: ROI {top['label']} ({why})")


def permanova_tests(
    settings: PermanovaSettings,
    *,
    cohort: str,
    comparison: Sequence[str],
    ps: Sequence[str],
    outputs: dict[str, str],
) -> None:
    """PERMANOVA of group separation on every ROI's PS matrices; table and figures.

    ``outputs`` holds ``table``, ``brain_map`` and ``matrix`` (the PS matrices of the
    ROI with the smallest p), as :meth:`tda_mci.paths.Layout.ps_statistics` names them.

    With ``settings.covariates`` every test is adjusted for them (sequential pseudo-F
    of group after the covariates, permutation of residuals under the reduced model,
    :func:`tda_mci.stats.permanova.permanova`; design from the cohort table's rows of
    the compared subjects, in the PS files' subject order), and the table gets a last
    column ``covariates`` naming them (``"AGE, PTGENDER"``). Without covariates the
    outputs are those of the unadjusted test, unchanged.
    """
    atlas = load_atlas(settings.atlas)
    cohort_table = io.read_cohort(cohort)
    groups = groups_of(cohort_table)
    matrices, labels, kept = {}, None, None
    for path in ps:
        block, subjects, _ = io.read_ps(path)
        unknown = sorted(set(subjects) - set(groups))
        if unknown:
            raise ValueError(f"{path}: subjects {unknown} are not in the cohort {cohort}")
        keep = np.flatnonzero(np.isin([groups[s] for s in subjects], list(comparison)))
        if kept is not None and [subjects[i] for i in keep] != kept:
            raise ValueError(f"{path}: its subjects differ from (or are in another order "
                             f"than) those of {ps[0]}")
        kept = [subjects[i] for i in keep]
        labels = [groups[s] for s in kept]
        for roi, mat in block.items():
            matrices[roi] = mat[:, keep][:, :, keep]
    comp = _name(comparison)
    covariates = list(settings.covariates or ())
    design, _ = _design(cohort_table, kept or [], labels, covariates, cohort, comp,
                        "PERMANOVA tests", ADJUSTED_PERMANOVA)
    t0 = time.perf_counter()
    table = ps_group_tests(matrices, labels, n_permutations=settings.permutations,
                           seed=settings.seed, design=design)
    log.info("%s: %d ROI x dimension tests in %.1f s", comp, len(table), time.perf_counter() - t0)
    table.insert(0, "comparison", comp)
    adjusted = _adjusted_title(covariates if design is not None else [])
    if design is not None:  # an added last column: an unadjusted table is unchanged
        table["covariates"] = ", ".join(covariates)
    io.write_tsv(outputs["table"], table)
    floor = fdr_floor(settings.permutations, len(matrices), settings.fdr_level)
    if floor:
        log.warning("%s: %s", comp, floor)
    plot_ps_brain_map(table, atlas, outputs["brain_map"], alpha=settings.fdr_level,
                      title=f"{comp}: PERMANOVA on inter-subject distances{adjusted}",
                      note=floor)
    top = int(table.sort_values(["p", "pseudo_F"], ascending=[True, False])["roi"].iloc[0])
    label = atlas.loc[atlas["roi"] == top, "label"].iloc[0]
    plot_ps_matrix(matrices[top], labels, f"{comp}: PS matrices of ROI {label}", outputs["matrix"],
                   group_order=list(comparison))
