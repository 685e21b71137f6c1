#!/usr/bin/env bash
# Fit every model to the three measured data sets in data/devices; writes FIT.txt (the report), FIT.nc
# (xarray dataset), FIT.toml (best model, for `xbarsim train --device FIT.toml`) and FIT.png here.
# Run from the repository root: bash benchmarks/device_fits/run.sh   (about 2 min on 2 cores)
# Uses $PYTHON, else the project's .venv (make test creates it), else python3. A report is replaced only
# when its fit succeeded.
set -euo pipefail
out=benchmarks/device_fits
py=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
fit() { "$py" -m xbarsim.device_cli devices fit "$2" --out "$out/$1.nc" --toml "$out/$1.toml" --png "$out/$1.png" \
        > "$out/$1.txt.tmp" && mv "$out/$1.txt.tmp" "$out/$1.txt"; }
fit gong2018_hfo2_reram data/devices/aihwkit_gong2018_HfO2_ReRAM/gong_et_al.csv
fit crosssim_raw_pulse data/devices/crosssim_raw_pulse_example
fit crosssim_enode data/devices/crosssim_ENODe
