# ROI time series: sphere means of 4D images (demo, fMRIPrep, NIfTI pattern) or a checked
# import of precomputed tables (one TSV/CSV per subject, or one CSV per network).
# A subject whose data fail a check stops the run here with a message naming subject,
# file and reason (the last line of the log, repeated on stderr).


rule extract_timeseries:
    input:
        unpack(subject_inputs),
    output:
        tsv=TIMESERIES,
        json=TIMESERIES_JSON,
    params:
        source=source_args,
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
        "(tda-mci timeseries --subject {wildcards.subject} {params.source} "
        "--output {output.tsv} {params.args} > {log} 2>&1) || (tail -n 1 {log} >&2; exit 1)"
