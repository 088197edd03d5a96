"""ComBat harmonisation of classifier features across acquisition sites, per fold.

ComBat (Johnson et al. 2007; Fortin et al. 2017/2018) models every feature ``v`` of
subject ``j`` at site ``i`` as ``x_ijv = a_v + C_j b_v + g_iv + d_iv e_ijv``: a
grand mean, the protected covariates ``C`` (``b_v`` fitted by least squares), an
additive site effect ``g`` and a multiplicative one ``d``; ``g`` and ``d`` are
shrunk across features by empirical Bayes (parametric priors) and removed. The
implementation is neuroHarmonize's (``harmonizationLearn``, ``harmonizationApply``,
built on neuroCombat), imported on first use.

Nothing is fitted on test subjects: in every fold the model (``a``, ``b``, ``g``,
``d``, the pooled variance) is learnt from the training fold's subjects only, with the
fold's seed, and applied unchanged to the test fold. The training fold includes any
inner validation subjects the CNN's early stopping later carves out of it (they are
training subjects too). The covariates of :attr:`Harmonization.covariates` are
protected; the diagnosis is **not**: protecting it would need the test subjects'
labels, so ComBat here removes whatever differs between sites, including the part of
a group difference that is confounded with site. ComBat never sees the labels, so a
label permutation leaves it unchanged.

Conventions: feature matrices have one row per subject and one column per feature
(``(subjects, features)``, float64); ``train_idx`` and ``test_idx`` are int64 indices
of the fold's subjects into the arrays of a :class:`Harmonization`, in the order of
the rows of ``train_X`` and ``test_X``. Site labels are text.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "INSTALL_HINT",
    "Harmonization",
    "HarmonizationError",
    "harmonize_fold",
    "harmonize_inputs",
]

log = logging.getLogger(__name__)

#: How to install neuroHarmonize and neuroCombat (the Makefile does it).
INSTALL_HINT = (
    "ComBat harmonisation (classification.harmonize: combat) needs neuroHarmonize and "
    "neuroCombat: install them with `pip install --no-deps -r requirements-nodeps.lock` "
    "(as `make` does)"
)

#: Name of the site column in the covariates table neuroHarmonize takes.
SITE = "SITE"


class HarmonizationError(ValueError):
    """ComBat cannot be fitted or applied in a fold (too few sites, unseen site, ...)."""


@dataclass(frozen=True, eq=False)
class Harmonization:
    """Sites and protected covariates of every subject of one comparison.

    Attributes
    ----------
    sites : numpy.ndarray of str
        Acquisition site of each subject, shape ``(subjects,)``, in the order of the
        classifier's inputs.
    covariates : numpy.ndarray
        float64, shape ``(subjects, k)``: numeric design columns of the covariates
        ComBat protects (:func:`tda_mci.covariates.covariate_design`; ``k`` may be 0).
        The diagnosis is not among them (see the module docstring).
    names : list of str
        Name of each covariate column (``AGE``, ``PTGENDER=M`` ...).
    """

    sites: np.ndarray
    covariates: np.ndarray
    names: list[str]

    def __post_init__(self):
        sites = np.asarray(self.sites).astype(str)
        if sites.ndim != 1 or sites.size == 0:
            raise ValueError(f"sites must be a non-empty 1-D array, got shape {sites.shape}")
        if (np.char.str_len(np.char.strip(sites)) == 0).any():
            raise ValueError("sites: every subject needs a non-empty site label")
        cov = np.asarray(self.covariates, dtype=np.float64)
        if cov.ndim == 1 and cov.size == 0:
            cov = cov.reshape(sites.size, 0)
        if cov.ndim != 2 or cov.shape[0] != sites.size:
            raise ValueError(
                f"covariates must have shape (subjects, k) = ({sites.size}, k), got {cov.shape}"
            )
        if not np.isfinite(cov).all():
            raise ValueError("covariates have NaN or infinite values")
        names = [str(n) for n in self.names]
        if len(names) != cov.shape[1]:
            raise ValueError(f"got {len(names)} covariate names for {cov.shape[1]} columns")
        object.__setattr__(self, "sites", sites)
        object.__setattr__(self, "covariates", cov)
        object.__setattr__(self, "names", names)

    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return int(self.sites.size)

    def describe(self) -> str:
        """One line: the sites with their subject counts and the protected covariates."""
        levels, counts = np.unique(self.sites, return_counts=True)
        sites = ", ".join(f"{s}: {c}" for s, c in zip(levels, counts, strict=True))
        protected = ", ".join(self.names) if self.names else "no covariates"
        return (
            f"{levels.size} sites ({sites}); protected: {protected}; "
            "diagnosis not protected"
        )


def _neuroharmonize():
    """Import neuroHarmonize's learn/apply functions (with an install hint if absent)."""
    try:
        from neuroHarmonize import harmonizationApply, harmonizationLearn
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return harmonizationLearn, harmonizationApply


