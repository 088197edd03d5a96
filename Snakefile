# tda_mci: persistent homology of resting-state fMRI in mild cognitive impairment.
# Table of contents: configuration and its validation, the stages in data-flow order, and
# the final targets. Settings and their defaults: tda_mci/schemas/config.schema.yaml.
import os

from snakemake.utils import min_version, validate

from tda_mci.settings import CONFIG_SCHEMA

min_version("9.0")

# For the conda environments' post-deploy scripts, which Snakemake runs from a copy elsewhere:
# the folder of this workflow, whose package they install.
os.environ.update(TDA_MCI_WORKFLOW_DIR=str(workflow.current_basedir))


# No `configfile:` here: a run reads only the configuration it is given (--configfile), and
# the schema's defaults (the paper's protocol) fill in the rest, whatever the working
# directory. `make demo` gives demo.yaml.
report: "workflow/report/workflow.rst"


validate(config, str(CONFIG_SCHEMA))


# The image of every job under `--sdm apptainer` (containers/tda_mci.def); the default null
# sets none (Snakemake accepts None here) and runs without `--sdm apptainer` ignore it.
container: config["container"]


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/timeseries.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/diagrams.smk"
include: "workflow/rules/distances.smk"
include: "workflow/rules/pr_statistics.smk"
include: "workflow/rules/ps_statistics.smk"
include: "workflow/rules/classification.smk"
include: "workflow/rules/provenance.smk"


rule all:
    default_target: True
    input:
        *RUN_PRODUCTS,
        LAYOUT.runtime(),


onsuccess:
    say_exclusions()


onerror:
    say_exclusions()
