#!/usr/bin/env bash
# Install the tda_mci package into the freshly created conda environment.
# Snakemake runs a copy of this script from .snakemake/conda/ (or --conda-prefix), so the
# workflow's folder cannot be derived from the script's own path: the Snakefile exports it as
# TDA_MCI_WORKFLOW_DIR, which Snakemake passes on to this script.
set -euo pipefail
repo="${TDA_MCI_WORKFLOW_DIR:-}"
if [ -z "$repo" ] || [ ! -f "$repo/pyproject.toml" ]; then
    echo "tda_mci post-deploy: TDA_MCI_WORKFLOW_DIR ('$repo') is not the tda_mci workflow" \
         "folder (it is set by the Snakefile; run this script through snakemake --sdm conda)" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation "$repo"
# ComBat (classification.harmonize: combat): neuroHarmonize without its declared numpy<2 and
# pandas<3 caps (see requirements-nodeps.lock); statsmodels comes from the environment file.
python -m pip install --no-deps -r "$repo/requirements-nodeps.lock"
