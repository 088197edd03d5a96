"""Command-line interface: ``tda-mci <stage>``, one subcommand per workflow rule.

The subcommand of rule ``compute_diagrams`` is ``tda-mci compute-diagrams``, and it calls
the stage function of the same name (``tda_mci.topology.stages.compute_diagrams``). This
module only parses arguments: the stage's settings arrive as one JSON object
(``--settings``, see :mod:`tda_mci.settings`), files by role.

With ``--log FILE`` (as the workflow runs it) everything the command and the libraries
print goes to the job's log, and only the outcome of a failure reaches the console: one
line ``tda-mci <command>: error: ...`` naming the subject, the file and the reason. An
expected failure (bad data, a damaged intermediate, a missing file) exits with status 1
and that line, never a traceback; a damaged intermediate
(:class:`tda_mci.io.DamagedFileError`) is removed first, so that rerunning the same
workflow command remakes it. An unexpected error also exits with status 1; its traceback
is in the log.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("tda_mci")

#: Subcommand -> (stage function as "module:function", its help, its arguments).
#: An argument is (flag, keyword options of ``add_argument``); the stage function takes
#: each one as a keyword argument of the same name (``--demo-dir`` -> ``demo_dir``).
_ONE = {"required": True}
_MANY = {"required": True, "nargs": "+"}
_ANY = {"nargs": "*", "default": []}
_JSON = {"required": True, "type": json.loads, "metavar": "JSON"}
_THREADS = ("--threads", {"type": int, "default": 1, "help": "threads of this job"})
_PAIR = ("--comparison", {"required": True, "nargs": 2, "metavar": ("REF", "OTHER")})
_COHORT = ("--cohort", {"required": True, "help": "cohort table (included subjects, groups)"})

COMMANDS: dict[str, tuple[str, str, list[tuple[str, dict[str, Any]]]]] = {
    "demo-cohort": ("inputs.stages:demo_cohort", "Generate the demo cohort.", [
        ("--demo-dir", _ONE)]),
    "extract-timeseries": (
        "inputs.stages:extract_timeseries", "Extract or import one subject's ROI series.", [
            ("--subject", _ONE), ("--sources", {**_JSON, "help": "input files by role"}),
            ("--output", _ONE)]),
    "screen-subject": (
        "inputs.stages:screen_subject", "Check one subject's data; record the verdict.", [
            ("--subject", _ONE), ("--sources", {**_JSON, "help": "input files by role"}),
            ("--output", _ONE)]),
    "screen-cohort": (
        "inputs.stages:screen_cohort", "Included and excluded tables of the cohort.", [
            ("--participants", _ONE), ("--records", _MANY), ("--included", _ONE),
            ("--excluded", _ONE)]),
    "plot-carpet": ("inputs.stages:plot_carpet", "Carpet plot of one subject's series.", [
        ("--subject", _ONE), ("--timeseries", _ONE), ("--output", _ONE)]),
    "cohort-qc": ("inputs.stages:cohort_qc", "Cohort QC table and figure.", [
        ("--participants", _ONE), ("--included", _ONE), ("--excluded", _ONE),
        ("--sidecars", _ANY), ("--outputs", _JSON)]),
    "compute-diagrams": (
        "topology.stages:compute_diagrams", "Persistence diagrams of one subject's ROIs.", [
            ("--subject", _ONE), ("--timeseries", _ONE), ("--output", _ONE), _THREADS]),
    "roi-distances": ("topology.stages:roi_distances", "One subject's PR matrices.", [
        ("--subject", _ONE), ("--diagrams", _ONE), ("--output", _ONE), _THREADS]),
    "subject-distances": (
        "topology.stages:subject_distances", "PS matrices of a block of ROIs.", [
            _COHORT, ("--diagrams", _MANY), ("--block", {**_ONE, "type": int}),
            ("--output", _ONE), _THREADS]),
    "wilcoxon-tests": ("stats.stages:wilcoxon_tests", "Rank-sum tests of every PR pair.", [
        _COHORT, _PAIR, ("--pr", _MANY), ("--outputs", _JSON)]),
    "plot-diagrams": ("stats.stages:plot_diagrams", "Diagrams of the top hub ROI.", [
        _COHORT, _PAIR, ("--diagrams", _MANY), ("--hubs", _ONE), ("--output", _ONE)]),
    "permanova-tests": ("stats.stages:permanova_tests", "PERMANOVA of every PS matrix.", [
        _COHORT, _PAIR, ("--ps", _MANY), ("--outputs", _JSON)]),
    "train-classifiers": (
        "model.stages:train_classifiers", "Classifiers of one comparison and network.", [
            _COHORT, _PAIR, ("--network", _ONE), ("--pr", _MANY), ("--timeseries", _MANY),
            ("--outputs", {**_MANY, "help": "metrics files (their names say dim and model)"}),
            ("--curves", {"default": None, "help": "CNN learning curves (PNG)"}), _THREADS]),
    "permutation-test": (
        "model.stages:permutation_test", "Permutation p-value of the best classifier.", [
            _COHORT, _PAIR, ("--records", _MANY), ("--pr", _MANY), ("--timeseries", _MANY),
            ("--output", _ONE), ("--figure", _ONE), _THREADS]),
    "summarize-classification": (
        "model.stages:summarize_classification", "The classification tables.", [
            ("--records", _MANY), ("--permutation-tests", _ANY), ("--outputs", _JSON)]),
    "methods-text": ("methods:methods_text", "The methods text of the run.", [
        _COHORT, ("--sidecars", _MANY), ("--outputs", _JSON)]),
    "runtime-statistics": ("provenance:runtime_statistics", "Run times per rule.", [
        ("--benchmarks", _ONE), ("--output", _ONE)]),
}


def _stage(target: str) -> Callable[..., None]:
    module, name = target.split(":")
    return getattr(importlib.import_module(f"tda_mci.{module}"), name)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``tda-mci``."""
    parser = argparse.ArgumentParser(prog="tda-mci", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log", default=None, metavar="FILE",
                        help="write all output to FILE; only an error line reaches the "
                             "console")
    sub = parser.add_subparsers(dest="command", required=True)
    for command, (target, help_text, arguments) in COMMANDS.items():
        p = sub.add_parser(command, help=help_text, description=help_text, parents=[common])
        p.add_argument("--settings", required=True, metavar="JSON",
                       help="the stage's settings (tda_mci.settings), as the workflow writes "
                            "them")
        for flag, options in arguments:
            p.add_argument(flag, **options)
        p.set_defaults(target=target)
    p = sub.add_parser("dataset-description", help="Write dataset_description.json.",
                       parents=[common])
    p.add_argument("--config", required=True, type=json.loads, metavar="JSON",
                   help="the run's whole configuration")
    p.add_argument("--output", required=True)
    p.set_defaults(target="provenance:write_dataset_description")
    return parser


