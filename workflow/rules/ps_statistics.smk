# Group statistics on the inter-subject (PS) matrices: PERMANOVA of every ROI, the brain map
# and the PS matrices of the ROI that separates the groups best.


rule permanova_tests:
    input:
        cohort=LAYOUT.included(),
        ps=expand(LAYOUT.ps(), block=range(N_PS_BLOCKS)),
    output:
        table=report(
            PS_TESTS["table"],
            caption="../report/permanova.rst",
            category="Distances",
            subcategory="Inter-subject (PS)",
            labels={"comparison": "{comp}", "figure": "table"},
        ),
        brain_map=report(
            PS_TESTS["brain_map"],
            caption="../report/permanova.rst",
            category="Distances",
            subcategory="Inter-subject (PS)",
            labels={"comparison": "{comp}", "figure": "brain map"},
        ),
        matrix=report(
            PS_TESTS["matrix"],
            caption="../report/ps_matrix.rst",
            category="Distances",
            subcategory="Inter-subject (PS)",
            labels={"comparison": "{comp}", "figure": "PS matrices, top ROI"},
        ),
    log:
        LAYOUT.log("permanova_tests", comp="{comp}"),
    benchmark:
        LAYOUT.benchmark("permanova_tests", comp="{comp}")
    conda:
        "../../envs/tda_mci.yaml"
    params:
        settings=settings("permanova_tests"),
        comparison=comparison,
        outputs=named_outputs,
    shell:
        "tda-mci permanova-tests --settings {params.settings:q} --cohort {input.cohort:q} "
        "--comparison {params.comparison} --ps {input.ps:q} --outputs {params.outputs:q} "
        "--log {log:q}"
