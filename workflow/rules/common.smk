# Python helpers of the workflow: the cohort, every path, each rule's settings and the input
# functions. Rules hold no Python. Every path comes from tda_mci.paths.Layout; every setting a
# rule hands its stage comes from tda_mci.settings (one JSON object per rule, `params.settings`),
# so a job reruns exactly when a setting it reads changes.
import json
import math
import os
import re
import shlex

from snakemake.logging import logger

from tda_mci import cohort, covariates
from tda_mci.atlas import check_atlas_networks, load_atlas, networks
from tda_mci.covariates import cohort_columns
from tda_mci.inputs.sources import resolve_cohort_inputs, scan_entities
from tda_mci.paths import Layout, comparison_key, scan_stem
from tda_mci.settings import STAGES
from tda_mci.stats.permanova import fdr_floor

LAYOUT = Layout.from_config(config)
ATLAS = load_atlas(config["atlas"])
NETWORKS = list(networks(ATLAS))
DIMS = list(range(config["homology"]["max_dim"] + 1))
COMPARISONS = {comparison_key(p): p for p in config["statistics"]["comparisons"]}
MODELS = config["classification"]["models"]
INPUT_KIND = config["inputs"]["kind"]
ON_BAD_SUBJECT = config["qc"]["on_bad_subject"]
PERMUTATIONS = config["classification"]["permutations"]
# GPUs requested by each training job (the SLURM profile turns this into --gpus).
TRAINING_GPUS = 0 if config["classification"]["device"] == "cpu" else 1
# Each rule's settings, as the JSON its `tda-mci` subcommand takes (see tda_mci.settings).
SETTINGS = {rule: cls.from_config(config).to_json() for rule, cls in STAGES.items()}


def settings(rule):
    """Params function: the settings `rule` reads, as JSON (a function, so that Snakemake
    does not treat the braces of the JSON as wildcards)."""
    text = SETTINGS[rule]

    def rule_settings(wildcards):
        return text

    return rule_settings


# ----------------------------------------------------------------------------- cohort
# Checked before any job runs: the participants table, group sizes, the atlas's networks
# and every subject's input files (exactly one match each).
def _participants():
    if INPUT_KIND == "demo":
        return cohort.demo_participants(config["demo"]["n_per_group"], seed=config["demo"]["seed"])
    if not config["inputs"]["participants"]:
        raise ValueError(f"inputs.participants must name a participants.tsv for kind {INPUT_KIND}")
    inputs = config["inputs"]
    return cohort.load_participants(
        inputs["participants"],
        group_column=inputs["group_column"],
        group_map=inputs["group_map"],
        participant_label=inputs["participant_label"],
    )


# Participants whose group is in no comparison are not analysed: said here, and listed
# in the cohort QC table.
PARTICIPANTS, NOT_COMPARED = cohort.compared_participants(_participants(), COMPARISONS.values())
if len(NOT_COMPARED):
    logger.warning(
        f"Warning: {len(NOT_COMPARED)} participant(s) not analysed, their group being in no "
        "comparison (statistics.comparisons): "
        + ", ".join(
            f"{r.participant_id} ({r.group or 'unmapped label ' + repr(r.source_group)})"
            for r in NOT_COMPARED.itertuples()
        )
    )
PARTICIPANTS_FILE = (
    LAYOUT.demo_participants() if INPUT_KIND == "demo" else config["inputs"]["participants"]
)
SUBJECTS = PARTICIPANTS["subject"].tolist()
cohort.check_comparisons(
    PARTICIPANTS,
    COMPARISONS.values(),
    *cohort.required_group_size(
        config["qc"]["min_group_size"],
        config["classification"]["protocol"],
        config["classification"]["n_splits"],
    ),
)
check_atlas_networks(ATLAS, source=f"atlas {config['atlas'] or 'dosenbach160'}")
covariates.check_columns(
    PARTICIPANTS,
    cohort_columns(config["statistics"]["covariates"], config["statistics"]["site_column"]),
    PARTICIPANTS_FILE,
    "statistics.covariates / site_column",
)
# Each subject's input files by role (demo images are generated, so not looked up).
INPUT_FILES = (
    {s: {"bold": LAYOUT.demo_bold(s), "mask": LAYOUT.demo_mask(s)} for s in SUBJECTS}
    if INPUT_KIND == "demo"
    else resolve_cohort_inputs(config["inputs"], PARTICIPANTS, NETWORKS)
)
# Each subject's scan: the one input that enters every analysis; its entities (ses, task,
# run, space) name all of that subject's outputs (`{scan}` is its stem, tda_mci.paths).
SCAN_ENTITIES = {s: scan_entities(s, INPUT_FILES[s]) for s in SUBJECTS}
SCANS = {s: scan_stem(s, **SCAN_ENTITIES[s]) for s in SUBJECTS}
SUBJECT_OF = {scan: s for s, scan in SCANS.items()}
# Group outputs carry the task and space that every scan shares.
LAYOUT = LAYOUT.for_scans(SCAN_ENTITIES.values())
N_PS_BLOCKS = math.ceil(len(ATLAS) / config["distances"]["ps_rois_per_job"])
# Too few PERMANOVA permutations for the FDR correction to mark a single ROI: say so now
# (the brain map says it too).
PS_FDR_WARNING = fdr_floor(
    config["statistics"]["ps_permutations"], len(ATLAS), config["statistics"]["ps_fdr_level"]
)
if PS_FDR_WARNING:
    logger.warning(f"Warning: {PS_FDR_WARNING}")


