"""Figures: every plot of the pipeline, drawn from arrays and tables and written atomically.

Stages import the plotting functions from here. Modules, by subject:

* :mod:`~tda_mci.figures.pplots`: P-plots of the ROI-pair rank-sum tests, per network
  (the paper's Fig. 5) and for all networks (:func:`plot_pplot`,
  :func:`plot_pplot_overview`);
* :mod:`~tda_mci.figures.hubs`: hub ROIs, glass-brain and interactive HTML connectomes
  of the significant pairs (:func:`plot_hubs`, :func:`plot_connectome_glass`,
  :func:`write_connectome_html`);
* :mod:`~tda_mci.figures.distances`: PS matrices (the paper's Fig. 4) and the brain map
  of their PERMANOVA (:func:`plot_ps_matrix`, :func:`plot_ps_brain_map`);
* :mod:`~tda_mci.figures.classification`: accuracy heatmap, CNN learning curves and
  permutation null (:func:`plot_accuracy_heatmap`, :func:`plot_learning_curves`,
  :func:`plot_permutation_null`);
* :mod:`~tda_mci.figures.diagrams`: persistence diagrams pooled per group
  (:func:`plot_group_diagrams`);
* :mod:`~tda_mci.figures.qc`: carpet plots and the cohort QC figure
  (:func:`carpet_plot`, :func:`plot_cohort_qc`);
* :mod:`~tda_mci.figures._base`: resolution, colours, the atomic writer
  (:func:`~tda_mci.figures._base.save_figure`) and shared helpers.

Every function draws one figure and writes it atomically to ``path`` (a temporary file
in the destination folder, renamed into place), so a killed job never leaves a
half-written figure; the format follows the extension (.png, .pdf or .svg). Figures are
built on :class:`matplotlib.figure.Figure` objects, not on pyplot's global state, so
they render with any backend (no display needed) and never leak open figures.

Conventions: ``H<q>`` is homology dimension ``q``; matrices are indexed by the ROIs of
one network in atlas order; -log10 p colour scales start at 0 and are shared by all
panels of a figure; raster figures are written at 150 dpi, the QC figures at 120 dpi.
The figures of the rank-sum tests draw the raw criterion ``p < alpha`` (the paper's) and
mark the pairs that survive FDR (Benjamini-Hochberg ``p_bh < fdr_level``: rings in the
P-plots, solid edges in the glass brain, dark bars in the hub chart); their
``fdr_level`` is a required keyword, and every title or legend states both criteria
and how many pairs survive.
"""

from tda_mci.figures.classification import (
    plot_accuracy_heatmap,
    plot_learning_curves,
    plot_permutation_null,
)
from tda_mci.figures.diagrams import plot_group_diagrams
from tda_mci.figures.distances import plot_ps_brain_map, plot_ps_matrix
from tda_mci.figures.hubs import plot_connectome_glass, plot_hubs, write_connectome_html
from tda_mci.figures.pplots import plot_pplot, plot_pplot_overview
from tda_mci.figures.qc import carpet_plot, plot_cohort_qc

__all__ = [
    "carpet_plot",
    "plot_accuracy_heatmap",
    "plot_cohort_qc",
    "plot_connectome_glass",
    "plot_group_diagrams",
    "plot_hubs",
    "plot_learning_curves",
    "plot_permutation_null",
    "plot_pplot",
    "plot_pplot_overview",
    "plot_ps_brain_map",
    "plot_ps_matrix",
    "write_connectome_html",
]
