# Wasserstein distances: between the ROIs of each subject (PR) and between subjects per ROI (PS).


rule roi_distances:
    input:
        DIAGRAMS,
    output:
        LAYOUT.pr(),
    log:
        LAYOUT.log("roi_distances", scan="{scan}"),
    benchmark:
        LAYOUT.benchmark("roi_distances", scan="{scan}")
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    threads: 1  # as compute_diagrams: subjects in parallel; the SLURM profile raises it
    params:
        subject=scan_subject,
        settings=settings("roi_distances"),
    shell:
        "tda-mci roi-distances --settings {params.settings:q} --subject {params.subject:q} "
        "--diagrams {input:q} --output {output:q} --threads {threads} --log {log:q}"


rule subject_distances:
    input:
        cohort=LAYOUT.included(),
        diagrams=all_subjects(DIAGRAMS),
    output:
        LAYOUT.ps(),
    log:
        LAYOUT.log("subject_distances", block="{block}"),
    benchmark:
        LAYOUT.benchmark("subject_distances", block="{block}")
    conda:
        "../../envs/tda_mci.yaml"
    threads: 4
    params:
        settings=settings("subject_distances"),
    shell:
        "tda-mci subject-distances --settings {params.settings:q} --cohort {input.cohort:q} "
        "--diagrams {input.diagrams:q} --block {wildcards.block} --output {output:q} "
        "--threads {threads} --log {log:q}"
