# tda_mci: persistent homology of resting-state fMRI in mild cognitive impairment.
# Table of contents: configuration and its validation, the stages, and the final targets.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"


validate(PARTICIPANTS, "workflow/schemas/participants.schema.yaml")


include: "workflow/rules/demo.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/homology.smk"
include: "workflow/rules/distances.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/cnn.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        *RUN_PRODUCTS,
        RUNTIME_TABLE,
    default_target: True
