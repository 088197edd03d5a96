# The generated demo cohort (inputs.kind: demo): 4D MNI images with a planted group effect.


rule demo_cohort:
    output:
        participants=DEMO_PARTICIPANTS,
        truth=DEMO_TRUTH,
        bold=every_subject(demo_bold()),
        mask=every_subject(demo_mask()),
    params:
        args=demo_args(),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("demo_cohort"),
    benchmark:
        benchmark_file("demo_cohort")
    shell:
        "tda-mci demo --participants {output.participants} {params.args} > {log} 2>&1"
