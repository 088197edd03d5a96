# Python helpers of the workflow: paths, the cohort, input functions. Rules hold no Python.
import json
import shlex
from pathlib import Path

from tda_mci import cohort
from tda_mci.atlas import load_atlas, networks
from tda_mci.demo import demo_image_path
from tda_mci.paths import bids, job_file


OUT = config["out_dir"]
INPUT_KIND = config["inputs"]["kind"]
ATLAS_FILE = config["atlas"] or ""
ATLAS_KEY = "dosenbach160" if not config["atlas"] else "custom"
ATLAS = load_atlas(config["atlas"])
NETWORKS = list(networks(ATLAS))
DIMS = list(range(config["homology"]["max_dim"] + 1))
COMPARISONS = {cohort.comparison_key(p): p for p in config["statistics"]["comparisons"]}
MODELS = config["classification"]["models"]
DEMO_DIR = f"{OUT}/demo"


def _participants():
    if INPUT_KIND == "demo":
        from tda_mci.cohort import demo_participants

        return demo_participants(config["demo"]["n_per_group"], seed=config["demo"]["seed"])
    return cohort.load_participants(config["inputs"]["participants"])


PARTICIPANTS = _participants()
SUBJECTS = PARTICIPANTS["subject"].tolist()
GROUPS = PARTICIPANTS["group"].tolist()
cohort.check_comparisons(PARTICIPANTS, COMPARISONS.values())


wildcard_constraints:
    subject="|".join(SUBJECTS),
    comp="|".join(COMPARISONS),
    net="|".join(NETWORKS),
    block=r"\d+",


# ----------------------------------------------------------------------------- paths
# Every path of the workflow comes from tda_mci.paths.bids, here.
def subject_file(subject="{subject}", **entities):
    return bids(OUT, subject=subject, datatype="func", task="rest", atlas=ATLAS_KEY, **entities)


def group_file(datatype, **entities):
    return bids(OUT, datatype=datatype, task="rest", atlas=ATLAS_KEY, **entities)


def demo_bold(subject="{subject}"):
    return demo_image_path(DEMO_DIR, subject, "bold")


def demo_mask(subject="{subject}"):
    return demo_image_path(DEMO_DIR, subject, "mask")


def log_file(rule, **entities):
    return job_file("logs", rule, ".log", **entities)


def benchmark_file(rule, **entities):
    return job_file("benchmarks", rule, ".tsv", **entities)


EMB = config["embedding"]
TIMESERIES = subject_file(suffix="timeseries", extension=".tsv")
DIAGRAMS = subject_file(win=EMB["dimension"], delay=EMB["delay"], suffix="dgm", extension=".npz")
PR = subject_file(desc="PR", suffix="dist", extension=".npz")
DEMO_PARTICIPANTS = f"{DEMO_DIR}/participants.tsv"
DEMO_TRUTH = f"{DEMO_DIR}/ground_truth.json"
PS_BLOCKS = [
    list(range(i, min(i + config["distances"]["ps_rois_per_job"], len(ATLAS))))
    for i in range(0, len(ATLAS), config["distances"]["ps_rois_per_job"])
]
PS = group_file("ps", block="{block}", desc="PS", suffix="dist", extension=".npz")


def stats_outputs(comp="{comp}"):
    return {
        "stats": group_file("stats", comp=comp, suffix="stat", extension=".npz"),
        "pairs": group_file("stats", comp=comp, desc="significant", suffix="pairs", extension=".tsv"),
        "hubs": group_file("stats", comp=comp, suffix="hubs", extension=".tsv"),
        "hub_figure": group_file("figures", comp=comp, suffix="hubs", extension=".png"),
        "overview": group_file("figures", comp=comp, suffix="pplot", extension=".png"),
        "pplots": [group_file("figures", comp=comp, net=n, suffix="pplot", extension=".png")
                   for n in NETWORKS],
        "connectome": group_file("figures", comp=comp, suffix="connectome", extension=".png"),
        "connectome_html": group_file("figures", comp=comp, suffix="connectome",
                                      extension=".html"),
    }


