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

from tda_mci import io
from tda_mci.atlas import load_atlas, networks
from tda_mci.cohort import comparison_subjects, files_by_subject, groups_of
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
from tda_mci.stats.permanova import fdr_floor, ps_group_tests
from tda_mci.stats.ranksum import compare_groups
from tda_mci.stats.tables import hub_table, significant_pairs_table

log = logging.getLogger(__name__)


def _name(comparison: Sequence[str]) -> str:
    return f"{comparison[0]} vs {comparison[1]}"


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

    Parameters
    ----------
    settings : RankSumSettings
        Atlas, significance level and FDR level.
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
    subjects, labels = comparison_subjects(io.read_cohort(cohort), comparison)
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
                x[labels == 0, dim], x[labels == 1, dim], alpha=settings.alpha
            )
    comp, alpha, fdr = _name(comparison), settings.alpha, settings.fdr_level
    sig = significant_pairs_table(results, atlas, nets, alpha, comp, fdr_level=fdr)
    hubs = hub_table(sig, atlas)
    io.write_pr_statistics(outputs["stats"], results, meta={
        "comparison": list(comparison), "alpha": alpha, "fdr_level": fdr,
        "n": [int((labels == 0).sum()), int((labels == 1).sum())],
        "test": "two-sided Mann-Whitney U (rank-sum) per ROI pair",
    })  # fmt: skip
    io.write_tsv(outputs["pairs"], sig)
    io.write_tsv(outputs["hubs"], hubs, kind="hubs")
    _rank_sum_figures(results, sig, hubs, atlas, nets, comp, alpha, fdr, outputs)
    log.info("%s: %d significant pairs at alpha %g, %d survive FDR at q %g",
             comp, len(sig), alpha, int(sig["fdr"].sum()), fdr)  # fmt: skip
    unlisted = sum(int(np.count_nonzero(np.triu((r["p_bh"] < fdr) & (r["p"] >= alpha), 1)))
                   for r in results.values())  # fmt: skip
    if unlisted:
        log.warning("%s: %d pairs survive FDR at q %g but have p >= alpha %g: they are ringed "
                    "in the P-plots but not in the pairs table, hubs or connectomes",
                    comp, unlisted, fdr, alpha)  # fmt: skip


def _rank_sum_figures(results, sig, hubs, atlas, nets, comp, alpha, fdr, outputs) -> None:
    """Write the figures of :func:`wilcoxon_tests` (raw ``p < alpha``, FDR level ``fdr``)."""
    pplots = by_entity(outputs["pplots"], "net", list(nets), "P-plot")
    for key, path in pplots.items():
        dims = sorted(d for (k, d) in results if k == key)
        labels_k = atlas["label"].to_numpy()[nets[key]].tolist()
        plot_pplot([results[key, d] for d in dims], labels_k, alpha, f"{comp}: {key}", path,
                   fdr_level=fdr)  # fmt: skip
    plot_pplot_overview(results, atlas, nets, alpha, comp, outputs["overview"], fdr_level=fdr)
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
    """
    atlas = load_atlas(settings.atlas)
    groups = groups_of(io.read_cohort(cohort))
    matrices, labels = {}, None
    for path in ps:
        block, subjects, _ = io.read_ps(path)
        unknown = sorted(set(subjects) - set(groups))
        if unknown:
            raise ValueError(f"{path}: subjects {unknown} are not in the cohort {cohort}")
        keep = np.flatnonzero(np.isin([groups[s] for s in subjects], list(comparison)))
        labels = [groups[subjects[i]] for i in keep]
        for roi, mat in block.items():
            matrices[roi] = mat[:, keep][:, :, keep]
    t0 = time.perf_counter()
    table = ps_group_tests(matrices, labels, n_permutations=settings.permutations,
                           seed=settings.seed)
    comp = _name(comparison)
    log.info("%s: %d ROI x dimension tests in %.1f s", comp, len(table), time.perf_counter() - t0)
    table.insert(0, "comparison", comp)
    io.write_tsv(outputs["table"], table)
    floor = fdr_floor(settings.permutations, len(matrices), settings.fdr_level)
    if floor:
        log.warning("%s: %s", comp, floor)
    plot_ps_brain_map(table, atlas, outputs["brain_map"], alpha=settings.fdr_level,
                      title=f"{comp}: PERMANOVA on inter-subject distances", note=floor)
    top = int(table.sort_values(["p", "pseudo_F"], ascending=[True, False])["roi"].iloc[0])
    label = atlas.loc[atlas["roi"] == top, "label"].iloc[0]
    plot_ps_matrix(matrices[top], labels, f"{comp}: PS matrices of ROI {label}", outputs["matrix"],
                   group_order=list(comparison))
