"""Side-by-side benchmark: the paper's approach against tda_mci on one generated input.

Run ``python -m tda_mci.bench --T 140 --N 200 --threads 2``.  In one process it generates
BOLD-like series (160 Dosenbach ROIs: a slow fluctuation shared within each network plus
ROI-specific AR(1) noise; ``--raw-scale`` adds the ~1e4 offset of unnormalised BOLD),
runs the reference approach (``ripser(maxdim=2)`` per ROI and ``persim.wasserstein`` per
diagram pair, serial Python loops, as the released code) and ours on the same data,
checks that the numbers agree (an assertion; the largest relative difference is
printed), and prints seconds, ratios and peak memory per stage.

Stages (``--stages``, comma-separated):

``diagrams``  H0-H2 diagrams of one subject's 160 ROIs.  The reference runs on
              ``--ref-rois`` ROIs and is extrapolated to 160 (labelled "extrap.").
``h0``        One H0 distance: persim vs our single call, and per pair inside our matrix
              engine.
``pr``        PR matrices of one subject (6 networks x 3 dimensions), reference complete.
``ps``        PS matrices of one ROI over ``--N`` subjects (3 dimensions); the reference
              runs on ``--ref-pairs`` random pairs and is extrapolated.
``psmem``     Our PS matrices of one ROI at ``--psmem-N`` (533) subjects in a subprocess:
              time and peak resident memory.
``long``      Our diagrams of one subject's 160 ROIs at ``--long-T`` (1200) in a
              subprocess: time and peak resident memory (ripser is not run: it needs
              ~18 GiB for one such ROI).  Not in the default set (minutes on 2 cores).

The module is one self-contained program (about 550 lines): a data generator, one
independent function per stage that times the reference and ours and checks their
parity, and the table and command line around them; the stages share nothing but the
generated data, so they are kept side by side for reading as one benchmark.

Timings exclude numba compilation: the kernels are warmed up first (compiled once, then
loaded from numba's on-disk cache) and the warm-up time is printed.  Peak memory is the
process's peak resident set size (Linux ``VmHWM``, reset before each measured stage, so
it includes the interpreter and libraries, ~0.2 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

DEFAULT_STAGES = "diagrams,h0,pr,ps,psmem"
ALL_STAGES = ("diagrams", "h0", "pr", "ps", "psmem", "long")


# --------------------------------------------------------------------------- data


def simulate_subject(
    subject: int, n_volumes: int, seed: int = 0, raw_scale: bool = False
) -> np.ndarray:
    """BOLD-like series of one subject: ``(n_volumes, 160)``, ROIs in Dosenbach order.

    Each network shares a slow fluctuation (AR(1), phi 0.9), each ROI adds its own AR(1)
    noise (phi 0.5).  ``raw_scale`` adds 1e4 and scales by 100 (unnormalised BOLD).
    Deterministic in ``(seed, subject)``.
    """
    from tda_mci.atlas import load_atlas

    atlas = load_atlas()
    codes, net_index = np.unique(atlas["network"].to_numpy(), return_inverse=True)
    rng = np.random.default_rng([seed, subject])
    n_rois = len(atlas)

    def ar1(phi: float, shape: tuple[int, ...]) -> np.ndarray:
        e = rng.standard_normal(shape)
        x = np.empty(shape)
        x[0] = e[0] / np.sqrt(1 - phi**2)
        for t in range(1, shape[0]):
            x[t] = phi * x[t - 1] + e[t]
        return x * np.sqrt(1 - phi**2)

    shared = ar1(0.9, (n_volumes, len(codes)))
    own = ar1(0.5, (n_volumes, n_rois))
    x = 0.7 * shared[:, net_index] + 0.7 * own
    return 1e4 + 100.0 * x if raw_scale else x


# --------------------------------------------------------------------------- measuring


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS counter of this process (Linux; no-op elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_mb() -> float:
    """Peak resident set size of this process in MB (VmHWM on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _max_rel(ours, ref) -> float:
    ours = np.asarray(ours, dtype=float)
    ref = np.asarray(ref, dtype=float)
    den = np.maximum(np.abs(ref), 1e-300)
    diff = np.abs(ours - ref) / den
    diff[(ours == ref)] = 0.0
    return float(diff.max(initial=0.0))


@dataclass
class Row:
    """One line of the result table."""

    stage: str
    reference_s: float | None
    ours_s: float
    peak_mb: float | None = None
    parity: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Reference seconds over ours (None without a reference)."""
        if self.reference_s is None or self.ours_s <= 0:
            return None
        return self.reference_s / self.ours_s


def _persim(a, b) -> float:
    import persim

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return persim.wasserstein(a, b)


def _ripser_diagrams(cloud: np.ndarray) -> list[np.ndarray]:
    """Run the paper's call as is: ``ripser(cloud, maxdim=2)['dgms']``."""
    from ripser import ripser

    return ripser(cloud, maxdim=2)["dgms"]


def _finite_sorted(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype=float).reshape(-1, 2)
    d = d[np.isfinite(d[:, 1]) & (d[:, 1] > d[:, 0])]
    return d[np.lexsort((d[:, 0], d[:, 1]))]


# --------------------------------------------------------------------------- stages


def warm_up() -> float:
    """Compile (or load from cache) every numba kernel and import the backends; seconds."""
    from tda_mci.topology.distances import distance_matrix, wasserstein_distance
    from tda_mci.topology.homology import persistence_diagrams

    t0 = time.perf_counter()
    h0 = [np.c_[np.zeros(3), [1.0, 2.0, 3.0]], np.c_[np.zeros(2), [1.5, 2.5]]]
    h1 = [np.array([[0.1, 0.5], [0.2, 0.9]]), np.array([[0.15, 0.6]])]
    for order in (1.0, np.inf):
        distance_matrix(h0, order=order)
        distance_matrix(h1, order=order, n_jobs=2)
        wasserstein_distance(h1[0], h1[1], order=order)
    persistence_diagrams(np.random.default_rng(0).standard_normal((20, 3)))
    _ripser_diagrams(np.random.default_rng(0).standard_normal((20, 3)))
    _persim(h1[0], h1[1])  # imports scikit-learn
    return time.perf_counter() - t0


def stage_diagrams(series: np.ndarray, args) -> tuple[Row, list]:
    """Time ripser on a subset of ROIs and ours on all; check parity on the subset."""
    from tda_mci.topology.homology import subject_diagrams
    from tda_mci.topology.windows import sliding_window

    n_rois = series.shape[1]
    subset = np.linspace(0, n_rois - 1, min(args.ref_rois, n_rois)).astype(int)
    t0 = time.perf_counter()
    ref = [_ripser_diagrams(sliding_window(series[:, r])) for r in subset]
    ref_per_roi = (time.perf_counter() - t0) / len(subset)
    _reset_peak()
    t0 = time.perf_counter()
    ours = subject_diagrams(series, max_dim=2, n_jobs=args.threads)
    ours_s = time.perf_counter() - t0
    peak = _peak_mb()
    worst = 0.0
    for k, r in enumerate(subset):
        for q in range(3):
            a, b = ours[r][q], _finite_sorted(ref[k][q])
            assert a.shape == b.shape, f"ROI {r} H{q}: {a.shape} vs ripser {b.shape}"
            worst = max(worst, _max_rel(a, b))
    assert worst < 1e-6, f"diagrams differ from ripser by {worst:.2e} (relative)"
    row = Row(
        "diagrams, 1 subject x 160 ROIs",
        ref_per_roi * n_rois,
        ours_s,
        peak,
        worst,
        f"ref extrap. from {len(subset)} ROIs ({ref_per_roi:.3f} s/ROI); "
        f"ours all 160 ({ours_s / n_rois * 1e3:.1f} ms/ROI wall)",
        {"ref_per_roi_s": ref_per_roi, "ours_per_roi_s": ours_s / n_rois},
    )
    return row, ours


def stage_h0(dgms: list, args) -> list[Row]:
    """Time one H0 distance: persim, our single call, our matrix engine per pair."""
    from tda_mci.topology.distances import distance_matrix, wasserstein_distance

    h0 = [d[0] for d in dgms]
    rng = np.random.default_rng(args.seed + 1)
    n = len(h0)
    pairs = [tuple(rng.choice(n, 2, replace=False)) for _ in range(args.h0_pairs)]
    t0 = time.perf_counter()
    ref = [_persim(h0[i], h0[j]) for i, j in pairs]
    ref_s = (time.perf_counter() - t0) / len(pairs)
    t0 = time.perf_counter()
    single = [wasserstein_distance(h0[i], h0[j]) for i, j in pairs]
    single_s = (time.perf_counter() - t0) / len(pairs)
    worst = _max_rel(single, ref)
    t0 = time.perf_counter()
    mat = distance_matrix(h0, n_jobs=1)
    engine_s = (time.perf_counter() - t0) / (n * (n - 1) / 2)
    worst = max(worst, _max_rel([mat[i, j] for i, j in pairs], ref))
    assert worst < 1e-8, f"H0 distances differ from persim by {worst:.2e}"
    note = f"per pair, {len(pairs)} random ROI pairs, 1 thread"
    return [
        Row("H0 distance, single call", ref_s, single_s, None, worst, note),
        Row(
            "H0 distance, matrix engine",
            ref_s,
            engine_s,
            None,
            worst,
            f"per pair within a {n}x{n} matrix, 1 thread",
        ),
    ]


def stage_pr(dgms: list, args) -> Row:
    """Time one subject's PR matrices: persim loops (complete) against ours."""
    from tda_mci.atlas import load_atlas, networks
    from tda_mci.topology.distances import roi_distance_matrices

    nets = networks(load_atlas())
    t0 = time.perf_counter()
    ref = {}
    for key, idx in nets.items():
        m = np.zeros((3, len(idx), len(idx)))
        for q in range(3):
            for a in range(len(idx)):
                for b in range(a + 1, len(idx)):
                    m[q, a, b] = m[q, b, a] = _persim(dgms[idx[a]][q], dgms[idx[b]][q])
        ref[key] = m
    ref_s = time.perf_counter() - t0
    _reset_peak()
    t0 = time.perf_counter()
    ours = roi_distance_matrices(dgms, nets, n_jobs=args.threads)
    ours_s = time.perf_counter() - t0
    peak = _peak_mb()
    worst = max(_max_rel(ours[k], ref[k]) for k in nets)
    assert worst < 1e-6, f"PR matrices differ from persim by {worst:.2e}"
    n_pairs = sum(len(i) * (len(i) - 1) // 2 for i in nets.values())
    return Row(
        "PR, 1 subject (6 networks x 3 dims)",
        ref_s,
        ours_s,
        peak,
        worst,
        f"{n_pairs} ROI pairs x 3 dims, reference complete",
    )


def roi_diagrams_over_subjects(n_subjects: int, args, n_volumes: int | None = None) -> list:
    """Diagrams of ROI ``args.roi`` for subjects 0..n_subjects-1 (ours, threads)."""
    from joblib import Parallel, delayed

    from tda_mci.topology.homology import persistence_diagrams
    from tda_mci.topology.windows import sliding_window

    n_volumes = n_volumes or args.T

    def one(s: int):
        x = simulate_subject(s, n_volumes, args.seed, args.raw_scale)[:, args.roi]
        return persistence_diagrams(sliding_window(x), max_dim=2)

    return Parallel(n_jobs=args.threads, backend="threading")(
        delayed(one)(s) for s in range(n_subjects)
    )


def stage_ps(args) -> Row:
    """Time one ROI's PS matrices: persim on sampled pairs (extrapolated) against ours."""
    from tda_mci.topology.distances import subject_distance_matrices

    by_subject = roi_diagrams_over_subjects(args.N, args)
    n = len(by_subject)
    n_pairs = n * (n - 1) // 2
    rng = np.random.default_rng(args.seed + 2)
    n_ref = min(args.ref_pairs, n_pairs)
    flat = rng.choice(n_pairs, n_ref, replace=False)
    iu, ju = np.triu_indices(n, 1)
    pairs = list(zip(iu[flat], ju[flat], strict=True))
    t0 = time.perf_counter()
    ref = [[_persim(by_subject[i][q], by_subject[j][q]) for i, j in pairs] for q in range(3)]
    ref_s = (time.perf_counter() - t0) / n_ref * n_pairs
    _reset_peak()
    t0 = time.perf_counter()
    ours = subject_distance_matrices(by_subject, n_jobs=args.threads)
    ours_s = time.perf_counter() - t0
    peak = _peak_mb()
    worst = max(_max_rel([ours[q][i, j] for i, j in pairs], ref[q]) for q in range(3))
    assert worst < 1e-6, f"PS matrices differ from persim by {worst:.2e}"
    return Row(
        f"PS, 1 ROI x {n} subjects x 3 dims",
        ref_s,
        ours_s,
        peak,
        worst,
        f"ref extrap. from {n_ref} of {n_pairs} pairs",
        {"ours_per_pair_s": ours_s / n_pairs / 3, "ref_per_pair_s": ref_s / n_pairs / 3},
    )


def _child(kind: str, args) -> dict:
    """Run ``psmem`` or ``long`` in this (fresh) process; return measurements."""
    warm = warm_up()
    if kind == "psmem":
        from tda_mci.topology.distances import subject_distance_matrices

        t0 = time.perf_counter()
        by_subject = roi_diagrams_over_subjects(args.psmem_n, args)
        dgm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = subject_distance_matrices(by_subject, n_jobs=args.threads)
        seconds = time.perf_counter() - t0
        assert m.shape == (3, args.psmem_n, args.psmem_n)
        assert np.allclose(m, m.transpose(0, 2, 1)) and np.isfinite(m).all()
        return {"seconds": seconds, "diagram_seconds": dgm_s, "peak_mb": _peak_mb(), "warm": warm}
    from tda_mci.topology.homology import subject_diagrams

    series = simulate_subject(0, args.long_T, args.seed, args.raw_scale)
    t0 = time.perf_counter()
    dgms = subject_diagrams(series, max_dim=2, n_jobs=args.threads)
    seconds = time.perf_counter() - t0
    sizes = [int(np.mean([len(d[q]) for d in dgms])) for q in range(3)]
    return {"seconds": seconds, "peak_mb": _peak_mb(), "mean_bars": sizes, "warm": warm}


def _run_child(kind: str, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "tda_mci.bench",
        "--child",
        kind,
        "--T",
        str(args.T),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
        "--roi",
        str(args.roi),
        "--psmem-N",
        str(args.psmem_n),
        "--long-T",
        str(args.long_T),
    ] + (["--raw-scale"] if args.raw_scale else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess {kind!r} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def format_table(rows: list[Row]) -> str:
    """Render the result rows as a fixed-width text table."""
    head = ("stage", "reference s", "ours s", "ratio", "peak RSS MB", "max rel diff", "note")
    lines = [
        (
            r.stage,
            _fmt(r.reference_s, ".4g"),
            _fmt(r.ours_s, ".4g"),
            _fmt(r.ratio, ".1f") + ("x" if r.ratio is not None else ""),
            _fmt(r.peak_mb, ".0f"),
            _fmt(r.parity, ".1e"),
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) for x in lines]
    return "\n".join(out)


def _adni_note(rows: dict[str, Row], threads: int) -> str:
    """Extrapolate to ADNI (533 subjects x 160 ROIs x 3 dims) on a 32-core node."""
    lines = []
    n_sub, n_roi, cores = 533, 160, 32
    if "diagrams" in rows:
        r = rows["diagrams"].extra
        ref = r["ref_per_roi_s"] * n_sub * n_roi / cores
        ours = r["ours_per_roi_s"] * threads * n_sub * n_roi / cores
        lines.append(f"  diagrams: reference {ref / 3600:.2f} h, ours {ours / 60:.1f} min")
    if "ps" in rows:
        r = rows["ps"]
        pairs = n_sub * (n_sub - 1) / 2 * 3 * n_roi
        ours = r.extra["ours_per_pair_s"] * threads * pairs / cores
        ref = r.extra["ref_per_pair_s"] * pairs / cores
        lines.append(f"  PS (all 160 ROIs): reference {ref / 3600:.1f} h, ours {ours / 60:.1f} min")
    if "pr" in rows:
        r = rows["pr"]
        lines.append(
            f"  PR (all subjects): reference {r.reference_s * n_sub / cores / 60:.1f} min, "
            f"ours {r.ours_s * threads * n_sub / cores:.1f} s"
        )
    if not lines:
        return ""
    return (
        "ADNI scale (533 subjects x 160 ROIs x H0-H2) on a 32-core node, assuming the\n"
        f"measured per-core cost scales linearly (ours: time x {threads} threads):\n"
        + "\n".join(lines)
    )


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tda_mci.bench",
        description="Reference (ripser + persim loops) vs tda_mci, same input, same run.",
    )
    p.add_argument("--T", type=int, default=140, help="volumes per series (default 140)")
    p.add_argument("--N", type=int, default=200, help="subjects for the PS stage (200)")
    p.add_argument("--threads", type=int, default=2, help="threads for our code (2)")
    p.add_argument("--stages", default=DEFAULT_STAGES, help=f"comma list of {ALL_STAGES}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--raw-scale", action="store_true", help="series around 1e4 (raw BOLD)")
    p.add_argument("--roi", type=int, default=0, help="ROI (0-based) for the PS stages")
    p.add_argument("--ref-rois", type=int, default=12, help="ROIs run with ripser (12)")
    p.add_argument("--ref-pairs", type=int, default=300, help="pairs run with persim, PS")
    p.add_argument("--h0-pairs", type=int, default=300, help="pairs for the H0 stage")
    p.add_argument("--psmem-N", dest="psmem_n", type=int, default=533)
    p.add_argument("--long-T", dest="long_T", type=int, default=1200)
    p.add_argument("--child", choices=("psmem", "long"), help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the table and returns 0 (parity failures raise)."""
    args = _parser().parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args)))
        return 0
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(ALL_STAGES))
    if unknown:
        raise SystemExit(f"unknown stage(s) {unknown}; choose from {ALL_STAGES}")
    if args.T < 3 or args.N < 2 or args.threads < 1:
        raise SystemExit("need --T >= 3, --N >= 2, --threads >= 1")
    from importlib.metadata import version

    print(
        f"tda_mci benchmark: T={args.T}, N={args.N}, threads={args.threads}, seed={args.seed}, "
        f"raw_scale={args.raw_scale}; cpus={os.cpu_count()}; numpy {np.__version__}, "
        + ", ".join(f"{m} {version(m)}" for m in ("numba", "gudhi", "ripser", "persim"))
    )
    print("reference: ripser(maxdim=2) per ROI and persim.wasserstein per pair, serial loops")
    warm = warm_up()
    print(f"warm-up (numba compile or cache load, imports): {warm:.1f} s, not timed below")
    series = simulate_subject(0, args.T, args.seed, args.raw_scale)
    rows: list[Row] = []
    by_name: dict[str, Row] = {}
    dgms = None
    t_start = time.perf_counter()
    if "diagrams" in stages or "h0" in stages or "pr" in stages:
        if "diagrams" in stages:
            row, dgms = stage_diagrams(series, args)
            rows.append(row)
            by_name["diagrams"] = row
        else:
            from tda_mci.topology.homology import subject_diagrams

            dgms = subject_diagrams(series, n_jobs=args.threads)
    if "h0" in stages:
        rows += stage_h0(dgms, args)
    if "pr" in stages:
        by_name["pr"] = stage_pr(dgms, args)
        rows.append(by_name["pr"])
    if "ps" in stages:
        by_name["ps"] = stage_ps(args)
        rows.append(by_name["ps"])
    if "psmem" in stages:
        res = _run_child("psmem", args)
        rows.append(
            Row(
                f"PS memory, 1 ROI x {args.psmem_n} subjects x 3 dims",
                None,
                res["seconds"],
                res["peak_mb"],
                None,
                "subprocess; peak RSS of the whole process (diagrams included)",
            )
        )
    if "long" in stages:
        res = _run_child("long", args)
        rows.append(
            Row(
                f"long series, 1 subject x 160 ROIs, T={args.long_T}",
                None,
                res["seconds"],
                res["peak_mb"],
                None,
                f"subprocess, ours only; mean bars H0-H2 {res['mean_bars']}",
            )
        )
    print()
    print(format_table(rows))
    print()
    note = _adni_note(by_name, args.threads)
    if note:
        print(note)
    print(f"\ntotal benchmark wall time {time.perf_counter() - t_start:.0f} s; parity asserted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
