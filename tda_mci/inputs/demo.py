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
0.03 Hz, modulus 0.97). The ROI series becomes
``sqrt(1 - w**2) * healthy + w * oscillation`` with ``w = effect["weight"][group]``
(default HC 0, EMCI 0.7, MCI 0.8, LMCI 0.9; graded EMCI < MCI < LMCI). The variance
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
meaningful. Images are stored as int16 intensities (rounded, like scanner data; no scale
factor) and gzip without time stamps, so a rerun with the same seed gives identical
bytes. At 4 mm a 5 mm sphere holds 6-12 voxels; about 29 k brain voxels x 140 volumes
take ~7 MB per subject on disk (40 subjects: ~275 MB, ~20 s to generate).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from tda_mci.atlas import load_atlas, network_key
from tda_mci.cohort import demo_participants
from tda_mci.io import atomic_write, write_json, write_tsv
from tda_mci.paths import DEMO_SPACE, demo_image

#: The planted effect (see the module docstring).
DEFAULT_EFFECT: dict[str, Any] = {
    "rois": [15, 93, 108, 111, 115],
    "weight": {"HC": 0.0, "EMCI": 0.7, "MCI": 0.8, "LMCI": 0.9},
    "frequency_hz": 0.03,
    "pole_modulus": 0.97,
}

#: Healthy ROI-level signal model (weights are relative; the sum is renormalised).
SIGNAL_MODEL: dict[str, Any] = {
    "band_hz": [0.01, 0.1],
    "network": 0.6,
    "global": 0.25,
    "own": 0.75,
    "ar1_range": [0.2, 0.6],
}

_BURN_IN = 300

#: What ``ground_truth.json`` says the cohort is and what analyses should find.
_TRUTH_DESCRIPTION = (
    "Simulated resting-state cohort. Every ROI carries a network-shared slow "
    "fluctuation (0.01-0.1 Hz), a global one and ROI-specific AR(1) noise. In "
    "patients the planted ROIs mix in a narrow-band AR(2) oscillation at "
    "effect.frequency_hz with weight effect.weight[group] (variance unchanged: "
    "signal = sqrt(1-w^2)*healthy + w*oscillation), graded EMCI < MCI < LMCI. "
    "Expected: higher lag-1 autocorrelation and a spectral peak at "
    "effect.frequency_hz in planted ROIs of patients; shorter H0 bars of their "
    "delay embeddings; PR pairs that involve a planted ROI differ between HC "
    "and patients, other pairs do not."
)


@dataclass(frozen=True)
class _Settings:
    """The checked settings of one generated cohort, named as the ground truth names them."""

    seed: int
    n_per_group: dict[str, int]
    n_volumes: int
    tr: float
    voxel_size_mm: int
    sphere_radius_mm: float
    noise_sd: float
    effect: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """Return the settings as ``ground_truth.json`` records them (without the effect)."""
        return {k: v for k, v in asdict(self).items() if k != "effect"}


@dataclass(frozen=True)
class _Grid:
    """The demo's brain on nilearn's MNI152 grid, and the ROI sphere each voxel is in.

    ``brain`` (X, Y, Z) is the MNI152 brain mask plus every ROI sphere; ``owner`` holds,
    for each brain voxel (C order), the atlas row of its sphere, or -1.
    """

    affine: np.ndarray
    brain: np.ndarray
    owner: np.ndarray

    def mask_image(self):
        """Return the brain mask as a uint8 NIfTI image."""
        import nibabel as nib

        img = nib.Nifti1Image(self.brain.astype(np.uint8), self.affine)
        img.header.set_xyzt_units("mm")
        return img


def _check_timing(n_volumes: Any, tr: Any) -> int:
    """Return ``n_volumes`` as int if it is at least 3 and ``tr`` is positive, else raise."""
    if int(n_volumes) < 3:
        raise ValueError(f"n_volumes = {n_volumes!r}; need at least 3")
    if not tr > 0:
        raise ValueError(f"tr = {tr!r} must be positive")
    return int(n_volumes)


def _check_counts(n_per_group: Mapping[str, int]) -> dict[str, int]:
    """Return the subjects per group, checked."""
    counts = dict(n_per_group)
    for group, n in counts.items():
        if not str(group).isalnum():
            raise ValueError(f"group name {group!r} is not alphanumeric")
        if int(n) != n or n < 0:
            raise ValueError(f"n_per_group[{group!r}] = {n!r} is not a count")
    if sum(int(n) for n in counts.values()) == 0:
        raise ValueError("n_per_group asks for no subjects")
    return counts


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
    n_volumes = _check_timing(n_volumes, tr)
    effect = _check_effect(effect, atlas)
    model = SIGNAL_MODEL
    band = (float(model["band_hz"][0]), float(model["band_hz"][1]))
    net_names = atlas["network"].astype(str).to_numpy()
    uniq, net_index = np.unique(net_names, return_inverse=True)
    n_rois = len(atlas)

    shared = _band_limited(n_volumes, tr, band, rng, len(uniq) + 1)
    phi = rng.uniform(*model["ar1_range"], size=n_rois)
    own = _ar1(n_volumes, phi, rng)
    freq, modulus = float(effect["frequency_hz"]), float(effect["pole_modulus"])
    osc = _oscillation(n_volumes, tr, freq, modulus, rng, len(effect["rois"]))
    a_n, a_g, a_o = float(model["network"]), float(model["global"]), float(model["own"])
    x = a_n * shared[:, net_index] + a_g * shared[:, [-1]] + a_o * own
    x = _unit(x)

    w = float(effect["weight"].get(group, 0.0))
    if w > 0:
        cols = [int(np.flatnonzero(atlas["roi"].to_numpy() == r)[0]) for r in effect["rois"]]
        x[:, cols] = _unit(np.sqrt(1.0 - w**2) * x[:, cols] + w * osc)
    return x