def run(args: argparse.Namespace) -> None:
    """Call the stage function of the parsed subcommand."""
    from tda_mci.settings import STAGES

    kwargs = {k: v for k, v in vars(args).items()
              if k not in ("command", "verbose", "target", "log")}
    stage = _stage(args.target)
    if args.command == "dataset-description":
        stage(kwargs.pop("config"), **kwargs)
        return
    settings = STAGES[args.command.replace("-", "_")].from_json(kwargs.pop("settings"))
    stage(settings, **kwargs)


def _log_to(path: str):
    """Send standard output and error (C level too) to the log file ``path``.

    Returns a text stream on the original standard error (the console).
    """
    console = os.fdopen(os.dup(2), "w", buffering=1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return console


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tda-mci``; returns the exit status."""
    from tda_mci.io import DamagedFileError

    args = build_parser().parse_args(argv)
    console = _log_to(args.log) if args.log else sys.stderr
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log.info("tda-mci %s: %s", args.command, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        run(args)
        return 0
    except DamagedFileError as err:
        message = err.remove()
    except (ValueError, FileNotFoundError) as err:
        message = str(err)
    except Exception as err:
        if not args.log:
            raise
        log.exception("unexpected error")
        message = f"unexpected {type(err).__name__}: {err} (traceback in {args.log})"
    log.error("%s", message)
    print(f"tda-mci {args.command}: error: {message}", file=console, flush=True)
    return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
