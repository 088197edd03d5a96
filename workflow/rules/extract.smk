# ROI time series: nilearn sphere extraction from 4D images, or validated import of TSV files.


rule extract_timeseries:
    input:
        source=timeseries_source,
        mask=timeseries_mask,
    output:
        tsv=TIMESERIES,
        json=TIMESERIES.replace(".tsv", ".json"),
    params:
        kind="timeseries" if INPUT_KIND == "timeseries" else "nifti",
        args=extraction_args(),
        mask=mask_arg,
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
        "--source {input.source} {params.mask} --output {output.tsv} {params.args} > {log} 2>&1"
