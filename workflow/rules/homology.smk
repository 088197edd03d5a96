# Sliding-window point clouds and Vietoris-Rips persistence diagrams, parallel over ROIs.


rule compute_diagrams:
    input:
        TIMESERIES,
    output:
        DIAGRAMS,
    params:
        dimension=EMB["dimension"],
        delay=EMB["delay"],
        max_dim=config["homology"]["max_dim"],
        backend=config["homology"]["backend"],
    # One thread: on a workstation, subjects in parallel use the cores best (each job's
    # start-up is serial); the SLURM profile raises it (set-threads) for one job per subject.
    threads: 1
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("compute_diagrams", sub="{subject}"),
    benchmark:
        benchmark_file("compute_diagrams", sub="{subject}")
    shell:
        "tda-mci diagrams --subject {wildcards.subject} --input {input} --output {output} "
        "--dimension {params.dimension} --delay {params.delay} --max-dim {params.max_dim} "
        "--backend {params.backend} --n-jobs {threads} > {log} 2>&1"