wildcard_constraints:
    scan="|".join(re.escape(scan) for scan in SCANS.values()),
    comp="|".join(COMPARISONS),
    net="|".join(NETWORKS),
    block=r"\d+",


# ----------------------------------------------------------------------------- outputs
DIAGRAMS = LAYOUT.diagrams(config["embedding"]["dimension"], config["embedding"]["delay"])
STATS = LAYOUT.pr_statistics(networks=NETWORKS)
PS_TESTS = LAYOUT.ps_statistics()
SUMMARY = LAYOUT.classification_summary()
METHODS = LAYOUT.methods()


def metrics_files(comp="{comp}", net="{net}"):
    """The metrics files of one training job: every dimension x PR model, then the models
    of no dimension (corr_logreg). The stage reads dimension and model from the names."""
    pr_models = [m for m in MODELS if m != "corr_logreg"]
    files = [LAYOUT.metrics(d, m, comp, net) for d in DIMS for m in pr_models]
    return files + [LAYOUT.metrics(None, m, comp, net) for m in MODELS if m == "corr_logreg"]


def comparison_records(wildcards):
    """The metrics files of every network of comparison `{comp}`."""
    return expand(metrics_files(), comp=wildcards.comp, net=NETWORKS)


def report_pplots():
    """The per-network P-plots of a comparison, registered for the report."""
    pplots = []
    for path, net in zip(STATS["pplots"], NETWORKS):
        labels = {"comparison": "{comp}", "network": net}
        entry = report(
            path,
            caption="../report/pplot.rst",
            category="Group statistics",
            subcategory="P-plots",
            labels=labels,
        )
        pplots.append(entry)
    return pplots


# ----------------------------------------------------------------------------- inputs
def every_subject(pattern):
    """`pattern` ({scan} or {subject}) filled for every participant (a static list)."""
    return [pattern.format(subject=s, scan=SCANS[s]) for s in SUBJECTS]


def scan_subject(wildcards):
    """The subject label of scan `{scan}`."""
    return SUBJECT_OF[wildcards.scan]


def scan_labels(wildcards):
    """Report labels of a scan's figure: subject and scan."""
    return {
        "subject": f"sub-{scan_subject(wildcards)}",
        "scan": os.path.basename(wildcards.scan),
    }


def subject_sources(wildcards):
    """A scan's input files by role (bold, mask, confounds, timeseries or network_csv)."""
    return INPUT_FILES[scan_subject(wildcards)]


def sources_json(wildcards):
    """`subject_sources` as the JSON that `tda-mci extract-timeseries --sources` takes."""
    return json.dumps(subject_sources(wildcards), sort_keys=True)


def screen_records(wildcards):
    """What `screen_cohort` reads: screening verdicts (exclude) or written series (fail)."""
    if ON_BAD_SUBJECT == "exclude":
        return every_subject(LAYOUT.screen())
    return every_subject(LAYOUT.timeseries_sidecar())


def included_subjects():
    """Labels of the subjects that group analyses use, in participants order.

    Policy fail: every participant (a bad one stops the run). Policy exclude: those of
    the cohort table written by the `screen_cohort` checkpoint (DAG re-evaluated after it).
    """
    if ON_BAD_SUBJECT != "exclude":
        return SUBJECTS
    from tda_mci.io import DamagedFileError, read_cohort

    included = checkpoints.screen_cohort.get().output.included
    try:
        return read_cohort(included)["subject"].tolist()
    except DamagedFileError as err:
        raise ValueError(err.remove()) from None


def all_subjects(pattern):
    """`pattern` filled for every included subject.

    A static list under policy fail; under policy exclude an input function that waits
    for the `screen_cohort` checkpoint (so use it in input:, never in output:).
    """
    if ON_BAD_SUBJECT != "exclude":
        return every_subject(pattern)

    def included_files(wildcards):
        return [pattern.format(scan=SCANS[s]) for s in included_subjects()]

    return included_files


def comparison(wildcards):
    """The two groups of comparison `{comp}` (reference first)."""
    return COMPARISONS[wildcards.comp]


def named_outputs(wildcards, output):
    """The job's named outputs as the JSON that a `tda-mci ... --outputs` takes."""
    return json.dumps({name: getattr(output, name) for name in output.keys()})


def curves_arg(wildcards, output):
    """`--curves` when the training job draws CNN learning curves."""
    return f"--curves {shlex.quote(output.curves)}" if "curves" in output.keys() else ""


def demo_folder(wildcards, output):
    """The demo cohort's folder: where its participants.tsv goes."""
    return os.path.dirname(output.participants)


def config_json(wildcards):
    """The whole configuration as JSON."""
    return json.dumps(config, sort_keys=True)


def say_exclusions():
    """At the end of a run (onsuccess/onerror): one line on the subjects excluded, if any."""
    path = LAYOUT.excluded()
    if not os.path.exists(path):
        return
    from tda_mci.io import read_tsv

    excluded = read_tsv(path, text=True)
    if len(excluded):
        logger.warning(
            f"{len(excluded)} subject(s) excluded from the analysis "
            f"({', '.join(excluded['participant_id'])}): reasons in {path}"
        )


# Everything a run produces (the targets of `rule all`); the runtime statistics are
# collected once all of it exists.
RUN_PRODUCTS = [
    LAYOUT.dataset_description(),
    METHODS["text"],
    all_subjects(LAYOUT.pr()),
    expand(STATS["stats"], comp=COMPARISONS),
    expand(LAYOUT.diagram_figure(), comp=COMPARISONS),
    expand(PS_TESTS["table"], comp=COMPARISONS),
    SUMMARY["summary"],
    LAYOUT.cohort_qc(),
]
