"""Tiny synthetic inputs of every shape the workflow reads (our own generator, no network).

* :func:`write_atlas20`: a custom 20-ROI atlas (three networks) on a small MNI-like grid.
* :func:`make_fmriprep`: an fMRIPrep-like BIDS derivative tree: preprocessed bold, brain
  mask, confounds TSV + JSON (fMRIPrep column names, non-steady-state volumes flagged),
  and distractor files (another space, another task) that must not be picked.
* :func:`make_fsl_like`: FSL-style folders, one per subject, with a 4D image already in
  the atlas's space, a brain mask and a plain confounds TSV (motion parameters).
* :func:`make_timeseries_tables`: one T x R table per subject (TSV or CSV) + JSON sidecar.
* :func:`make_network_csvs`: the paper's layout, ``{group}/{network}/{subject}.csv`` with
  one row per ROI.

ROI signals come from :func:`tda_mci.inputs.demo.simulate_roi_signals` (network-shared slow
fluctuations plus ROI-specific AR(1) noise; patients carry a narrow-band oscillation in a
few ROIs). Everything is a pure function of ``seed``.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from tda_mci.atlas import load_atlas, networks
from tda_mci.inputs.demo import simulate_roi_signals

#: Voxel size (mm), grid shape and origin (mm) of the small images.
VOX = 4.0
SHAPE = (16, 18, 14)
ORIGIN = (-30.0, -38.0, -26.0)
SPACE = "MNI152NLin2009cAsym"


def affine() -> np.ndarray:
    """Affine of the small grid (4 mm isotropic, RAS)."""
    aff = np.diag([VOX, VOX, VOX, 1.0])
    aff[:3, 3] = ORIGIN
    return aff


def atlas20() -> pd.DataFrame:
    """A 20-ROI atlas: networks visual (8 ROIs), motor (7), attention (5), 12 mm apart."""
    xs, ys = (-18.0, -6.0, 6.0, 18.0), (-24.0, -12.0, 0.0, 12.0, 24.0)
    coords = [
        (x, y, -8.0 if (i + j) % 2 else 8.0) for j, y in enumerate(ys) for i, x in enumerate(xs)
    ]
    nets = ["visual"] * 8 + ["motor"] * 7 + ["attention"] * 5
    return pd.DataFrame(
        {
            "roi": np.arange(1, 21),
            "label": [f"{n[:3].upper()} {i + 1}" for i, n in enumerate(nets)],
            "network": nets,
            "x": [c[0] for c in coords],
            "y": [c[1] for c in coords],
            "z": [c[2] for c in coords],
        }
    )


def write_atlas20(path: str | Path) -> pd.DataFrame:
    """Write :func:`atlas20` as a TSV (roi, label, network, x, y, z) and return it."""
    table = atlas20()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False)
    return table


def participants(n_per_group: dict[str, int]) -> pd.DataFrame:
    """``participant_id`` sub-01, sub-02 ... with groups in alternating order."""
    groups = []
    pools = {g: int(n) for g, n in n_per_group.items()}
    while any(pools.values()):
        for g in pools:
            if pools[g]:
                groups.append(g)
                pools[g] -= 1
    return pd.DataFrame(
        {"participant_id": [f"sub-{i + 1:02d}" for i in range(len(groups))], "group": groups}
    )


def write_participants(path: str | Path, table: pd.DataFrame) -> Path:
    """Write a participants.tsv."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False)
    return path


def _effect(atlas: pd.DataFrame) -> dict:
    return {
        "rois": atlas["roi"].tolist()[:3],
        "weight": {"HC": 0.0, "MCI": 0.8, "LMCI": 0.9},
        "frequency_hz": 0.03,
        "pole_modulus": 0.97,
    }


def roi_signals(
    atlas: pd.DataFrame, group: str, n_volumes: int, tr: float, seed: int, index: int
) -> np.ndarray:
    """Unit-variance ROI signals (T x R) of subject ``index``."""
    rng = np.random.default_rng([seed, index])
    effect = None if len(atlas) == 160 else _effect(atlas)
    return simulate_roi_signals(atlas, group, n_volumes, tr, rng, effect)


