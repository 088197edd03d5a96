# Quality control: per-subject screening (policy exclude), the cohort and exclusion tables
# (a checkpoint: group analyses use the included subjects), carpet plots, the cohort table.
# Policy fail: screen_cohort reads the written time series (all subjects passed, or the run
# stopped at extraction). Policy exclude: screen_subject runs every check of extraction
# (the same library call, so for images it extracts once more) and records a verdict instead
# of failing; extraction and everything after it then run for the included subjects only.


localrules:
    screen_cohort,


rule screen_subject:
    input:
        unpack(subject_sources),
    output:
        LAYOUT.screen(),
    log:
        LAYOUT.log("screen_subject", scan="{scan}"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        subject=scan_subject,
        settings=settings("screen_subject"),
        sources=sources_json,
    shell:
        "tda-mci screen-subject --settings {params.settings:q} --subject {params.subject:q} "
        "--sources {params.sources:q} --output {output:q} --log {log:q}"


checkpoint screen_cohort:
    input:
        participants=PARTICIPANTS_FILE,
        records=screen_records,
    output:
        included=LAYOUT.included(),
        excluded=report(
            LAYOUT.excluded(),
            caption="../report/qc_excluded.rst",
            category="QC",
            labels={"table": "excluded subjects"},
        ),
    log:
        LAYOUT.log("screen_cohort"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("screen_cohort"),
    shell:
        "tda-mci screen-cohort --settings {params.settings:q} "
        "--participants {input.participants:q} --records {input.records:q} "
        "--included {output.included:q} --excluded {output.excluded:q} --log {log:q}"


rule plot_carpet:
    input:
        LAYOUT.timeseries(),
    output:
        report(
            LAYOUT.carpet(),
            caption="../report/qc_carpet.rst",
            category="Time series",
            subcategory="Carpet plots",
            labels=scan_labels,
        ),
    log:
        LAYOUT.log("plot_carpet", scan="{scan}"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        subject=scan_subject,
        settings=settings("plot_carpet"),
    shell:
        "tda-mci plot-carpet --settings {params.settings:q} --subject {params.subject:q} "
        "--timeseries {input:q} --output {output:q} --log {log:q}"


rule cohort_qc:
    input:
        participants=PARTICIPANTS_FILE,
        included=LAYOUT.included(),
        excluded=LAYOUT.excluded(),
        sidecars=all_subjects(LAYOUT.timeseries_sidecar()),
        carpets=all_subjects(LAYOUT.carpet()),
    output:
        table=report(
            LAYOUT.cohort_qc(),
            caption="../report/qc_cohort.rst",
            category="QC",
            labels={"table": "cohort QC"},
        ),
        figure=report(
            LAYOUT.cohort_qc_figure(),
            caption="../report/qc_cohort.rst",
            category="QC",
            labels={"table": "cohort QC figure"},
        ),
    log:
        LAYOUT.log("cohort_qc"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("cohort_qc"),
        outputs=named_outputs,
    shell:
        "tda-mci cohort-qc --settings {params.settings:q} --participants {input.participants:q} "
        "--included {input.included:q} --excluded {input.excluded:q} "
        "--sidecars {input.sidecars:q} --outputs {params.outputs:q} --log {log:q}"
