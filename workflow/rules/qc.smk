# Quality control: per-subject screening (policy exclude), the included/excluded tables
# (a checkpoint: group analyses use the included subjects), carpet plots, the cohort table.
# Policy fail: screen_cohort reads the written time series (all subjects passed, or the run
# stopped at extraction). Policy exclude: screen_subject runs every check of extraction
# (the same library call, so for images it extracts once more) and records a verdict instead
# of failing; extraction and everything after it then run for the included subjects only.


localrules:
    screen_cohort,


rule screen_subject:
    input:
        unpack(subject_inputs),
    output:
        SCREEN,
    params:
        source=source_args,
        args=extraction_args(),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("screen_subject", sub="{subject}"),
    shell:
        "tda-mci screen --subject {wildcards.subject} {params.source} --output {output} "
        "{params.args} > {log} 2>&1"


checkpoint screen_cohort:
    input:
        screen_records,
    output:
        included=QC_INCLUDED,
        excluded=report(QC_EXCLUDED, caption="../report/qc_excluded.rst", category="QC",
                        labels={"table": "excluded subjects"}),
    params:
        cohort=cohort_args(),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("screen_cohort"),
    shell:
        "(tda-mci screen-cohort {params.cohort} --records {input} --included {output.included} "
        "--excluded {output.excluded} > {log} 2>&1) || (tail -n 1 {log} >&2; exit 1)"


rule plot_carpet:
    input:
        TIMESERIES,
    output:
        report(CARPET, caption="../report/qc_carpet.rst", category="Time series",
               subcategory="Carpet plots", labels={"subject": "{subject}"}),
    params:
        atlas=atlas_arg(),
        t_r=config["extraction"]["t_r"],
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("plot_carpet", sub="{subject}"),
    shell:
        "tda-mci carpet --subject {wildcards.subject} --input {input} --output {output} "
        "{params.atlas} --t-r {params.t_r} > {log} 2>&1"


rule cohort_qc:
    input:
        included=QC_INCLUDED,
        excluded=QC_EXCLUDED,
        sidecars=all_subjects(TIMESERIES_JSON),
        carpets=all_subjects(CARPET),
    output:
        table=report(QC_TABLE, caption="../report/qc_cohort.rst", category="QC",
                     labels={"table": "cohort QC"}),
        figure=report(QC_FIGURE, caption="../report/qc_cohort.rst", category="QC",
                      labels={"table": "cohort QC figure"}),
    params:
        participants=participants_args(),
        atlas=atlas_arg(),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("cohort_qc"),
    shell:
        "tda-mci qc-cohort {params.participants} --included {input.included} "
        "--excluded {input.excluded} --sidecars {input.sidecars} {params.atlas} "
        "--output-table {output.table} --output-figure {output.figure} > {log} 2>&1"
