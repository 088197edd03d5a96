# Rank-sum statistics between diagnostic groups on every PR pair; P-plots and hub tables.


rule wilcoxon_tests:
    input:
        all_subjects(PR),
    output:
        stats=STATS["stats"],
        pairs=report(STATS["pairs"], caption="../report/pairs.rst", category="Group statistics",
                     subcategory="Significant pairs", labels={"comparison": "{comp}"}),
        hubs=report(STATS["hubs"], caption="../report/hubs.rst", category="Group statistics",
                    subcategory="Hubs", labels={"comparison": "{comp}", "figure": "table"}),
        hub_figure=report(STATS["hub_figure"], caption="../report/hubs.rst",
                          category="Group statistics", subcategory="Hubs",
                          labels={"comparison": "{comp}", "figure": "bar chart"}),
        overview=report(STATS["overview"], caption="../report/pplot_overview.rst",
                        category="Group statistics", subcategory="P-plots",
                        labels={"comparison": "{comp}", "network": "all"}),
        pplots=report_pplots(),
        connectome=report(STATS["connectome"], caption="../report/connectome.rst",
                          category="Group statistics", subcategory="Hubs",
                          labels={"comparison": "{comp}", "figure": "glass brain"}),
        connectome_html=STATS["connectome_html"],
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
        "--out-pplots {output.pplots} --out-connectome {output.connectome} "
        "--out-connectome-html {output.connectome_html} > {log} 2>&1"


rule plot_diagrams:
    input:
        diagrams=all_subjects(DIAGRAMS),
        hubs=STATS["hubs"],
    output:
        report(DIAGRAM_FIGURE, caption="../report/diagrams.rst", category="Diagrams",
               labels={"comparison": "{comp}"}),
    params:
        group=group_args,
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("plot_diagrams", comp="{comp}"),
    shell:
        "tda-mci diagram-figure {params.group} --inputs {input.diagrams} --hubs {input.hubs} "
        "--output {output} > {log} 2>&1"


rule permanova_tests:
    input:
        all_ps_blocks(),
    output:
        table=report(PS_TESTS["table"], caption="../report/permanova.rst", category="Distances",
                     subcategory="Inter-subject (PS)", labels={"comparison": "{comp}",
                     "figure": "table"}),
        brain_map=report(PS_TESTS["brain_map"], caption="../report/permanova.rst",
                         category="Distances", subcategory="Inter-subject (PS)",
                         labels={"comparison": "{comp}", "figure": "brain map"}),
        matrix=report(PS_TESTS["matrix"], caption="../report/ps_matrix.rst",
                      category="Distances", subcategory="Inter-subject (PS)",
                      labels={"comparison": "{comp}", "figure": "PS matrices, top ROI"}),
    params:
        group=group_args,
        permutations=config["statistics"]["ps_permutations"],
        seed=config["statistics"]["seed"],
        atlas=atlas_arg(),
    conda:
        "../../envs/tda_mci.yaml"
    log:
        log_file("permanova_tests", comp="{comp}"),
    benchmark:
        benchmark_file("permanova_tests", comp="{comp}")
    shell:
        "tda-mci ps-tests {params.group} --inputs {input} {params.atlas} "
        "--permutations {params.permutations} --seed {params.seed} "
        "--out-table {output.table} --out-brain-map {output.brain_map} "
        "--out-matrix {output.matrix} > {log} 2>&1"
