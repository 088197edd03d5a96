"""tools/snakemake_cpu.py: Snakemake's own CPU beside its jobs'."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_snakemake_cpu_separates_the_main_process_from_the_jobs(tmp_path):
    # Two jobs that each burn about 1 CPU-second: they count as jobs, not as Snakemake's own.
    burn = (f"{sys.executable} -c 'import time; t=time.process_time()\\n"
            "while time.process_time()-t<1: pass'")
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "a.txt", "b.txt"\n'
        'rule burn:\n    output: "{name}.txt"\n'
        f'    shell: "{burn} && touch {{output}}"\n'
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "snakemake_cpu.py"), "--cores", "1", "-q"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stderr.strip().splitlines()[-1]
    m = re.fullmatch(r"snakemake CPU: own ([\d.]+) s \(user [\d.]+, sys [\d.]+\), jobs ([\d.]+) s, "
                     r"own share ([\d.]+) %, wall ([\d.]+) s", line)
    assert m, line
    own, jobs, share, wall = map(float, m.groups())
    assert jobs >= 2.0
    assert own < jobs
    # own and jobs are printed to 1 decimal
    assert abs(share - 100 * own / (own + jobs)) < 100 * 0.1 / (own + jobs) + 0.1
    assert wall >= 2.0
    assert (tmp_path / "a.txt").is_file() and (tmp_path / "b.txt").is_file()