def harmonizationLearn(data, covars, **kwargs):  # noqa: N802 (neuroHarmonize's name)
    """Call ``neuroHarmonize.harmonizationLearn`` (the name tests spy on).

    Parameters
    ----------
    data : numpy.ndarray
        ``(subjects, features)`` of the training fold.
    covars : pandas.DataFrame
        ``SITE`` and the numeric covariates of those subjects.
    **kwargs
        Passed on (``seed``).

    Returns
    -------
    model : dict
        neuroHarmonize's model.
    harmonised : numpy.ndarray
        ``data`` harmonised, same shape.
    """
    learn, _ = _neuroharmonize()
    return learn(data, covars, **kwargs)


def harmonizationApply(data, covars, model):  # noqa: N802 (neuroHarmonize's name)
    """Call ``neuroHarmonize.harmonizationApply`` (no parameter is estimated).

    Parameters
    ----------
    data : numpy.ndarray
        ``(subjects, features)``.
    covars : pandas.DataFrame
        ``SITE`` and the numeric covariates of those subjects.
    model : dict
        A model from :func:`harmonizationLearn`.

    Returns
    -------
    numpy.ndarray
        ``data`` harmonised, same shape.
    """
    _, apply = _neuroharmonize()
    return apply(data, covars, model)


def _check_features(train_X, test_X, train_idx, test_idx, harmonization):
    """Validate the fold's arrays; return them as float64 and the indices as int64."""
    train_X = np.asarray(train_X, dtype=np.float64)
    test_X = np.asarray(test_X, dtype=np.float64)
    train_idx = np.asarray(train_idx, dtype=np.int64).ravel()
    test_idx = np.asarray(test_idx, dtype=np.int64).ravel()
    if train_X.ndim != 2 or test_X.ndim != 2 or train_X.shape[1] != test_X.shape[1]:
        raise ValueError(
            "train_X and test_X must be (subjects, features) with the same features, got "
            f"shapes {train_X.shape} and {test_X.shape}"
        )
    if train_X.shape[0] != train_idx.size or test_X.shape[0] != test_idx.size:
        raise ValueError(
            f"{train_X.shape[0]} training rows for {train_idx.size} indices, "
            f"{test_X.shape[0]} test rows for {test_idx.size} indices"
        )
    n = harmonization.n_subjects
    for name, idx in (("train_idx", train_idx), ("test_idx", test_idx)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name} out of range for {n} subjects")
    if not (np.isfinite(train_X).all() and np.isfinite(test_X).all()):
        raise ValueError("features have NaN or infinite values")
    return train_X, test_X, train_idx, test_idx


