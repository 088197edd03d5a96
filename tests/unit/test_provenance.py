"""tda_mci.provenance: per-rule summaries of Snakemake benchmark files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tda_mci.provenance import runtime_table

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(root, rule, job, *rows):
    path = root / rule / f"{job}.tsv"  # job may hold folders: sub-01/ses-1/<stem>
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(
        f"{s}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t100\t{cpu}\n" for s, rss, cpu in rows))


def test_runtime_table_sums_per_rule(tmp_path):
    bench(tmp_path, "compute_diagrams", "sub-01", (2.0, 80.5, 2.5))
    bench(tmp_path, "compute_diagrams", "sub-02", (4.0, 90.0, 4.5))
    bench(tmp_path, "compute_diagrams", "sub-03", (3.0, "NA", "NA"))  # too short to measure
    # A per-scan job's file sits in the scan's folders (Layout.benchmark of a scan).
    bench(tmp_path, "compute_diagrams", "sub-04/ses-1/sub-04_ses-1_task-rest", (1.0, 70.0, 1.5))
    bench(tmp_path, "train_classifiers", "comp-HCvsLMCI_net-DMN", (50.0, 700.0, 49.0),
          (52.0, 710.0, 51.0))  # benchmark repeats: their mean
    table = runtime_table(tmp_path).set_index("rule")
    assert list(table.index) == ["train_classifiers", "compute_diagrams", "all rules"]
    d = table.loc["compute_diagrams"]
    assert d["jobs"] == 4 and d["wall_s_total"] == 10.0 and d["wall_s_median"] == 2.5
    assert d["wall_s_max"] == 4.0 and d["slowest_job"] == "sub-02"
    assert d["cpu_s_total"] == 8.5 and d["max_rss_mb"] == 90.0
    t = table.loc["train_classifiers"]
    assert t["wall_s_total"] == 51.0 and t["max_rss_mb"] == 710.0 and t["cpu_s_total"] == 50.0
    total = table.loc["all rules"]
    assert total["jobs"] == 5 and total["wall_s_total"] == 61.0
    assert total["slowest_job"] == "train_classifiers/comp-HCvsLMCI_net-DMN"
    assert np.isclose(total["cpu_s_total"], 58.5)


def test_runtime_table_errors(tmp_path):
    with pytest.raises(ValueError, match="no benchmark files"):
        runtime_table(tmp_path)
    (tmp_path / "rule").mkdir()
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "rule" / "job.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match=r"job\.tsv: not a Snakemake benchmark file"):
        runtime_table(tmp_path)
