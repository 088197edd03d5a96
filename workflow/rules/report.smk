# Provenance of the results folder.


localrules:
    dataset_description,
    runtime_statistics,


rule dataset_description:
    output:
        DATASET_DESCRIPTION,
    params:
        config=config_json,
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("dataset_description"),
    shell:
        "tda-mci describe --config-json {params.config:q} --output {output} > {log} 2>&1"


rule runtime_statistics:
    input:
        *RUN_PRODUCTS,
    output:
        report(RUNTIME_TABLE, caption="../report/runtime.rst", category="Runtime",
               labels={"table": "runtime per rule"}),
    params:
        benchmarks=BENCHMARKS,
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("runtime_statistics"),
    shell:
        "tda-mci runtime --benchmarks {params.benchmarks} --output {output} > {log} 2>&1"
