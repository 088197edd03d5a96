"""The container: ``containers/tda_mci.def`` installs exactly the lock files and the package,
and the Snakefile's ``container:`` directive gives every job the configured image (none when
``container`` is null).

No container runtime is needed: the definition file is parsed the way Apptainer parses it
(``pkg/build/types/parser/deffile.go``: a section starts at a line whose first word starts
with ``%``; header and ``%files``/``%labels`` lines starting with ``#`` are comments), its files
are staged and built into the package's wheel, its ``%environment`` and ``%test`` scripts run
on this interpreter's environment (the same locks), and the workflow's jobs are read from
Snakemake's own DAG. Building and running the image itself is not tested here.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "containers" / "tda_mci.def"
TINY = ROOT / "tests" / "workflow" / "config.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: What %test must import (besides running ``tda-mci --help``).
TEST_IMPORTS = {"tda_mci", "torch", "nilearn", "gudhi", "neuroHarmonize"}
NO_RUNTIME = "The apptainer or singularity command has to be available"


def _parse(path: Path = DEFINITION) -> tuple[dict[str, str], dict[str, str]]:
    """``(header, sections)`` of an Apptainer definition file: header keys lower-cased,
    each section's body (repeated sections concatenated, as Apptainer does)."""
    header_lines, sections, current = [], {}, None
    for line in path.read_text().splitlines():
        words = line.split()
        if words and words[0].startswith("%"):
            current = words[0][1:].lower()
            sections.setdefault(current, "")
        elif current is None:
            header_lines.append(line)
        else:
            sections[current] += line + "\n"
    header = {}
    for line in header_lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.split("#")[0].partition(":")
        assert sep, f"header line without a value: {line!r}"
        header[key.strip().lower()] = value.strip()
    return header, sections


def _entries(body: str) -> list[list[str]]:
    """The non-comment lines of a %files or %labels body, split into words."""
    return [shlex.split(line) for line in body.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _commands(script: str) -> list[list[str]]:
    """The shell commands of a script, one per logical line, split into words."""
    joined = re.sub(r"\\\n", " ", script)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def _pip_installs(script: str) -> list[list[str]]:
    """The arguments of every ``pip install`` of a script, in order."""
    installs = []
    for words in _commands(script):
        for i, word in enumerate(words[:-1]):
            if PurePosixPath(word).name.startswith("pip") and words[i + 1] == "install":
                installs.append(words[i + 2:])
    return installs


def _files() -> list[tuple[str, str]]:
    _, sections = _parse()
    entries = _entries(sections["files"])
    assert all(len(e) == 2 for e in entries), entries
    return [(src, dst) for src, dst in entries]


def _build_dir() -> PurePosixPath:
    """The folder %post installs from (its ``cd``)."""
    _, sections = _parse()
    cds = [words[1] for words in _commands(sections["post"]) if words[0] == "cd"]
    assert len(cds) == 1, cds
    return PurePosixPath(cds[0])


# --- the definition file ---------------------------------------------------------------


def test_base_image_is_python_311_slim_pinned_by_tag():
    header, sections = _parse()
    assert header["bootstrap"] == "docker"
    name, _, tag = header["from"].rpartition(":")
    assert name in ("python", "docker.io/library/python"), header["from"]
    assert tag != "latest" and re.fullmatch(r"3\.11\.\d+-slim(-[a-z]+)?", tag), tag
    labels = dict(_entries(sections["labels"]))
    assert labels["Python"] == tag.split("-")[0]


def test_labels_carry_the_package_version():
    _, sections = _parse()
    labels = dict(_entries(sections["labels"]))
    assert labels["Version"] == PYPROJECT["project"]["version"]
    assert labels["Name"] == PYPROJECT["project"]["name"]


def test_files_copies_existing_files_that_the_package_build_needs_and_nothing_else():
    files = _files()
    build = _build_dir()
    for src, dst in files:
        assert not Path(src).is_absolute() and ".." not in Path(src).parts, src
        assert (ROOT / src).exists(), f"%files copies {src}, which the repository lacks"
        assert PurePosixPath(dst) == build / src, (src, dst)  # the repository's layout
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.name for pattern in find for p in ROOT.glob(pattern.rstrip("*") + "*")
                if (p / "__init__.py").is_file()}
    expected = ({"pyproject.toml", PYPROJECT["project"]["readme"]} | packages
                | {p.name for p in ROOT.glob("requirements*.lock")}
                | {p.name for p in ROOT.glob("LICEN[CS]E*")})
    assert sorted(src for src, _ in files) == sorted(expected)


