# Classifiers (hybrid CNN and baselines) per comparison x network, every homology dimension.


localrules:
    summarize_classification,


rule train_classifiers:
    input:
        pr=all_subjects(PR),
        timeseries=all_subjects(TIMESERIES),
    output:
        metrics=classify_outputs(),
        **({"curves": report(LEARNING_CURVES, caption="../report/learning_curves.rst",
                             category="Classification", subcategory="Learning curves",
                             labels={"comparison": "{comp}", "network": "{net}"})}
           if "cnn" in MODELS else {}),
    params:
        group=group_args,
        args=classification_args(),
        atlas=atlas_arg(),
        curves=curves_arg,
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
        "--outputs {output.metrics} {params.curves} > {log} 2>&1"


rule permutation_test:
    input:
        results=lambda w: expand(classify_outputs(), comp=w.comp, net=NETWORKS),
        pr=all_subjects(PR),
        timeseries=all_subjects(TIMESERIES),
    output:
        result=PERMUTATION,
        figure=report(PERMUTATION_FIGURE, caption="../report/permutation.rst",
                      category="Classification", subcategory="Permutation tests",
                      labels={"comparison": "{comp}"}),
    params:
        group=group_args,
        atlas=atlas_arg(),
        permutations=PERMUTATIONS,
        device=config["classification"]["device"],
    threads: 2  # it runs last, beside little else; the random forest and torch use them
    resources:
        gpu=TRAINING_GPUS,
    conda:
        "../../envs/torch.yaml"
    log:
        log_file("permutation_test", comp="{comp}"),
    benchmark:
        benchmark_file("permutation_test", comp="{comp}")
    shell:
        "tda-mci permutation {params.group} --results {input.results} --pr {input.pr} "
        "--timeseries {input.timeseries} {params.atlas} --permutations {params.permutations} "
        "--device {params.device} --threads {threads} --output {output.result} "
        "--figure {output.figure} > {log} 2>&1"


rule summarize_classification:
    input:
        results=expand(classify_outputs(), comp=COMPARISONS, net=NETWORKS),
        permutations=expand(PERMUTATION, comp=COMPARISONS) if PERMUTATIONS else [],
    output:
        summary=report(CLASSIFY_SUMMARY, caption="../report/classification.rst",
                       category="Classification", subcategory="Summary tables",
                       labels={"table": "accuracy (Table 1 layout)"}),
        best=report(CLASSIFY_BEST, caption="../report/classification_best.rst",
                    category="Classification", subcategory="Summary tables",
                    labels={"table": "best per comparison"}),
        heatmap=report(CLASSIFY_HEATMAP, caption="../report/classification.rst",
                       category="Classification", subcategory="Summary tables",
                       labels={"table": "accuracy heatmap"}),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("summarize_classification"),
    shell:
        "tda-mci summarize --inputs {input.results} --permutations {input.permutations} "
        "--output {output.summary} --out-best {output.best} --out-heatmap {output.heatmap} "
        "> {log} 2>&1"
