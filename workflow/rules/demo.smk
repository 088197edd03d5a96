# The generated demo cohort (inputs.kind: demo): 4D MNI images with a planted group effect.


rule demo_cohort:
    output:
        participants=LAYOUT.demo_participants(),
        truth=LAYOUT.demo_truth(),
        bold=every_subject(LAYOUT.demo_bold()),
        mask=every_subject(LAYOUT.demo_mask()),
    log:
        LAYOUT.log("demo_cohort"),
    benchmark:
        LAYOUT.benchmark("demo_cohort")
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("demo_cohort"),
        demo_dir=demo_folder,
    shell:
        "tda-mci demo-cohort --settings {params.settings:q} --demo-dir {params.demo_dir:q} "
        "--log {log:q}"