def test_post_installs_exactly_the_locks_then_the_package_not_editable():
    _, sections = _parse()
    installs = _pip_installs(sections["post"])
    # pip itself first, pinned (the image's pip is otherwise that of the base image)
    assert installs[0][0].startswith("pip==") and len(installs[0]) == 1, installs[0]
    assert installs[1:] == [
        ["-r", "requirements.lock"],
        ["--no-deps", "-r", "requirements-nodeps.lock"],
        ["--no-deps", "."],
    ]
    copied = {src for src, _ in _files()}
    named = {words[words.index("-r") + 1] for words in installs if "-r" in words}
    assert named == {p.name for p in ROOT.glob("requirements*.lock")}
    assert named <= copied
    for words in installs:
        assert not {"-e", "--editable", "-U", "--upgrade", "--pre"} & set(words), words
        assert not any(w.startswith(("--index-url", "--extra-index-url", "-i")) for w in words)
    # requirements-nodeps.lock says how it is installed; the definition follows it
    comment = (ROOT / "requirements-nodeps.lock").read_text().splitlines()[0]
    assert "--no-deps" in comment and "after requirements.lock" in comment


def test_script_sections_are_valid_sh():
    _, sections = _parse()
    for name in ("post", "environment", "test"):
        result = subprocess.run(["sh", "-n"], input=sections[name], capture_output=True,
                                text=True)
        assert result.returncode == 0, (name, result.stderr)


def test_staged_files_build_the_whole_package_with_its_data_and_command(tmp_path):
    """What %files copies is enough for ``pip install --no-deps .``: the wheel built from the
    staged copy holds every module and data file of the package and the ``tda-mci`` command."""
    if int(version("setuptools").split(".")[0]) < 77:
        pytest.skip("the build requirement setuptools>=77 is not installed here")
    build = _build_dir()
    stage = tmp_path / "stage"
    for src, dst in _files():
        target = stage / PurePosixPath(dst).relative_to(build)
        if (ROOT / src).is_dir():
            shutil.copytree(ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / src, target)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index",
                             "--no-build-isolation", "-w", str(tmp_path / "wheels"), str(stage)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("tda_mci-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tda_mci").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts
               and (p.suffix == ".py" or p.parent.name == "schemas" and p.suffix == ".yaml")}
    assert package and package <= names, sorted(package - names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert re.search(r"^tda-mci = tda_mci\.cli:main$", text, re.M), text


def _in_environment(script: str) -> subprocess.CompletedProcess:
    """``script`` run by sh after the image's %environment, with this interpreter's ``python``
    and ``tda-mci`` first on PATH (the stand-in for the image's /usr/local/bin)."""
    _, sections = _parse()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run(["sh", "-c", sections["environment"] + "\n" + script], env=env,
                          capture_output=True, text=True)


def test_environment_puts_caches_in_tmp_and_selects_agg():
    result = _in_environment('printf "%s\\n" "$NUMBA_CACHE_DIR" "$MPLCONFIGDIR" '
                             '"$MPLBACKEND" "$PYTHONNOUSERSITE"')
    assert result.returncode == 0, result.stderr
    numba, mplconfig, backend, nousersite = result.stdout.splitlines()
    assert numba.startswith("/tmp/") and mplconfig.startswith("/tmp/")
    assert backend == "Agg" and nousersite == "1"


def test_test_section_imports_the_stack_and_runs_the_command():
    """%test, run here on the environment of the same locks (not in the image)."""
    _, sections = _parse()
    imported = set()
    for words in _commands(sections["test"]):
        if words[:2] == ["python", "-c"]:
            for statement in words[2].split(";"):
                if statement.strip().startswith("import "):
                    imported |= {m.strip() for m in statement.strip()[7:].split(",")}
    assert imported == TEST_IMPORTS
    assert ["tda-mci", "--help"] in [w[:2] for w in _commands(sections["test"])]
    result = _in_environment(sections["test"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


# --- the workflow's container directive --------------------------------------------------

#: Loads the workflow with Snakemake's API as `--sdm apptainer` does, builds its DAG (as
#: `--summary` does, which needs no container runtime) and prints each rule's and each job's
#: image as JSON.
PROBE = """
import contextlib, io, json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import (ConfigSettings, DAGSettings, DeploymentSettings,
                                      OutputSettings, Quietness, ResourceSettings)
from snakemake_interface_executor_plugins.settings import DeploymentMethod

snakefile, configfile = map(Path, sys.argv[1:3])
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow_api = api.workflow(
        ResourceSettings(cores=1), ConfigSettings(configfiles=[configfile]),
        deployment_settings=DeploymentSettings(deployment_method={DeploymentMethod.APPTAINER}),
        snakefile=snakefile, workdir=Path.cwd())
    with contextlib.redirect_stdout(io.StringIO()):
        workflow_api.dag(DAGSettings()).summary()
    workflow = workflow_api._workflow
    rules = {rule.name: rule.container_img for rule in workflow.rules}
    jobs = [[job.rule.name, job.container_img_url] for job in workflow.dag.jobs]
print(json.dumps({"rules": rules, "jobs": jobs}))
"""


def _tiny_config(container: str | None) -> dict:
    return {**yaml.safe_load(TINY.read_text()), "container": container}


@pytest.mark.parametrize("image", ["tda_mci.sif", "docker://example.org/tda_mci:0.1.0", None])
def test_every_job_runs_in_the_configured_image_or_none(tmp_path, image):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_tiny_config(image)))
    result = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "Snakefile"), str(config)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["rules"] and {img for img in found["rules"].values()} == {image}
    jobs = found["jobs"]
    assert {"demo_cohort", "compute_diagrams", "train_classifiers"} <= {r for r, _ in jobs}
    assert {img for _, img in jobs} == {image}


