# Sliding-window point clouds and Vietoris-Rips persistence diagrams, parallel over ROIs.


rule compute_diagrams:
    input:
        LAYOUT.timeseries(),
    output:
        DIAGRAMS,
    log:
        LAYOUT.log("compute_diagrams", scan="{scan}"),
    benchmark:
        LAYOUT.benchmark("compute_diagrams", scan="{scan}")
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    # One thread: on a workstation, subjects in parallel use the cores best (each job's
    # start-up is serial); the SLURM profile raises it (set-threads) for one job per subject.
    threads: 1
    params:
        subject=scan_subject,
        settings=settings("compute_diagrams"),
    shell:
        "tda-mci compute-diagrams --settings {params.settings:q} --subject {params.subject:q} "
        "--timeseries {input:q} --output {output:q} --threads {threads} --log {log:q}"