def _sphere_assignment(
    shape: tuple[int, int, int], affine: np.ndarray, centres: np.ndarray, radius: float
) -> np.ndarray:
    """Index of the nearest ROI centre within ``radius`` mm of each voxel, else -1."""
    from scipy.spatial import cKDTree

    ijk = np.indices(shape).reshape(3, -1).T.astype(float)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    dist, idx = cKDTree(centres).query(xyz, k=1)
    # Same inclusion rule as nilearn's NearestNeighbors(radius=...): distance <= radius.
    return np.where(dist <= radius, idx, -1).reshape(shape)


def _brain_grid(voxel_size: int, atlas: pd.DataFrame, radius: float) -> _Grid:
    """Build the brain grid: nilearn's MNI152 brain mask at ``voxel_size`` mm, and spheres."""
    from nilearn.datasets import load_mni152_brain_mask

    template = load_mni152_brain_mask(resolution=voxel_size)
    affine = template.affine.copy()
    centres = atlas[["x", "y", "z"]].to_numpy(float)
    owner = _sphere_assignment(template.shape[:3], affine, centres, radius)
    brain = (np.asarray(template.dataobj) > 0) | (owner >= 0)
    return _Grid(affine, brain, owner[brain])


def _subject_image(
    atlas: pd.DataFrame, group: str, grid: _Grid, settings: _Settings, rng: np.random.Generator
):
    """Simulate one subject's int16 image: ROI signals in their spheres, voxel noise.

    Draws the ROI signals (:func:`simulate_roi_signals`), then per-voxel baselines, then
    white noise, from ``rng``.
    """
    import nibabel as nib

    x = simulate_roi_signals(atlas, group, settings.n_volumes, settings.tr, rng, settings.effect)
    n_brain = len(grid.owner)
    in_sphere = grid.owner >= 0
    baseline = 1000.0 * np.clip(1.0 + 0.1 * rng.standard_normal(n_brain), 0.5, 1.5)
    signal = settings.noise_sd * rng.standard_normal((settings.n_volumes, n_brain))
    signal[:, in_sphere] += x[:, grid.owner[in_sphere]]
    values = np.rint(baseline * (1.0 + 0.01 * signal))
    data = np.zeros((*grid.brain.shape, settings.n_volumes), dtype=np.int16)
    data[grid.brain] = np.clip(values, 1, np.iinfo(np.int16).max).T
    img = nib.Nifti1Image(data, grid.affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((*img.header.get_zooms()[:3], float(settings.tr)))
    return img


def _write_subject(out: Path, label: str, img: Any, mask_img: Any, tr: float) -> dict[str, str]:
    """Write a subject's image, JSON sidecar and brain mask; return their relative paths."""
    import nibabel as nib

    bold = Path(demo_image(".", label, "bold"))
    mask = Path(demo_image(".", label, "mask"))
    atomic_write(out / bold, lambda tmp: nib.save(img, tmp), suffix=".nii.gz")
    atomic_write(out / mask, lambda tmp: nib.save(mask_img, tmp), suffix=".nii.gz")
    write_json(
        out / bold.with_name(bold.name.replace(".nii.gz", ".json")),
        {"RepetitionTime": float(tr), "TaskName": "rest", "SkullStripped": True},
    )
    return {"bold": bold.as_posix(), "mask": mask.as_posix()}


def _write_dataset_files(out: Path, table: pd.DataFrame, seed: int) -> None:
    """Write ``participants.tsv`` (ages, sexes drawn from ``seed``), dataset_description."""
    from tda_mci import __version__

    rng = np.random.default_rng(seed)
    n = len(table)
    participants = pd.DataFrame(
        {
            "participant_id": table["participant_id"].tolist(),
            "group": table["group"].tolist(),
            "age": np.round(rng.normal(72.0, 6.0, size=n), 1),
            "sex": rng.choice(["F", "M"], size=n),
        }
    )
    write_tsv(out / "participants.tsv", participants)
    write_json(
        out / "dataset_description.json",
        {
            "Name": "tda_mci demo cohort (simulated)",
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": [{"Name": "tda_mci.inputs.demo", "Version": __version__}],
        },
    )


def _effect_record(effect: Mapping[str, Any], atlas: pd.DataFrame) -> dict[str, Any]:
    """Describe the planted effect for the ground truth, with the ROIs' labels and networks."""
    rows = atlas.set_index("roi").loc[effect["rois"]]
    return {
        "rois": [int(r) for r in effect["rois"]],
        "labels": rows["label"].tolist(),
        "networks": sorted(set(rows["network"].tolist())),
        "network_keys": sorted({network_key(n) for n in rows["network"]}),
        "weight": {g: float(w) for g, w in effect["weight"].items()},
        "frequency_hz": float(effect["frequency_hz"]),
        "pole_modulus": float(effect["pole_modulus"]),
    }


def _ground_truth(
    settings: _Settings, grid: _Grid, atlas: pd.DataFrame, subjects: list[dict[str, str]]
) -> dict[str, Any]:
    """Return the ground truth: the planted effect, every setting, the grid, the files."""
    from tda_mci import __version__

    voxels_per_roi = np.bincount(grid.owner[grid.owner >= 0], minlength=len(atlas))
    return {
        "description": _TRUTH_DESCRIPTION,
        **settings.record(),
        "space": DEMO_SPACE,
        "template": (
            f"nilearn load_mni152_brain_mask(resolution={settings.voxel_size_mm}) (ICBM152 "
            "2009a symmetric, shipped with nilearn) plus every voxel within the sphere radius "
            "of an ROI centre"
        ),
        "n_brain_voxels": len(grid.owner),
        "voxels_per_roi": {
            str(r): int(v) for r, v in zip(atlas["roi"], voxels_per_roi, strict=True)
        },
        "signal_model": copy.deepcopy(SIGNAL_MODEL),
        "effect": _effect_record(settings.effect, atlas),
        "subjects": subjects,
        "generator": f"tda_mci.inputs.demo.generate_demo_cohort (tda_mci {__version__})",
    }


def generate_demo_cohort(
    out_dir: str | Path,
    *,
    n_per_group: Mapping[str, int],
    n_volumes: int = 140,
    tr: float = 3.0,
    voxel_size: int = 4,
    seed: int = 0,
    effect: Mapping[str, Any] | None = None,
    noise_sd: float = 1.0,
    radius: float = 5.0,
    atlas: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write the demo cohort (images, masks, participants.tsv, ground truth).

    Parameters
    ----------
    out_dir : str or Path
        Root of the generated fMRIPrep-like derivative tree (created).
    n_per_group : mapping of str to int, optional
        Subjects per group (``demo.n_per_group``; the schema's default is 10 each of HC,
        EMCI, LMCI and MCI). Group names must be alphanumeric. Subject ids and groups are those of
        :func:`tda_mci.cohort.demo_participants` (``sub-001`` ..., groups in a seeded
        random order), so the workflow knows the cohort before the files exist.
    n_volumes : int
        Volumes per image (ADNI: 140).
    tr : float
        Repetition time in seconds, written to the NIfTI header and the JSON sidecar.
    voxel_size : int
        Isotropic voxel size in mm of nilearn's MNI152 brain mask grid.
    seed : int
        Seed of everything random; subject ``i`` (0-based row of participants.tsv)
        draws from ``numpy.random.default_rng([seed, i + 1])``, ages and sexes from
        ``default_rng(seed)``. Same arguments give byte-identical files.
    effect : mapping, optional
        The planted effect (see :func:`simulate_roi_signals`); default
        :data:`DEFAULT_EFFECT`.
    noise_sd : float
        Standard deviation of white voxel noise, in units of the ROI signal's standard
        deviation (both scaled to 1 % of the voxel's baseline).
    radius : float
        Radius in mm of the ROI spheres that carry ROI signals (the paper's 5 mm).
    atlas : pandas.DataFrame, optional
        ROI table; default :func:`tda_mci.atlas.load_atlas` (Dosenbach 160).

    Returns
    -------
    dict
        The ground truth, as also written to ``out_dir/ground_truth.json`` (paths in it
        are relative to ``out_dir``).

    Raises
    ------
    ValueError
        For a bad group name or size, too few volumes, a non-positive TR, an effect that
        names ROIs not in the atlas, or weights outside [0, 1].
    """
    out = Path(out_dir)
    atlas = load_atlas() if atlas is None else atlas
    effect = _check_effect(effect, atlas)
    counts = _check_counts(n_per_group)
    table = demo_participants(counts, seed=seed)
    settings = _Settings(
        int(seed), {g: int(n) for g, n in counts.items()}, _check_timing(n_volumes, tr),
        float(tr), int(voxel_size), float(radius), float(noise_sd), effect,
    )
    grid = _brain_grid(settings.voxel_size_mm, atlas, settings.sphere_radius_mm)
    subjects = []
    for i, (label, group) in enumerate(zip(table["subject"], table["group"], strict=True)):
        img = _subject_image(atlas, group, grid, settings, np.random.default_rng([seed, i + 1]))
        files = _write_subject(out, label, img, grid.mask_image(), tr)
        subjects.append({"participant_id": f"sub-{label}", "group": group, **files})
    _write_dataset_files(out, table, seed)
    truth = _ground_truth(settings, grid, atlas, subjects)
    write_json(out / "ground_truth.json", truth)
    return truth