def test_dry_run_under_sdm_apptainer_asks_for_the_runtime_only_with_an_image(tmp_path,
                                                                             snakemake):
    runtime = shutil.which("singularity")  # what Snakemake looks for (apptainer provides it)
    (tmp_path / "image").mkdir()
    with_image = snakemake(tmp_path / "image", _tiny_config("tda_mci.sif"), "-n",
                           "--sdm", "apptainer")
    if runtime is None:
        # Snakemake builds the DAG, finds jobs with an image and needs the runtime for them.
        assert with_image.returncode != 0
        assert NO_RUNTIME in with_image.stdout + with_image.stderr
    else:
        assert with_image.returncode == 0, with_image.stderr[-3000:]
    (tmp_path / "none").mkdir()
    without = snakemake(tmp_path / "none", _tiny_config(None), "-n", "--sdm", "apptainer")
    assert without.returncode == 0, without.stderr[-3000:]
    assert NO_RUNTIME not in without.stdout + without.stderr


def test_without_sdm_apptainer_a_configured_image_needs_no_runtime(tmp_path, snakemake):
    """The directive is inert without ``--sdm apptainer`` (Snakemake only says "Singularity
    containers: ignored" in a real run, not in a dry run)."""
    result = snakemake(tmp_path, _tiny_config("tda_mci.sif"), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert NO_RUNTIME not in result.stdout + result.stderr


def test_gpu_flag_reaches_apptainer_exec_when_given_with_equals():
    """``--apptainer-args=--nv`` (not ``--apptainer-args "--nv"``, which Snakemake's parser
    refuses) ends up in the ``apptainer exec`` that Snakemake wraps each job's command in."""
    from snakemake.cli import get_argument_parser
    from snakemake.deployment.singularity import shellcmd

    parser = get_argument_parser()
    args = parser.parse_args(["--sdm", "apptainer", "--apptainer-args=--nv"])
    assert args.apptainer_args == "--nv"
    with pytest.raises(SystemExit):
        parser.parse_args(["--sdm", "apptainer", "--apptainer-args", "--nv"])
    command = shlex.split(shellcmd("tda_mci.sif", "tda-mci --help", args=args.apptainer_args,
                                   shell_executable="bash"))
    exec_at = command.index("exec")
    assert command[exec_at - 1] == "singularity" and "--nv" in command[exec_at:]
    assert command[command.index("tda_mci.sif") + 1:] == ["bash", "-c", "tda-mci --help"]
