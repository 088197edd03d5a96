"""Inputs stage: every subject's checked ROI time series, whatever the input kind.

* :mod:`~tda_mci.inputs.sources`: finding each subject's files before the run (fMRIPrep
  entities, path patterns), checked to exist and to be unambiguous;
* :mod:`~tda_mci.inputs.readers`: reading tables, network CSVs and confounds at job time;
* :mod:`~tda_mci.inputs.extract`: sphere means of a 4D image (nilearn);
* :mod:`~tda_mci.inputs.series`: one subject's checked series from any input kind;
* :mod:`~tda_mci.inputs.demo`: the generated demo cohort;
* :mod:`~tda_mci.inputs.qc`: screening, exclusions and the cohort QC table;
* :mod:`~tda_mci.inputs.stages`: the workflow stages.

The input kinds are described in ``docs/architecture.md``.
"""
