"""Train/test folds shared by every model of a comparison, and their checks.

Conventions: labels ``y`` are 0/1 (0 = the comparison's first group); a fold is a tuple
``(repeat, fold, train_idx, test_idx)`` with 0-based ``repeat`` and ``fold`` and sorted
int64 index arrays into ``y``. Folds are stratified on ``y`` and seeded, so the same
labels and seed give the same folds on every platform.

Protocols
---------
``"cv"`` (default)
    Repeated stratified k-fold (scikit-learn ``RepeatedStratifiedKFold`` seeded with
    ``seed``).
``"paper"``
    The paper's protocol: one stratified 80/20 split (``StratifiedShuffleSplit``,
    seeded).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedShuffleSplit

from tda_mci.model.data import check_labels
from tda_mci.validation import check_int

__all__ = [
    "PROTOCOLS", "Fold", "check_folds", "fold_seed", "inner_split", "make_folds",
    "site_spread_folds",
]

#: Evaluation protocols.
PROTOCOLS = ("cv", "paper")

#: ``(repeat, fold, train_idx, test_idx)``.
Fold = tuple[int, int, np.ndarray, np.ndarray]


def make_folds(
    y,
    protocol: str = "cv",
    n_splits: int = 5,
    n_repeats: int = 3,
    seed: int = 0,
    test_size: float = 0.2,
    sites=None,
) -> list[Fold]:
    """Return the train/test folds every model of a comparison shares.

    Parameters
    ----------
    y : array_like
        Labels 0/1 (folds are stratified on them).
    protocol : {"cv", "paper"}
        ``cv``: ``RepeatedStratifiedKFold(n_splits, n_repeats, random_state=seed)``;
        ``paper``: one ``StratifiedShuffleSplit(test_size=test_size, random_state=seed)``
        split (``n_splits`` and ``n_repeats`` ignored).
    n_splits, n_repeats : int
        Folds per repeat and repeats (``cv`` only).
    seed : int
        Seed of the split.
    test_size : float
        Test fraction of the ``paper`` protocol (paper: 0.2).
    sites : array_like of str, optional
        Each subject's acquisition site. Given (with ComBat harmonisation), the folds are
        stratified on the label *and* spread every site over the folds, so that each
        training fold holds subjects of every site (ComBat must have learnt a test
        subject's site): see :func:`site_spread_folds`. None: scikit-learn's stratified
        splitters on ``y``.

    Returns
    -------
    list of tuple
        ``(repeat, fold, train_idx, test_idx)`` with 0-based ``repeat`` and ``fold`` and
        sorted int64 index arrays into ``y``; within a repeat the test folds partition
        the subjects.

    Raises
    ------
    ValueError
        For an unknown protocol, bad counts, or a class with fewer members than
        ``n_splits`` (``cv``) or than 2 (``paper``).
    """
    y = check_labels(y)
    counts = np.bincount(y, minlength=2)
    if protocol == "cv":
        n_splits = check_int("n_splits", n_splits, 2)
        n_repeats = check_int("n_repeats", n_repeats, 1)
        if counts.min() < n_splits:
            raise ValueError(
                f"stratified {n_splits}-fold CV needs at least {n_splits} subjects per class, "
                f"got {counts[0]} of class 0 and {counts[1]} of class 1"
            )
        splitter = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=int(seed)
        )
        per_repeat = n_splits
    elif protocol == "paper":
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
        if counts.min() < 2:
            raise ValueError(
                f"a stratified split needs at least 2 subjects per class, got {counts.tolist()}"
            )
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=float(test_size), random_state=int(seed)
        )
        per_repeat = 1
    else:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if sites is not None:
        if protocol == "cv":
            return site_spread_folds(y, sites, n_splits, n_repeats, seed)
        # paper: the first fold of a site-spread split into round(1 / test_size) parts
        return site_spread_folds(y, sites, max(2, round(1 / float(test_size))), 1, seed)[:1]
    splits = splitter.split(np.zeros((y.size, 1)), y)
    return [
        (
            i // per_repeat,
            i % per_repeat,
            np.sort(tr).astype(np.int64),
            np.sort(te).astype(np.int64),
        )
        for i, (tr, te) in enumerate(splits)
    ]


def site_spread_folds(y, sites, n_splits: int, n_repeats: int, seed: int) -> list[Fold]:
    """Folds stratified on the label that spread every site evenly over the folds.

    For each repeat ``r`` (``numpy.random.default_rng([seed, r])``), the subjects of each
    label are shuffled, grouped by site (sites in a random order), and dealt to the folds
    in turn, starting at a random fold. Each test fold so gets ``n_label / n_splits``
    subjects of each label, rounded up or down, and at most ``ceil(m / n_splits)`` of the
    ``m`` subjects of one label at one site: every training fold keeps the rest of them.
    (Stratifying on label x site with scikit-learn instead fails when every stratum is
    smaller than ``n_splits``, as with small sites.)

    Parameters
    ----------
    y : numpy.ndarray
        Labels 0/1 (int64).
    sites : array_like of str
        Site of each subject.
    n_splits, n_repeats, seed : int
        Folds per repeat, repeats and the seed.

    Returns
    -------
    list of tuple
        As :func:`make_folds`.
    """
    sites = np.asarray(sites).astype(str)
    if sites.shape != y.shape:
        raise ValueError(f"{sites.size} sites for {y.size} subjects")
    folds = []
    for r in range(n_repeats):
        rng = np.random.default_rng([int(seed), r])
        order = {s: k for k, s in enumerate(rng.permutation(np.unique(sites)))}
        fold_of = np.empty(y.size, dtype=np.int64)
        for label in (0, 1):
            members = rng.permutation(np.flatnonzero(y == label))
            members = members[np.argsort([order[s] for s in sites[members]], kind="stable")]
            fold_of[members] = (rng.integers(n_splits) + np.arange(members.size)) % n_splits
        for f in range(n_splits):
            folds.append((r, f, np.flatnonzero(fold_of != f).astype(np.int64),
                          np.flatnonzero(fold_of == f).astype(np.int64)))
    return folds


def fold_seed(seed: int, repeat: int, fold: int) -> int:
    """Return the training seed of one fold, derived from the run's seed.

    Parameters
    ----------
    seed : int
        The run's seed.
    repeat, fold : int
        The fold's position.

    Returns
    -------
    int
        A 31-bit seed (``numpy.random.SeedSequence([seed, repeat, fold])``), the same on
        every platform.
    """
    state = np.random.SeedSequence([int(seed), int(repeat), int(fold)]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


def inner_split(y_train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a training fold into inner-training and validation subjects, stratified.

    Parameters
    ----------
    y_train : numpy.ndarray
        Labels 0/1 of the training fold.
    fraction : float
        Fraction of the fold held out for validation (rounded up to whole subjects).
    seed : int
        ``random_state`` of the ``StratifiedShuffleSplit``.

    Returns
    -------
    inner, val : numpy.ndarray
        Sorted positions into ``y_train`` (not subject indices).

    Raises
    ------
    ValueError
        If either side would get fewer than 2 subjects, or a class has fewer than 2.
    """
    counts = np.bincount(y_train, minlength=2)
    n_val = int(np.ceil(fraction * y_train.size))
    if counts.min() < 2 or n_val < 2 or y_train.size - n_val < 2:
        raise ValueError(
            f"inner_val_fraction={fraction} cannot carve a stratified validation split from a "
            f"training fold with {counts[0]} + {counts[1]} subjects"
        )
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    inner, val = next(splitter.split(np.zeros((y_train.size, 1)), y_train))
    return np.sort(inner), np.sort(val)


def check_folds(folds: Sequence[Fold], n: int) -> list[Fold]:
    """Validate given folds against ``n`` subjects and normalise their types.

    Parameters
    ----------
    folds : sequence of tuple
        ``(repeat, fold, train_idx, test_idx)``, e.g. from :func:`make_folds`.
    n : int
        Number of subjects the indices point into.

    Returns
    -------
    list of tuple
        The folds with int ``repeat``/``fold`` and int64 index arrays, in the given order.

    Raises
    ------
    ValueError
        If ``folds`` is empty, or a fold has an empty side, a subject on both sides or
        an index outside ``0 .. n - 1`` (the message names the fold).
    """
    out = []
    for item in folds:
        repeat, fold, train, test = item
        train = np.asarray(train, dtype=np.int64)
        test = np.asarray(test, dtype=np.int64)
        if np.intersect1d(train, test).size:
            raise ValueError(f"fold (repeat {repeat}, fold {fold}) has subjects in train and test")
        if (
            min(train.min(initial=0), test.min(initial=0)) < 0
            or max(train.max(initial=0), test.max(initial=0)) >= n
        ):
            raise ValueError(f"fold (repeat {repeat}, fold {fold}) indexes outside 0..{n - 1}")
        if train.size == 0 or test.size == 0:
            raise ValueError(f"fold (repeat {repeat}, fold {fold}) has an empty train or test set")
        out.append((int(repeat), int(fold), train, test))
    if not out:
        raise ValueError("folds is empty")
    return out
