# Provenance of the results folder: what produced it (versions, configuration), the methods
# text built from what the stages recorded, and what each rule cost (run-time statistics).


localrules:
    dataset_description,
    methods_text,
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
        "--log {log:q}"


rule methods_text:
    input:
        cohort=LAYOUT.included(),
        sidecars=all_subjects(LAYOUT.timeseries_sidecar()),
    output:
        text=METHODS["text"],
        html=report(
            METHODS["html"],
            caption="../report/methods.rst",
            category="Methods",
            labels={"text": "methods of this run"},
        ),
    log:
        LAYOUT.log("methods_text"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("methods_text"),
        outputs=named_outputs,
    shell:
        "tda-mci methods-text --settings {params.settings:q} --cohort {input.cohort:q} "
        "--sidecars {input.sidecars:q} --outputs {params.outputs:q} --log {log:q}"


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
        "--benchmarks {params.benchmarks:q} --output {output:q} --log {log:q}"
