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


# ----------------------------------------------------------------------------- cohort
# Everything here is checked before any job runs: the participants table, group sizes,
# the atlas's networks and every subject's input files (exactly one match each).
from tda_mci import inputs as tda_inputs

QC = config["qc"]
ON_BAD_SUBJECT = QC["on_bad_subject"]


def _participants():
    if INPUT_KIND == "demo":
        from tda_mci.cohort import demo_participants

        return demo_participants(config["demo"]["n_per_group"], seed=config["demo"]["seed"])
    if not config["inputs"]["participants"]:
        raise ValueError(f"inputs.participants must name a participants.tsv for kind {INPUT_KIND}")
    return cohort.load_participants(config["inputs"]["participants"])


def _check_cohort():
    """Group sizes for the comparisons (and the classifier's folds), networks of the atlas."""
    cohort.check_comparisons(PARTICIPANTS, COMPARISONS.values(), QC["min_group_size"],
                             setting="qc.min_group_size")
    c = config["classification"]
    if c["protocol"] == "cv":
        cohort.check_comparisons(PARTICIPANTS, COMPARISONS.values(), c["n_splits"],
                                 setting="classification.n_splits: stratified k-fold needs "
                                 "a subject of each group in every fold")
    tda_inputs.check_atlas_networks(ATLAS, source=f"atlas {ATLAS_FILE or 'dosenbach160'}")


PARTICIPANTS = _participants()
SUBJECTS = PARTICIPANTS["subject"].tolist()
GROUPS = PARTICIPANTS["group"].tolist()
GROUP_OF = dict(zip(SUBJECTS, GROUPS))
_check_cohort()
# Each subject's input files (demo images are generated, so not looked up).
INPUT_FILES = (
    {} if INPUT_KIND == "demo"
    else tda_inputs.resolve_cohort_inputs(config["inputs"], PARTICIPANTS, NETWORKS)
)


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


BENCHMARKS = "benchmarks"


def benchmark_file(rule, **entities):
    return job_file(BENCHMARKS, rule, ".tsv", **entities)


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
DIAGRAM_FIGURE = group_file("figures", comp="{comp}", desc="tophub", suffix="dgm",
                            extension=".png")


def report_pplots():
    """The per-network P-plots of a comparison, registered for the report."""
    labels = [{"comparison": "{comp}", "network": net} for net in NETWORKS]
    return [report(path, caption="../report/pplot.rst", category="Group statistics",
                   subcategory="P-plots", labels=label)
            for path, label in zip(STATS["pplots"], labels)]


def classify_outputs(comp="{comp}", net="{net}"):
    """Metrics files of a training job, in the order of `tda-mci classify --outputs`: every
    dimension x PR model, then corr_logreg once (it reads ROI series, not diagrams)."""
    def path(dim, model):
        return group_file("classification", comp=comp, net=net, dim=dim,
                          model=model.replace("_", ""), suffix="metrics", extension=".json")

    paths = [path(d, m) for d in DIMS for m in MODELS if m != "corr_logreg"]
    return paths + ([path(None, "corr_logreg")] if "corr_logreg" in MODELS else [])


LEARNING_CURVES = group_file("figures", comp="{comp}", net="{net}", model="cnn", suffix="curves",
                             extension=".png")
PERMUTATIONS = config["classification"]["permutations"]
PERMUTATION = group_file("classification", comp="{comp}", desc="best", suffix="permutation",
                         extension=".json")
PERMUTATION_FIGURE = group_file("figures", comp="{comp}", desc="best", suffix="permutation",
                                extension=".png")
CLASSIFY_SUMMARY = group_file("classification", suffix="summary", extension=".tsv")
CLASSIFY_BEST = group_file("classification", desc="best", suffix="summary", extension=".tsv")
CLASSIFY_HEATMAP = group_file("figures", suffix="accuracy", extension=".png")
PS_TESTS = ps_test_outputs()
DATASET_DESCRIPTION = f"{OUT}/dataset_description.json"
RUNTIME_TABLE = group_file("runtime", suffix="runtime", extension=".tsv")


# ----------------------------------------------------------------------------- inputs
TIMESERIES_JSON = TIMESERIES.replace(".tsv", ".json")
CARPET = subject_file(suffix="carpet", extension=".png")
QC_DIR = f"{OUT}/qc"
SCREEN = bids(QC_DIR, subject="{subject}", task="rest", atlas=ATLAS_KEY, suffix="screen",
              extension=".json")
QC_INCLUDED = f"{QC_DIR}/included.tsv"
QC_EXCLUDED = f"{QC_DIR}/excluded.tsv"
QC_TABLE = f"{QC_DIR}/cohort_qc.tsv"
QC_FIGURE = f"{QC_DIR}/cohort_qc.png"


def screen_records(wildcards):
    """What `screen_cohort` reads: screening verdicts (exclude) or written series (fail)."""
    return every_subject(SCREEN if ON_BAD_SUBJECT == "exclude" else TIMESERIES_JSON)


def subject_inputs(wildcards):
    """A subject's input files by role (bold, mask, confounds, timeseries or network_csv)."""
    if INPUT_KIND == "demo":
        return {"bold": demo_bold(wildcards.subject), "mask": demo_mask(wildcards.subject)}
    return INPUT_FILES[wildcards.subject]


