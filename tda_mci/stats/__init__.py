"""Statistics stage: group differences on the PR and PS distance matrices.

* :mod:`~tda_mci.stats.ranksum`: vectorised Mann-Whitney U / rank-sum tests of every PR
  ROI pair, FDR adjustment, effect sizes (:func:`compare_groups`), optionally adjusted
  for covariates (:func:`rank_sum_test_adjusted`, :func:`residualize`);
* :mod:`~tda_mci.stats.tables`: significant-pair and hub tables;
* :mod:`~tda_mci.stats.permanova`: PERMANOVA of each ROI's PS matrices (optionally with
  covariates entered first and residuals permuted);
* :mod:`~tda_mci.stats.stages`: the workflow stages.
"""

from tda_mci.stats.permanova import (
    gower_centred,
    permanova,
    permutation_indices,
    ps_group_tests,
)
from tda_mci.stats.ranksum import (
    ADJUST_METHODS,
    RANK_SUM_METHODS,
    adjust_pvalues,
    check_adjustable,
    compare_groups,
    rank_biserial,
    rank_sum_pvalues,
    rank_sum_test,
    rank_sum_test_adjusted,
    residualize,
)
from tda_mci.stats.tables import (
    SIGNIFICANT_PAIRS_COLUMNS,
    dims_of,
    hub_table,
    nest_results,
    significant_pairs_table,
)

__all__ = [
    "ADJUST_METHODS",
    "RANK_SUM_METHODS",
    "SIGNIFICANT_PAIRS_COLUMNS",
    "adjust_pvalues",
    "check_adjustable",
    "compare_groups",
    "dims_of",
    "gower_centred",
    "hub_table",
    "nest_results",
    "permanova",
    "permutation_indices",
    "ps_group_tests",
    "rank_biserial",
    "rank_sum_pvalues",
    "rank_sum_test",
    "rank_sum_test_adjusted",
    "residualize",
    "significant_pairs_table",
]
