# ROI time series: sphere means of 4D images (demo, fMRIPrep, NIfTI pattern) or a checked
# import of precomputed tables (one TSV/CSV per subject, or one CSV per network).
# A subject whose data fail a check stops the run here with a message naming subject,
# file and reason (the last line of the log, repeated on stderr).


rule extract_timeseries:
    input:
        unpack(subject_sources),
    output:
        tsv=LAYOUT.timeseries(),
        json=LAYOUT.timeseries_sidecar(),
    log:
        LAYOUT.log("extract_timeseries", scan="{scan}"),
    benchmark:
        LAYOUT.benchmark("extract_timeseries", scan="{scan}")
    group:
        "subject"
    conda:
        "../../envs/tda_mci.yaml"
    params:
        subject=scan_subject,
        settings=settings("extract_timeseries"),
        sources=sources_json,
    shell:
        "tda-mci extract-timeseries --settings {params.settings:q} --subject {params.subject:q} "
        "--sources {params.sources:q} --output {output.tsv:q} --log {log:q}"