def image_data(
    signals: np.ndarray,
    atlas: pd.DataFrame,
    rng: np.random.Generator,
    radius: float = 6.0,
    noise: float = 0.3,
) -> np.ndarray:
    """4D data on the small grid: ROI signal in a sphere around each ROI, noise elsewhere."""
    n_t = signals.shape[0]
    ijk = np.indices(SHAPE).reshape(3, -1).T
    xyz = ijk @ affine()[:3, :3].T + affine()[:3, 3]
    data = 1000.0 + 10.0 * noise * rng.standard_normal((len(xyz), n_t))
    centres = atlas[["x", "y", "z"]].to_numpy(float)
    for j, c in enumerate(centres):
        inside = np.sqrt(((xyz - c) ** 2).sum(axis=1)) <= radius
        data[inside] += 10.0 * signals[:, j]
    return data.reshape(*SHAPE, n_t)


def _save_nifti(data: np.ndarray, path: Path, tr: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine())
    if data.ndim == 4:
        img.header.set_xyzt_units("mm", "sec")
        img.header.set_zooms((VOX, VOX, VOX, float(tr)))
    nib.save(img, str(path))
    return path


def _brain_mask() -> np.ndarray:
    mask = np.ones(SHAPE, dtype=np.uint8)
    mask[0, :, :] = mask[-1, :, :] = 0  # a margin outside the brain
    return mask


def fmriprep_confounds(n_volumes: int, rng: np.random.Generator, n_dummy: int = 2) -> pd.DataFrame:
    """An fMRIPrep-style confounds table (v21 column names, NaN in first derivative rows)."""
    cols = {}
    for name in (
        "trans_x",
        "trans_y",
        "trans_z",
        "rot_x",
        "rot_y",
        "rot_z",
        "csf",
        "white_matter",
        "global_signal",
    ):
        base = np.cumsum(0.02 * rng.standard_normal(n_volumes))
        deriv = np.r_[np.nan, np.diff(base)]
        cols[name] = base
        cols[f"{name}_derivative1"] = deriv
        cols[f"{name}_power2"] = base**2
        cols[f"{name}_derivative1_power2"] = deriv**2
    fd = np.r_[np.nan, np.abs(rng.normal(0.1, 0.03, n_volumes - 1))]
    cols["framewise_displacement"] = fd
    cols["std_dvars"] = np.r_[np.nan, np.abs(rng.normal(1.0, 0.1, n_volumes - 1))]
    cols["dvars"] = cols["std_dvars"] * 10
    t = np.arange(n_volumes)
    for k in range(3):
        cols[f"cosine{k:02d}"] = np.cos(np.pi * (k + 1) * (t + 0.5) / n_volumes)
    for k in range(n_dummy):
        cols[f"non_steady_state_outlier{k:02d}"] = (t == k).astype(float)
    for k in range(3):
        cols[f"a_comp_cor_{k:02d}"] = rng.standard_normal(n_volumes)
    return pd.DataFrame(cols)


def _confounds_json(table: pd.DataFrame) -> str:
    import json

    meta = {
        c: {"Method": "aCompCor", "Mask": "combined", "Retained": True, "VarianceExplained": 0.1}
        for c in table.columns
        if c.startswith("a_comp_cor")
    }
    return json.dumps(meta, indent=1)


