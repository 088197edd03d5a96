# Provenance of the results folder: what produced it (versions, configuration) and what each
# rule cost (run-time statistics from the benchmark files).


localrules:
    dataset_description,
    runtime_statistics,


rule dataset_description:
    output:
        LAYOUT.dataset_description(),
    log:
        LAYOUT.log("dataset_description"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        config=config_json,
    shell:
        "tda-mci dataset-description --config {params.config:q} --output {output:q} "
        "> {log:q} 2>&1"


rule runtime_statistics:
    input:
        *RUN_PRODUCTS,
    output:
        report(
            LAYOUT.runtime(),
            caption="../report/runtime.rst",
            category="Runtime",
            labels={"table": "runtime per rule"},
        ),
    log:
        LAYOUT.log("runtime_statistics"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("runtime_statistics"),
        benchmarks=LAYOUT.benchmarks,
    shell:
        "tda-mci runtime-statistics --settings {params.settings:q} "
        "--benchmarks {params.benchmarks:q} --output {output:q} > {log:q} 2>&1"