def ps_test_outputs(comp="{comp}"):
    return {
        "table": group_file("stats", comp=comp, desc="PS", suffix="permanova", extension=".tsv"),
        "brain_map": group_file("figures", comp=comp, desc="PS", suffix="permanova",
                                extension=".png"),
        "matrix": group_file("figures", comp=comp, desc="PStop", suffix="dist", extension=".png"),
    }


STATS = stats_outputs()


def report_pplots():
    """The per-network P-plots of a comparison, registered for the report."""
    labels = [{"comparison": "{comp}", "network": net} for net in NETWORKS]
    return [report(path, caption="../report/pplot.rst", category="Statistics",
                   subcategory="P-plots", labels=label)
            for path, label in zip(STATS["pplots"], labels)]


def classify_outputs(comp="{comp}", net="{net}"):
    return [
        group_file("classification", comp=comp, net=net, dim=d, model=m.replace("_", ""), suffix="metrics",
                   extension=".json")
        for d in DIMS for m in MODELS
    ]


CLASSIFY_SUMMARY = group_file("classification", suffix="summary", extension=".tsv")
CLASSIFY_BEST = group_file("classification", desc="best", suffix="summary", extension=".tsv")
CLASSIFY_HEATMAP = group_file("figures", suffix="accuracy", extension=".png")
PS_TESTS = ps_test_outputs()
DATASET_DESCRIPTION = f"{OUT}/dataset_description.json"


# ----------------------------------------------------------------------------- inputs
def timeseries_source(wildcards):
    if INPUT_KIND == "demo":
        return demo_bold(wildcards.subject)
    pattern = config["inputs"]["bold" if INPUT_KIND == "nifti" else "timeseries"]
    return pattern.format(subject=wildcards.subject)


def timeseries_mask(wildcards):
    """The brain mask passed to the masker (demo only, so far)."""
    return [demo_mask(wildcards.subject)] if INPUT_KIND == "demo" else []


def mask_arg(wildcards, input):
    return f"--mask {input.mask}" if input.mask else ""


def all_subjects(pattern):
    return [pattern.format(subject=s) for s in SUBJECTS]


def all_ps_blocks():
    return expand(PS, block=range(len(PS_BLOCKS)))


def ps_block_rows(wildcards):
    return " ".join(str(r) for r in PS_BLOCKS[int(wildcards.block)])


# ----------------------------------------------------------------------------- params
def extraction_args():
    e = config["extraction"]
    args = [
        f"--atlas {shlex.quote(ATLAS_FILE)}" if ATLAS_FILE else "",
        f"--radius {e['radius']}",
        f"--standardize {e['standardize']}",
        "--detrend" if e["detrend"] else "--no-detrend",
        f"--low-pass {e['low_pass']}" if e["low_pass"] else "",
        f"--high-pass {e['high_pass']}" if e["high_pass"] else "",
        f"--t-r {e['t_r']}",
        f"--min-volumes {e['min_volumes']}",
    ]
    return " ".join(a for a in args if a)


def metric_args():
    d = config["distances"]
    return f"--order {d['order']} --ground-metric {d['ground_metric']}"


def atlas_arg():
    return f"--atlas {shlex.quote(ATLAS_FILE)}" if ATLAS_FILE else ""


def group_args(wildcards):
    a, b = COMPARISONS[wildcards.comp]
    return f"--subjects {' '.join(SUBJECTS)} --groups {' '.join(GROUPS)} --comparison {a} {b}"


def classification_args():
    c = config["classification"]
    return (
        f"--models {' '.join(MODELS)} --protocol {c['protocol']} --n-splits {c['n_splits']} "
        f"--n-repeats {c['n_repeats']} --epochs {c['epochs']} --batch-size {c['batch_size']} "
        f"--learning-rate {c['learning_rate']} --seed {c['seed']} --device {c['device']}"
    )


def demo_args():
    d = config["demo"]
    groups = " ".join(f"{g}={n}" for g, n in d["n_per_group"].items())
    return f"--seed {d['seed']} --n-per-group {groups} --n-volumes {d['n_volumes']} --tr {d['tr']}"


def config_json():
    return json.dumps(config, sort_keys=True)


# GPUs requested by each training job (the SLURM profile turns this into --gpus).
TRAINING_GPUS = 0 if config["classification"]["device"] == "cpu" else 1
