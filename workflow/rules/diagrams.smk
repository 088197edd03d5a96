# Sliding-window point clouds and Vietoris-Rips persistence diagrams, parallel over ROIs.


rule compute_diagrams:
    input:
        LAYOUT.timeseries(),
    output:
        DIAGRAMS,
    log:
        LAYOUT.log("compute_diagrams", sub="{subject}"),
    benchmark:
        LAYOUT.benchmark("compute_diagrams", sub="{subject}")
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    # One thread: on a workstation, subjects in parallel use the cores best (each job's
    # start-up is serial); the SLURM profile raises it (set-threads) for one job per subject.
    threads: 1
    params:
        settings=settings("compute_diagrams"),
    shell:
        "tda-mci compute-diagrams --settings {params.settings:q} --subject {wildcards.subject:q} "
        "--timeseries {input:q} --output {output:q} --threads {threads} --log {log:q}"
