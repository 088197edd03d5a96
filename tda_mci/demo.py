"""A generated demo cohort: 4D BOLD-like images in MNI space with a planted group effect.

The demo lets a fresh clone run every stage of the pipeline on data whose answer is
known. It is written as a small fMRIPrep-like derivative tree::

    out_dir/
      dataset_description.json
      participants.tsv                  participant_id, group, age, sex
      ground_truth.json                 the planted effect and every generator setting
      sub-<label>/func/
        sub-<label>_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz
        sub-<label>_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.json
        sub-<label>_task-rest_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz

Signal model (ROI level, :func:`simulate_roi_signals`)
------------------------------------------------------
Each ROI of the atlas (the 160 Dosenbach ROIs by default, in atlas order) carries a
unit-variance mixture of

* a slow fluctuation shared by all ROIs of its network: Gaussian noise band-limited to
  0.01-0.1 Hz (FFT band-pass), weight ``network``;
* a weaker slow fluctuation shared by all ROIs (global signal), weight ``global``;
* ROI-specific autocorrelated noise: a stationary AR(1) process whose coefficient is
  drawn per subject and ROI from ``ar1_range``, weight ``own``.

Planted effect
--------------
In patients, the ROIs listed in ``effect["rois"]`` (default: DMN ROIs vlPFC 15 and
posterior cingulate 93, 108, 111, 115) mix in a narrow-band oscillation: an AR(2)
process with poles at ``pole_modulus * exp(+-2j*pi*frequency_hz*tr)`` (default
0.04 Hz, modulus 0.95). The ROI series becomes
``sqrt(1 - w**2) * healthy + w * oscillation`` with ``w = effect["weight"][group]``
(default HC 0, EMCI 0.45, MCI 0.6, LMCI 0.75; graded EMCI < MCI < LMCI). The variance
is unchanged, so the effect survives z-scoring: it changes the *dynamics*
(spectral peak, higher lag-1 autocorrelation, a loop in the delay embedding), hence the
H0/H1 persistence diagrams of the embedded series and their Wasserstein distances to
every other ROI. The effect is fixed per group (no per-subject severity).

Voxel level (:func:`generate_demo_cohort`)
------------------------------------------
The grid is nilearn's bundled MNI152 brain mask at 4 mm (``load_mni152_brain_mask
(resolution=4)``, from the ICBM 2009a symmetric template shipped with nilearn, no
download); the file names use fMRIPrep's default space label. The brain mask is that
mask plus every voxel within ``radius`` mm of an ROI centre (so no sphere falls outside
the brain). Each brain voxel within ``radius`` mm of an ROI centre belongs to its nearest
ROI and carries ``baseline * (1 + 0.01 * (roi_signal + noise_sd * white))``; other brain
voxels carry ``baseline * (1 + 0.01 * noise_sd * white)``; voxels outside the mask are 0.
Baselines are ~1000 (per voxel, per subject), so percent-signal-change scaling is
meaningful. Images are stored as int16 with a scale factor (nibabel picks it from the
data) and gzip without time stamps, so a rerun with the same seed gives identical
bytes. At 4 mm a 5 mm sphere holds 7-9 voxels; about 30 k brain voxels x 140 volumes
take ~6 MB per subject on disk.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from tda_mci.atlas import load_atlas
from tda_mci.io import atomic_write, write_json, write_tsv

#: Diagnostic groups of the demo, in the order subjects are numbered.
GROUPS = ("HC", "EMCI", "LMCI", "MCI")

#: Subjects per group by default (48 subjects in all).
DEFAULT_N_PER_GROUP = {"HC": 12, "EMCI": 12, "LMCI": 12, "MCI": 12}

#: The planted effect (see the module docstring).
DEFAULT_EFFECT: dict[str, Any] = {
    "rois": [15, 93, 108, 111, 115],
    "weight": {"HC": 0.0, "EMCI": 0.45, "MCI": 0.6, "LMCI": 0.75},
    "frequency_hz": 0.04,
    "pole_modulus": 0.95,
}

#: Healthy ROI-level signal model (weights are relative; the sum is renormalised).
SIGNAL_MODEL: dict[str, Any] = {
    "band_hz": [0.01, 0.1],
    "network": 0.6,
    "global": 0.25,
    "own": 0.75,
    "ar1_range": [0.2, 0.6],
}

#: Space label of the file names (fMRIPrep's default output space).
SPACE = "MNI152NLin2009cAsym"

_BURN_IN = 300


def _check_effect(effect: Mapping[str, Any] | None, atlas: pd.DataFrame) -> dict[str, Any]:
    effect = copy.deepcopy(dict(DEFAULT_EFFECT if effect is None else effect))
    missing = {"rois", "weight", "frequency_hz", "pole_modulus"} - set(effect)
    if missing:
        raise ValueError(f"effect is missing key(s) {sorted(missing)}")
    rois = [int(r) for r in effect["rois"]]
    unknown = sorted(set(rois) - set(atlas["roi"].tolist()))
    if unknown:
        raise ValueError(f"effect['rois'] has ROI numbers not in the atlas: {unknown}")
    effect["rois"] = rois
    for group, w in effect["weight"].items():
        if not 0.0 <= float(w) <= 1.0:
            raise ValueError(f"effect['weight'][{group!r}] = {w!r} is not in [0, 1]")
    if not 0.0 < float(effect["pole_modulus"]) < 1.0:
        raise ValueError(f"effect['pole_modulus'] = {effect['pole_modulus']!r} is not in (0, 1)")
    return effect


def _band_limited(
    n: int, tr: float, band: tuple[float, float], rng: np.random.Generator, size: int
) -> np.ndarray:
    """Return ``size`` unit-variance Gaussian series of length ``n`` band-limited to ``band``."""
    n_pad = 2 * n
    white = rng.standard_normal((n_pad, size))
    spec = np.fft.rfft(white, axis=0)
    freqs = np.fft.rfftfreq(n_pad, d=tr)
    spec[(freqs < band[0]) | (freqs > band[1])] = 0.0
    x = np.fft.irfft(spec, n=n_pad, axis=0)[n // 2 : n // 2 + n]
    return _unit(x)


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    return x / x.std(axis=0)


def _ar1(n: int, phi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) series, one column per coefficient in ``phi``, unit variance."""
    white = rng.standard_normal((n + _BURN_IN, len(phi)))
    out = np.empty_like(white)
    for j, p in enumerate(phi):
        out[:, j] = lfilter([1.0], [1.0, -p], white[:, j])
    return _unit(out[_BURN_IN:])