def make_fmriprep(
    root: str | Path,
    table: pd.DataFrame,
    atlas: pd.DataFrame,
    *,
    n_volumes: int = 40,
    tr: float = 2.0,
    seed: int = 0,
    n_dummy: int = 2,
    distractors: bool = True,
    scans: dict[str, list[tuple[str | None, str | None]]] | None = None,
) -> dict[str, dict[str, Path]]:
    """Write an fMRIPrep-like derivative tree; returns each subject's files by role.

    The first ``n_dummy`` volumes are non-steady-state (flagged in the confounds and
    brighter in the image); the image also carries 5 x the ``white_matter`` confound.
    ``scans`` gives a subject (label) its (session, run) pairs (default: one image with
    neither); each scan gets its own noise, the returned files are its first scan's.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(
        '{"Name": "synthetic fMRIPrep", "BIDSVersion": "1.9.0", "DatasetType": "derivative"}\n'
    )
    out = {}
    for i, row in enumerate(table.itertuples()):
        sub = row.participant_id
        for k, (ses, run) in enumerate((scans or {}).get(sub[4:], [(None, None)])):
            func = root / sub / (f"ses-{ses}" if ses else "") / "func"
            rng = np.random.default_rng([seed, 100 + i] + ([k] if k else []))
            sig = roi_signals(atlas, row.group, n_volumes, tr, seed + k, i)
            data = image_data(sig, atlas, rng)
            conf = fmriprep_confounds(n_volumes, rng, n_dummy)
            data += 5.0 * conf["white_matter"].to_numpy()
            data[..., :n_dummy] += 300.0
            entities = "_".join([sub] + ([f"ses-{ses}"] if ses else []) + ["task-rest"]
                                + ([f"run-{run}"] if run else []))
            stem = f"{entities}_space-{SPACE}"
            scan = {
                "bold": _save_nifti(
                    data * _brain_mask()[..., None], func / f"{stem}_desc-preproc_bold.nii.gz", tr
                ),
                "mask": _save_nifti(_brain_mask(), func / f"{stem}_desc-brain_mask.nii.gz"),
                "confounds": func / f"{entities}_desc-confounds_timeseries.tsv",
            }
            (func / f"{stem}_desc-preproc_bold.json").write_text(
                f'{{"RepetitionTime": {tr}, "TaskName": "rest"}}\n'
            )
            conf.to_csv(scan["confounds"], sep="\t", index=False, na_rep="n/a")
            scan["confounds"].with_suffix(".json").write_text(_confounds_json(conf))
            if k == 0:
                files = scan
        func = files["bold"].parent
        if distractors:
            tiny = np.ones((2, 2, 2, 3), dtype=np.float32)
            _save_nifti(tiny, func / f"{sub}_task-rest_space-T1w_desc-preproc_bold.nii.gz", tr)
            _save_nifti(tiny, func / f"{sub}_task-nback_space-{SPACE}_desc-preproc_bold.nii.gz", tr)
            _save_nifti(tiny[..., 0], func / f"{sub}_task-rest_space-{SPACE}_boldref.nii.gz")
        out[sub[4:]] = files
    return out


def make_fsl_like(
    root: str | Path,
    table: pd.DataFrame,
    atlas: pd.DataFrame,
    *,
    n_volumes: int = 40,
    tr: float = 2.0,
    seed: int = 0,
) -> dict[str, dict[str, Path]]:
    """FSL-style folders ``<root>/<label>.feat/`` with an image in MNI space, mask, motion.

    Files: ``filtered_func_data_mni.nii.gz``, ``mask_mni.nii.gz`` and ``confounds.tsv``
    (six motion parameters with a header).
    """
    root = Path(root)
    out = {}
    for i, row in enumerate(table.itertuples()):
        label = row.participant_id[4:]
        folder = root / f"{label}.feat"
        rng = np.random.default_rng([seed, 200 + i])
        sig = roi_signals(atlas, row.group, n_volumes, tr, seed, i)
        data = image_data(sig, atlas, rng)
        motion = np.cumsum(0.02 * rng.standard_normal((n_volumes, 6)), axis=0)
        data += 3.0 * motion[:, 0]
        conf = pd.DataFrame(motion, columns=["tx", "ty", "tz", "rx", "ry", "rz"])
        folder.mkdir(parents=True, exist_ok=True)
        conf.to_csv(folder / "confounds.tsv", sep="\t", index=False)
        out[label] = {
            "bold": _save_nifti(data, folder / "filtered_func_data_mni.nii.gz", tr),
            "mask": _save_nifti(_brain_mask(), folder / "mask_mni.nii.gz"),
            "confounds": folder / "confounds.tsv",
        }
    return out


def series(
    table: pd.DataFrame,
    atlas: pd.DataFrame | None = None,
    *,
    n_volumes: int = 40,
    tr: float = 2.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Subject label -> T x R series (atlas order; Dosenbach 160 by default)."""
    atlas = load_atlas() if atlas is None else atlas
    return {
        row.participant_id[4:]: roi_signals(atlas, row.group, n_volumes, tr, seed, i)
        for i, row in enumerate(table.itertuples())
    }


