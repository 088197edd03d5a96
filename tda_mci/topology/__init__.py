"""Topology stage: sliding-window point clouds, Rips persistence, Wasserstein distances.

* :mod:`~tda_mci.topology.windows`: the delay embedding of one ROI series;
* :mod:`~tda_mci.topology.homology`: Vietoris-Rips persistence diagrams (H0..H2);
* :mod:`~tda_mci.topology.distances`: exact Wasserstein / bottleneck distances and the
  PR (inter-ROI) and PS (inter-subject) matrices built from them;
* :mod:`~tda_mci.topology.stages`: the workflow stages (read files, compute, write).

The method and its conventions are in ``docs/method.md``.
"""