def _check_sites(train_sites: np.ndarray, test_sites: np.ndarray) -> None:
    """Raise :class:`HarmonizationError` unless ComBat can be fitted and applied."""
    levels, counts = np.unique(train_sites, return_counts=True)
    if levels.size < 2:
        raise HarmonizationError(
            "ComBat needs at least 2 sites in the training fold, got only "
            f"{[str(s) for s in levels]}"
        )
    small = [f"{str(s)!r} ({c} subject)" for s, c in zip(levels, counts, strict=True) if c < 2]
    if small:
        raise HarmonizationError(
            f"site(s) {', '.join(small)} in the training fold: ComBat estimates each site's "
            "variance and needs at least 2 training subjects per site; merge or leave out "
            "such sites"
        )
    unseen = sorted(str(s) for s in set(test_sites.tolist()) - set(levels.tolist()))
    if unseen:
        n_unseen = int(np.isin(test_sites, unseen).sum())
        raise HarmonizationError(
            f"site(s) {unseen} of {n_unseen} test subject(s) have no subject in the training "
            "fold: ComBat cannot harmonise a site it has not learnt"
        )


def _fold_covariates(harmonization, train_idx, train_sites):
    """Covariate columns not constant in the training fold, their names; checks the rank."""
    cov = harmonization.covariates[train_idx]
    keep = np.ptp(cov, axis=0) > 0 if cov.shape[0] else np.zeros(cov.shape[1], bool)
    names = [n for n, k in zip(harmonization.names, keep, strict=True) if k]
    levels = np.unique(train_sites)
    onehot = (train_sites[:, None] == levels[None, :]).astype(np.float64)
    design = np.hstack([onehot, cov[:, keep]])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise HarmonizationError(
            f"the covariates {names} are collinear with the sites in the training fold "
            "(e.g. a level present at one site only): ComBat cannot separate them; "
            "change statistics.covariates"
        )
    return keep, names


def _covars_frame(sites: np.ndarray, cov: np.ndarray, names: list[str]):
    """Return the covariates table neuroHarmonize takes: ``SITE``, then the covariates."""
    import pandas as pd

    columns = {SITE: sites.astype(object)}
    for j, name in enumerate(names):
        columns[name if name != SITE else f"{SITE} (covariate)"] = cov[:, j]
    return pd.DataFrame(columns)