def source_args(wildcards, input):
    """The `tda-mci timeseries/screen` arguments naming the subject's files."""
    kind = "nifti" if INPUT_KIND == "demo" else INPUT_KIND
    args = [f"--kind {kind}"]
    if kind == "network_csv":
        args.append("--network-files " + " ".join(shlex.quote(f) for f in input.network_csv))
    else:
        source = input.bold if "bold" in input.keys() else input.timeseries
        args.append(f"--source {shlex.quote(source)}")
    for role in ("mask", "confounds"):
        if role in input.keys():
            args.append(f"--{role} {shlex.quote(getattr(input, role))}")
    if kind == "fmriprep":
        args.append(f"--denoise-strategy {config['inputs']['fmriprep']['denoise_strategy']}")
    return " ".join(args)


# Outputs every participant has, whatever the exclusion policy (the demo generates them).


def every_subject(pattern):
    """`pattern` filled for every participant (static list, e.g. for outputs)."""
    return [pattern.format(subject=s) for s in SUBJECTS]


def included_subjects():
    """Labels of the subjects that group analyses use, in participants order.

    Policy fail: every participant (a bad one stops the run). Policy exclude: those in
    the included table of the `screen_cohort` checkpoint (DAG re-evaluated after it).
    """
    if ON_BAD_SUBJECT != "exclude":
        return SUBJECTS
    import pandas as pd

    table = pd.read_csv(checkpoints.screen_cohort.get().output.included, sep="\t", dtype=str)
    return table["subject"].tolist()


def all_subjects(pattern):
    """`pattern` filled for every included subject.

    A static list under policy fail; under policy exclude an input function that waits
    for the `screen_cohort` checkpoint (so use it in input:, never in output:).
    """
    if ON_BAD_SUBJECT != "exclude":
        return every_subject(pattern)

    def included_files(wildcards):
        return [pattern.format(subject=s) for s in included_subjects()]

    return included_files


def subject_labels(wildcards):
    """The included subjects as one argument string (e.g. for `tda-mci ps --subjects`)."""
    return " ".join(included_subjects())


def all_ps_blocks():
    """Every PS block; under policy exclude, an input function that waits for the
    `screen_cohort` checkpoint (the blocks cover the included subjects, and rules reading
    them take their subjects from `group_args`)."""
    blocks = expand(PS, block=range(len(PS_BLOCKS)))
    if ON_BAD_SUBJECT != "exclude":
        return blocks

    def ps_blocks(wildcards):
        included_subjects()
        return blocks

    return ps_blocks


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
        f"--embedding-dimension {EMB['dimension']} --embedding-delay {EMB['delay']}",
    ]
    return " ".join(a for a in args if a)


def cohort_args():
    """Participants, comparisons and minimum group size for `tda-mci screen-cohort`.

    The minimum after exclusions is qc.min_group_size, or classification.n_splits when
    larger (stratified k-fold needs a subject of each group in every fold).
    """
    pairs = " ".join(f"{a}:{b}" for a, b in COMPARISONS.values())
    c = config["classification"]
    n_min, setting = QC["min_group_size"], "qc.min_group_size"
    if c["protocol"] == "cv" and c["n_splits"] > n_min:
        n_min, setting = c["n_splits"], "classification.n_splits"
    return (f"--subjects {' '.join(SUBJECTS)} --groups {' '.join(GROUPS)} "
            f"--comparisons {pairs} --min-group-size {n_min} --min-group-size-setting {setting}")


def participants_args():
    """Every participant and group, for `tda-mci qc-cohort`."""
    return f"--subjects {' '.join(SUBJECTS)} --groups {' '.join(GROUPS)}"


def metric_args():
    d = config["distances"]
    return f"--order {d['order']} --ground-metric {d['ground_metric']}"


def atlas_arg():
    return f"--atlas {shlex.quote(ATLAS_FILE)}" if ATLAS_FILE else ""


def group_args(wildcards):
    """Included subjects, their groups and the comparison of `{comp}`."""
    a, b = COMPARISONS[wildcards.comp]
    subjects = included_subjects()
    groups = " ".join(GROUP_OF[s] for s in subjects)
    return f"--subjects {' '.join(subjects)} --groups {groups} --comparison {a} {b}"


def classification_args():
    c = config["classification"]
    return (
        f"--models {' '.join(MODELS)} --protocol {c['protocol']} --n-splits {c['n_splits']} "
        f"--n-repeats {c['n_repeats']} --epochs {c['epochs']} --batch-size {c['batch_size']} "
        f"--learning-rate {c['learning_rate']} --seed {c['seed']} --device {c['device']} "
        f"--inner-val-fraction {c['inner_val_fraction']} "
        f"--early-stopping-patience {c['early_stopping_patience']}"
    )


def curves_arg(wildcards, output):
    """--out-curves when the training rule draws CNN learning curves."""
    return f"--out-curves {output.curves}" if "curves" in output.keys() else ""


def demo_args():
    d = config["demo"]
    groups = " ".join(f"{g}={n}" for g, n in d["n_per_group"].items())
    return f"--seed {d['seed']} --n-per-group {groups} --n-volumes {d['n_volumes']} --tr {d['tr']}"


def config_json(wildcards):
    """The whole configuration as JSON (an input function, so that Snakemake does not
    expand the `{subject}` of path patterns inside it)."""
    return json.dumps(config, sort_keys=True)


# GPUs requested by each training job (the SLURM profile turns this into --gpus).
TRAINING_GPUS = 0 if config["classification"]["device"] == "cpu" else 1


# Everything a run produces (the targets of `rule all`); the runtime statistics are
# collected once all of it exists.
RUN_PRODUCTS = [
    DATASET_DESCRIPTION,
    all_subjects(PR),
    expand(STATS["stats"], comp=COMPARISONS),
    expand(DIAGRAM_FIGURE, comp=COMPARISONS),
    expand(PS_TESTS["table"], comp=COMPARISONS),
    CLASSIFY_SUMMARY,
    QC_TABLE,
]
