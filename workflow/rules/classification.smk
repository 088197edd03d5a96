# Classification: the hybrid CNN and the baselines per comparison x network (every homology
# dimension in one job), the label-permutation test of each comparison's best model, and the
# summary tables.


localrules:
    summarize_classification,


rule train_classifiers:
    input:
        cohort=LAYOUT.included(),
        pr=all_subjects(LAYOUT.pr()),
        timeseries=all_subjects(LAYOUT.timeseries()),
    output:
        **(
            {
                "curves": report(
                    LAYOUT.learning_curves(),
                    caption="../report/learning_curves.rst",
                    category="Classification",
                    subcategory="Learning curves",
                    labels={"comparison": "{comp}", "network": "{net}"},
                )
            }
            if "cnn" in MODELS
            else {}
        ),
        metrics=metrics_files(),
    log:
        LAYOUT.log("train_classifiers", comp="{comp}", net="{net}"),
    benchmark:
        LAYOUT.benchmark("train_classifiers", comp="{comp}", net="{net}")
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu=TRAINING_GPUS,
    params:
        settings=settings("train_classifiers"),
        comparison=comparison,
        curves=curves_arg,
    shell:
        "tda-mci train-classifiers --settings {params.settings:q} --cohort {input.cohort:q} "
        "--comparison {params.comparison} --network {wildcards.net} --pr {input.pr:q} "
        "--timeseries {input.timeseries:q} --outputs {output.metrics:q} {params.curves} "
        "--threads {threads} --log {log:q}"


rule permutation_test:
    input:
        cohort=LAYOUT.included(),
        records=comparison_records,
        pr=all_subjects(LAYOUT.pr()),
        timeseries=all_subjects(LAYOUT.timeseries()),
    output:
        result=LAYOUT.permutation(),
        figure=report(
            LAYOUT.permutation_figure(),
            caption="../report/permutation.rst",
            category="Classification",
            subcategory="Permutation tests",
            labels={"comparison": "{comp}"},
        ),
    log:
        LAYOUT.log("permutation_test", comp="{comp}"),
    benchmark:
        LAYOUT.benchmark("permutation_test", comp="{comp}")
    conda:
        "../../envs/torch.yaml"
    threads: 2  # it runs last, beside little else; the random forest and torch use them
    resources:
        gpu=TRAINING_GPUS,
    params:
        settings=settings("permutation_test"),
        comparison=comparison,
    shell:
        "tda-mci permutation-test --settings {params.settings:q} --cohort {input.cohort:q} "
        "--comparison {params.comparison} --records {input.records:q} --pr {input.pr:q} "
        "--timeseries {input.timeseries:q} --output {output.result:q} "
        "--figure {output.figure:q} --threads {threads} --log {log:q}"


rule summarize_classification:
    input:
        records=expand(metrics_files(), comp=COMPARISONS, net=NETWORKS),
        permutations=expand(LAYOUT.permutation(), comp=COMPARISONS) if PERMUTATIONS else [],
    output:
        summary=report(
            SUMMARY["summary"],
            caption="../report/classification.rst",
            category="Classification",
            subcategory="Summary tables",
            labels={"table": "accuracy (Table 1 layout)"},
        ),
        best=report(
            SUMMARY["best"],
            caption="../report/classification_best.rst",
            category="Classification",
            subcategory="Summary tables",
            labels={"table": "best per comparison"},
        ),
        heatmap=report(
            SUMMARY["heatmap"],
            caption="../report/classification.rst",
            category="Classification",
            subcategory="Summary tables",
            labels={"table": "accuracy heatmap"},
        ),
    log:
        LAYOUT.log("summarize_classification"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("summarize_classification"),
        outputs=named_outputs,
    shell:
        "tda-mci summarize-classification --settings {params.settings:q} "
        "--records {input.records:q} --permutation-tests {input.permutations:q} "
        "--outputs {params.outputs:q} --log {log:q}"