def harmonize_fold(
    train_X,
    test_X,
    train_idx,
    test_idx,
    harmonization: Harmonization,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ComBat on one training fold and apply it to the fold's test subjects.

    ``neuroHarmonize.harmonizationLearn(train, covars_train, seed=seed)`` (empirical
    Bayes, parametric priors, linear covariates) gives the training output;
    ``harmonizationApply`` applies that model, unchanged, to the test subjects. The
    test subjects are applied stacked under the training subjects and only their rows
    kept: ``harmonizationApply`` builds its site indicators from the sites present in
    its input and fails when a training site has no test subject (neuroHarmonize
    issue #50); the transform is per subject, so the stacking changes nothing else.
    neuroHarmonize's printing (and its numpy.matrix deprecation warning) is silenced
    and numpy's global random state (which ``harmonizationLearn`` reseeds) restored.

    Covariate columns constant within the training fold are dropped (they would make
    the design singular). Features constant within a training site (zero variance,
    e.g. a PR entry that is 0 for every subject of that site) cannot be harmonised and
    are passed through unchanged, with a warning. The diagnosis is not protected
    (see the module docstring).

    Parameters
    ----------
    train_X, test_X : array_like
        ``(subjects, features)`` of the training and the test subjects.
    train_idx, test_idx : array_like of int
        Their indices into ``harmonization`` (same order as the rows).
    harmonization : Harmonization
        Sites and covariates of all subjects.
    seed : int
        The fold's seed, passed to ``harmonizationLearn``.

    Returns
    -------
    train_H, test_H : numpy.ndarray
        The harmonised features, shapes of ``train_X`` and ``test_X`` (float64).

    Raises
    ------
    HarmonizationError
        (a ValueError) If the training fold has fewer than 2 sites or a site with
        fewer than 2 subjects, a test subject's site has no training subject, or the
        covariates are collinear with the sites in the training fold.
    ValueError
        On malformed arrays.
    ImportError
        If neuroHarmonize is not installed (the message says how to install it).
    """
    train_X, test_X, train_idx, test_idx = _check_features(
        train_X, test_X, train_idx, test_idx, harmonization
    )
    train_sites = harmonization.sites[train_idx]
    test_sites = harmonization.sites[test_idx]
    _check_sites(train_sites, test_sites)
    keep, names = _fold_covariates(harmonization, train_idx, train_sites)
    cov_train = harmonization.covariates[train_idx][:, keep]
    cov_test = harmonization.covariates[test_idx][:, keep]

    within = np.stack([train_X[train_sites == s].var(axis=0) for s in np.unique(train_sites)])
    features = np.flatnonzero((within > 0).all(axis=0))
    if features.size < train_X.shape[1]:
        log.warning(
            "ComBat: %d of %d features are constant within a site of the training fold "
            "and are left unharmonised",
            train_X.shape[1] - features.size,
            train_X.shape[1],
        )
    train_H, test_H = train_X.copy(), test_X.copy()
    if features.size == 0:
        return train_H, test_H

    covars_train = _covars_frame(train_sites, cov_train, names)
    covars_both = _covars_frame(
        np.concatenate([train_sites, test_sites]), np.vstack([cov_train, cov_test]), names
    )
    state = np.random.get_state()
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # neuroHarmonize's own use of numpy.matrix (not ours to fix).
            warnings.filterwarnings("ignore", "the matrix subclass", PendingDeprecationWarning)
            model, learnt = harmonizationLearn(
                train_X[:, features], covars_train, seed=int(seed) % 2**32
            )
            if test_idx.size:
                both = np.vstack([train_X[:, features], test_X[:, features]])
                applied = harmonizationApply(both, covars_both, model)[train_idx.size :]
    finally:
        np.random.set_state(state)
    train_H[:, features] = learnt
    if test_idx.size:
        test_H[:, features] = applied
    if not (np.isfinite(train_H).all() and np.isfinite(test_H).all()):
        raise HarmonizationError("ComBat gave NaN or infinite values (degenerate features?)")
    return train_H, test_H


def harmonize_inputs(
    data: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    harmonization: Harmonization,
    seed: int,
) -> np.ndarray:
    """Return a copy of a model's inputs with one fold's training and test rows harmonised.

    Parameters
    ----------
    data : numpy.ndarray
        All subjects' model inputs (:func:`tda_mci.model.fitting.model_inputs`):
        ``(subjects, features)`` (baselines), harmonised column by column, or symmetric
        PR matrices ``(subjects, n, n)`` (CNN), whose strict upper triangle is
        harmonised and mirrored below the diagonal (the diagonal is unchanged).
    train, test : numpy.ndarray
        int64 indices of the fold's training and test subjects (into ``data`` and
        ``harmonization``).
    harmonization : Harmonization
        Sites and covariates of all subjects.
    seed : int
        The fold's seed.

    Returns
    -------
    numpy.ndarray
        float64, shape of ``data``; rows outside ``train`` and ``test`` unchanged.

    Raises
    ------
    HarmonizationError, ValueError
        See :func:`harmonize_fold`; also if ``data`` and ``harmonization`` differ in
        their number of subjects.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.shape[0] != harmonization.n_subjects:
        raise ValueError(
            f"harmonization has {harmonization.n_subjects} subjects, the inputs {data.shape[0]}"
        )
    out = data.copy()
    if data.ndim == 2:
        out[train], out[test] = harmonize_fold(
            data[train], data[test], train, test, harmonization, seed
        )
        return out
    if data.ndim != 3 or data.shape[1] != data.shape[2]:
        raise ValueError(
            f"inputs must be (subjects, features) or (subjects, n, n), got {data.shape}"
        )
    rows, cols = np.triu_indices(data.shape[1], k=1)
    train_H, test_H = harmonize_fold(
        data[train][:, rows, cols], data[test][:, rows, cols], train, test, harmonization, seed
    )
    for idx, values in ((train, train_H), (test, test_H)):
        block = out[idx]
        block[:, rows, cols] = values
        block[:, cols, rows] = values
        out[idx] = block
    return out
