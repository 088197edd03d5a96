#!/usr/bin/env bash
# Install the tda_mci package (this checkout) into the freshly created conda environment.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python -m pip install --no-deps --no-build-isolation "$repo"