def _oscillation(
    n: int, tr: float, frequency_hz: float, modulus: float, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Narrow-band AR(2) series (complex poles at the given frequency), unit variance."""
    omega = 2.0 * np.pi * frequency_hz * tr
    a = [1.0, -2.0 * modulus * np.cos(omega), modulus**2]
    white = rng.standard_normal((n + _BURN_IN, size))
    return _unit(lfilter([1.0], a, white, axis=0)[_BURN_IN:])


def simulate_roi_signals(
    atlas: pd.DataFrame,
    group: str,
    n_volumes: int,
    tr: float,
    rng: np.random.Generator,
    effect: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Simulate one subject's ROI-level BOLD-like signals.

    Parameters
    ----------
    atlas : pandas.DataFrame
        Atlas table from :func:`tda_mci.atlas.load_atlas`; networks come from its
        ``network`` column, columns of the result follow its row order.
    group : str
        Diagnostic group; ``effect["weight"][group]`` (0 if absent) sets the strength of
        the planted oscillation.
    n_volumes : int
        Number of time points T.
    tr : float
        Repetition time in seconds (sets the frequencies of the band and oscillation).
    rng : numpy.random.Generator
        Source of randomness (the result is a pure function of its state).
    effect : mapping, optional
        ``{"rois": [...], "weight": {group: w}, "frequency_hz": f, "pole_modulus": r}``;
        ``None`` uses :data:`DEFAULT_EFFECT`.

    Returns
    -------
    numpy.ndarray, shape (n_volumes, n_rois), float64
        Zero-mean, unit-variance series per ROI, in atlas order.

    Notes
    -----
    See the module docstring for the model. Healthy ROI ``r`` of network ``k`` is
    ``(a_n * s_k + a_g * g + a_o * e_r) / sqrt(a_n**2 + a_g**2 + a_o**2)``; a planted ROI
    in a group with weight ``w`` becomes ``sqrt(1 - w**2) * healthy + w * o_r`` with
    ``o_r`` the narrow-band AR(2) oscillation; each result is re-standardised.
    """
    n_volumes = int(n_volumes)
    if n_volumes < 3:
        raise ValueError(f"n_volumes = {n_volumes} is too short; need at least 3")
    if not tr > 0:
        raise ValueError(f"tr = {tr!r} must be positive")
    effect = _check_effect(effect, atlas)
    model = SIGNAL_MODEL
    band = (float(model["band_hz"][0]), float(model["band_hz"][1]))
    net_names = atlas["network"].astype(str).to_numpy()
    uniq, net_index = np.unique(net_names, return_inverse=True)
    n_rois = len(atlas)

    shared = _band_limited(n_volumes, tr, band, rng, len(uniq) + 1)
    phi = rng.uniform(*model["ar1_range"], size=n_rois)
    own = _ar1(n_volumes, phi, rng)
    osc = _oscillation(
        n_volumes, tr, float(effect["frequency_hz"]), float(effect["pole_modulus"]), rng,
        len(effect["rois"]),
    )
    a_n, a_g, a_o = float(model["network"]), float(model["global"]), float(model["own"])
    x = a_n * shared[:, net_index] + a_g * shared[:, [-1]] + a_o * own
    x = _unit(x)

    w = float(effect["weight"].get(group, 0.0))
    if w > 0:
        cols = [int(np.flatnonzero(atlas["roi"].to_numpy() == r)[0]) for r in effect["rois"]]
        x[:, cols] = _unit(np.sqrt(1.0 - w**2) * x[:, cols] + w * osc)
    return x
