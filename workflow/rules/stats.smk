# Rank-sum statistics between diagnostic groups on every PR pair; P-plots and hub tables.


rule wilcoxon_tests:
    input:
        all_subjects(PR),
    output:
        **stats_outputs(),
    params:
        group=group_args,
        alpha=config["statistics"]["alpha"],
        atlas=atlas_arg(),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("wilcoxon_tests", comp="{comp}"),
    benchmark:
        benchmark_file("wilcoxon_tests", comp="{comp}")
    shell:
        "tda-mci stats {params.group} --inputs {input} {params.atlas} --alpha {params.alpha} "
        "--out-stats {output.stats} --out-pairs {output.pairs} --out-hubs {output.hubs} "
        "--out-hub-figure {output.hub_figure} --out-overview {output.overview} "
        "--out-pplots {output.pplots} > {log} 2>&1"
