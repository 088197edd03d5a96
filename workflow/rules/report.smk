# Provenance of the results folder.


localrules:
    dataset_description,


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
