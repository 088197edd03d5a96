"""Run Snakemake and print the CPU time of its own process beside that of its jobs.

Usage: ``python tools/snakemake_cpu.py [snakemake arguments]``, for example
``python tools/snakemake_cpu.py --cores 2 --configfile demo.yaml``.

Snakemake runs in this process (``snakemake.cli.main``); at exit the script prints one
line::

    snakemake CPU: own <s> s (user <s>, sys <s>), jobs <s> s, own share <p> %, wall <s> s

``own`` is ``getrusage(RUSAGE_SELF)``: Snakemake's main process, all its threads
(DAG building, the job selector, file checks, logging). ``jobs`` is
``getrusage(RUSAGE_CHILDREN)``: every job's shell and its descendants, and any other
child of Snakemake (the ILP selector's solver), counted when they end (all of them have
ended by the time the line is printed). Used to measure the
orchestration overhead of a workflow run (README, "Performance").
"""

from __future__ import annotations

import atexit
import resource
import sys
import time

_START = time.perf_counter()


def _report() -> None:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    own_s = own.ru_utime + own.ru_stime
    jobs_s = kids.ru_utime + kids.ru_stime
    share = 100.0 * own_s / (own_s + jobs_s) if own_s + jobs_s else 0.0
    print(
        f"snakemake CPU: own {own_s:.1f} s (user {own.ru_utime:.1f}, sys {own.ru_stime:.1f}), "
        f"jobs {jobs_s:.1f} s, own share {share:.1f} %, "
        f"wall {time.perf_counter() - _START:.1f} s",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    from snakemake.cli import main

    atexit.register(_report)
    main(sys.argv[1:])
