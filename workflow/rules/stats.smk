# Rank-sum statistics between diagnostic groups on every PR pair; P-plots and hub tables.


rule wilcoxon_tests:
    input:
        all_subjects(PR),
    output:
        stats=STATS["stats"],
        pairs=report(STATS["pairs"], caption="../report/pairs.rst", category="Statistics",
                     subcategory="Significant pairs", labels={"comparison": "{comp}"}),
        hubs=report(STATS["hubs"], caption="../report/hubs.rst", category="Statistics",
                    subcategory="Hubs", labels={"comparison": "{comp}", "figure": "table"}),
        hub_figure=report(STATS["hub_figure"], caption="../report/hubs.rst",
                          category="Statistics", subcategory="Hubs",
                          labels={"comparison": "{comp}", "figure": "bar chart"}),
        overview=report(STATS["overview"], caption="../report/pplot_overview.rst",
                        category="Statistics", subcategory="P-plots",
                        labels={"comparison": "{comp}", "network": "all"}),
        pplots=report_pplots(),
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
