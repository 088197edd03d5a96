# Wasserstein distances: between the ROIs of each subject (PR) and between subjects per ROI (PS).


rule roi_distances:
    input:
        DIAGRAMS,
    output:
        PR,
    params:
        metric=metric_args(),
        atlas=atlas_arg(),
    threads: 1  # as compute_diagrams: subjects in parallel; the SLURM profile raises it
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("roi_distances", sub="{subject}"),
    benchmark:
        benchmark_file("roi_distances", sub="{subject}")
    shell:
        "tda-mci pr --subject {wildcards.subject} --input {input} --output {output} "
        "{params.metric} {params.atlas} --n-jobs {threads} > {log} 2>&1"


rule subject_distances:
    input:
        all_subjects(DIAGRAMS),
    output:
        PS,
    params:
        subjects=subject_labels,
        rows=ps_block_rows,
        metric=metric_args(),
    threads: 4
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("subject_distances", block="{block}"),
    benchmark:
        benchmark_file("subject_distances", block="{block}")
    shell:
        "tda-mci ps --subjects {params.subjects} --inputs {input} --rows {params.rows} "
        "--output {output} {params.metric} --n-jobs {threads} > {log} 2>&1"
