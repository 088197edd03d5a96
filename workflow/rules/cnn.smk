# Classifiers (hybrid CNN and baselines) per comparison x network, every homology dimension.


localrules:
    summarize_classification,


rule train_classifiers:
    input:
        pr=all_subjects(PR),
        timeseries=all_subjects(TIMESERIES),
    output:
        classify_outputs(),
    params:
        group=group_args,
        args=classification_args(),
        atlas=atlas_arg(),
    threads: 1
    resources:
        gpu=TRAINING_GPUS,
    conda:
        "../../envs/torch.yaml"
    log:
        log_file("train_classifiers", comp="{comp}", net="{net}"),
    benchmark:
        benchmark_file("train_classifiers", comp="{comp}", net="{net}")
    shell:
        "tda-mci classify {params.group} --network {wildcards.net} --pr {input.pr} "
        "--timeseries {input.timeseries} {params.atlas} {params.args} --threads {threads} "
        "--outputs {output} > {log} 2>&1"


rule summarize_classification:
    input:
        expand(classify_outputs(), comp=COMPARISONS, net=NETWORKS),
    output:
        summary=report(CLASSIFY_SUMMARY, caption="../report/classification.rst",
                       category="Classification", labels={"table": "accuracy (Table 1 layout)"}),
        best=report(CLASSIFY_BEST, caption="../report/classification_best.rst",
                    category="Classification", labels={"table": "best per comparison"}),
        heatmap=report(CLASSIFY_HEATMAP, caption="../report/classification.rst",
                       category="Classification", labels={"table": "accuracy heatmap"}),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("summarize_classification"),
    shell:
        "tda-mci summarize --inputs {input} --output {output.summary} --out-best {output.best} "
        "--out-heatmap {output.heatmap} > {log} 2>&1"
