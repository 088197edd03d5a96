# ROI time series: nilearn sphere extraction from 4D images, or validated import of TSV files.


rule extract_timeseries:
    input:
        source=timeseries_source,
    output:
        tsv=TIMESERIES,
        json=TIMESERIES.replace(".tsv", ".json"),
    params:
        kind="timeseries" if INPUT_KIND == "timeseries" else "nifti",
        args=extraction_args(),
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("extract_timeseries", sub="{subject}"),
    benchmark:
        benchmark_file("extract_timeseries", sub="{subject}")
    shell:
        "tda-mci timeseries --subject {wildcards.subject} --kind {params.kind} "
        "--source {input.source} --output {output.tsv} {params.args} > {log} 2>&1"
