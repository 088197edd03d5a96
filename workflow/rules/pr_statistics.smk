# Group statistics on the inter-ROI (PR) matrices: rank-sum tests of every ROI pair, P-plots,
# hub tables, the glass brain, and the diagrams of the top hub ROI per group.


rule wilcoxon_tests:
    input:
        cohort=LAYOUT.included(),
        pr=all_subjects(LAYOUT.pr()),
    output:
        stats=STATS["stats"],
        pairs=report(
            STATS["pairs"],
            caption="../report/pairs.rst",
            category="Group statistics",
            subcategory="Significant pairs",
            labels={"comparison": "{comp}"},
        ),
        hubs=report(
            STATS["hubs"],
            caption="../report/hubs.rst",
            category="Group statistics",
            subcategory="Hubs",
            labels={"comparison": "{comp}", "figure": "table"},
        ),
        hub_figure=report(
            STATS["hub_figure"],
            caption="../report/hubs.rst",
            category="Group statistics",
            subcategory="Hubs",
            labels={"comparison": "{comp}", "figure": "bar chart"},
        ),
        overview=report(
            STATS["overview"],
            caption="../report/pplot_overview.rst",
            category="Group statistics",
            subcategory="P-plots",
            labels={"comparison": "{comp}", "network": "all"},
        ),
        pplots=report_pplots(),
        connectome=report(
            STATS["connectome"],
            caption="../report/connectome.rst",
            category="Group statistics",
            subcategory="Hubs",
            labels={"comparison": "{comp}", "figure": "glass brain"},
        ),
        connectome_html=STATS["connectome_html"],
    log:
        LAYOUT.log("wilcoxon_tests", comp="{comp}"),
    benchmark:
        LAYOUT.benchmark("wilcoxon_tests", comp="{comp}")
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("wilcoxon_tests"),
        comparison=comparison,
        outputs=named_outputs,
    shell:
        "tda-mci wilcoxon-tests --settings {params.settings:q} --cohort {input.cohort:q} "
        "--comparison {params.comparison} --pr {input.pr:q} --outputs {params.outputs:q} "
        "--log {log:q}"


rule plot_diagrams:
    input:
        cohort=LAYOUT.included(),
        diagrams=all_subjects(DIAGRAMS),
        hubs=STATS["hubs"],
    output:
        report(
            LAYOUT.diagram_figure(),
            caption="../report/diagrams.rst",
            category="Diagrams",
            labels={"comparison": "{comp}"},
        ),
    log:
        LAYOUT.log("plot_diagrams", comp="{comp}"),
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("plot_diagrams"),
        comparison=comparison,
    shell:
        "tda-mci plot-diagrams --settings {params.settings:q} --cohort {input.cohort:q} "
        "--comparison {params.comparison} --diagrams {input.diagrams:q} "
        "--hubs {input.hubs:q} --output {output:q} --log {log:q}"