def make_timeseries_tables(
    root: str | Path,
    table: pd.DataFrame,
    atlas: pd.DataFrame | None = None,
    *,
    n_volumes: int = 40,
    tr: float = 2.0,
    seed: int = 0,
    ext: str = ".tsv",
) -> dict[str, Path]:
    """``<root>/sub-<label>_timeseries<ext>`` (header = ROI numbers) + JSON with the TR."""
    atlas = load_atlas() if atlas is None else atlas
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for label, x in series(table, atlas, n_volumes=n_volumes, tr=tr, seed=seed).items():
        path = root / f"sub-{label}_timeseries{ext}"
        pd.DataFrame(x, columns=atlas["roi"].astype(str)).to_csv(
            path, sep="," if ext == ".csv" else "\t", index=False, float_format="%.17g"
        )
        path.with_suffix(".json").write_text(f'{{"RepetitionTime": {tr}}}\n')
        out[label] = path
    return out


def make_network_csvs(
    root: str | Path,
    table: pd.DataFrame,
    atlas: pd.DataFrame | None = None,
    *,
    n_volumes: int = 40,
    tr: float = 2.0,
    seed: int = 0,
) -> dict[str, dict[str, Path]]:
    """The paper's layout: ``<root>/<group>/<network>/<label>.csv``, rows = ROIs, no header."""
    atlas = load_atlas() if atlas is None else atlas
    root = Path(root)
    groups = dict(zip(table["participant_id"].str[4:], table["group"], strict=True))
    out = {}
    for label, x in series(table, atlas, n_volumes=n_volumes, tr=tr, seed=seed).items():
        out[label] = {}
        for key, idx in networks(atlas).items():
            path = root / groups[label] / key / f"{label}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(x[:, idx].T).to_csv(path, header=False, index=False, float_format="%.17g")
            out[label][key] = path
    return out


#: Scans of the multi-site fixture (:func:`make_multisite_cohort`): (session, run) pairs.
MULTISITE_SCANS = {
    **{f"{i:03d}": [("01", None)] for i in range(1, 5)},
    **{f"{i:03d}": [("01", "1"), ("01", "2"), ("02", None)] for i in range(5, 9)},
    **{f"{i:03d}": [("02", "1"), ("02", "2")] for i in range(9, 13)},
}


def make_multisite_cohort(root: str | Path, n_volumes: int = 80) -> dict[str, Path]:
    """An ADNI-like multi-site fMRIPrep cohort: 12 subjects over 3 sites, and 2 unmapped.

    ``participants.tsv`` has ADNI's columns ``participant_id, DX_bl, AGE, PTGENDER,
    SITE``: sub-001 ... sub-012 are CN or LMCI (two of each per site), sub-013 (SMC) and
    sub-014 (AD) have no images (a study mapping CN and LMCI only does not analyse them).
    Sessions and runs (:data:`MULTISITE_SCANS`): sub-001..004 have ``ses-01`` only;
    sub-005..008 ``ses-01`` with runs 1 and 2 and ``ses-02``; sub-009..012 ``ses-02``
    with runs 1 and 2. The first scan in (session, run) order is therefore ``ses-01``
    (run 1 where there are runs) for sub-001..008 and ``ses-02_run-1`` for the others.

    Returns
    -------
    dict
        ``fmriprep`` (the derivatives folder), ``participants``, ``atlas`` (atlas20 TSV).
    """
    root = Path(root)
    atlas = write_atlas20(root / "atlas20.tsv")
    dx = ["CN", "LMCI", "CN", "LMCI"] * 3
    ids = [f"sub-{i:03d}" for i in range(1, 13)]
    groups = pd.DataFrame({"participant_id": ids, "group": ["HC" if d == "CN" else "LMCI"
                                                            for d in dx]})
    make_fmriprep(root / "fmriprep", groups, atlas, n_volumes=n_volumes, distractors=False,
                  scans=MULTISITE_SCANS)
    rng = np.random.default_rng(12)
    table = pd.DataFrame({
        "participant_id": ids + ["sub-013", "sub-014"],
        "DX_bl": dx + ["SMC", "AD"],
        "AGE": np.round(rng.uniform(60, 85, 14), 1),
        "PTGENDER": ["Female", "Male", "Male", "Female"] * 3 + ["Female", "Male"],
        "SITE": [f"{s:03d}" for s in (2, 2, 2, 2, 11, 11, 11, 11, 23, 23, 23, 23, 2, 11)],
    })
    return {"fmriprep": root / "fmriprep", "atlas": root / "atlas20.tsv",
            "participants": write_participants(root / "participants.tsv", table)}
