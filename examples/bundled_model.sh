#!/usr/bin/env bash
# How the bundled model (gendef_core/bundled/clouds64) was made, with the project's own commands, on CPU.
#
#   examples/bundled_model.sh OUT
#
# 1. A procedural clouds dataset (128 videos x 64 frames, 64 px, seed 0), pre-training 30 kimg and
#    fine-tuning 20 kimg at the `small` preset (examples/train_small.sh). The shipped run used
#    OMP_NUM_THREADS=1 with the sprites run of docs/BENCHMARKS.md training at the same time on the
#    other core: pre-training 36 min, fine-tuning 28 min.
# 2. `gendef export`: the EMA generator and its config only (8.0 MB), copied into the package.
set -euo pipefail
out=${1:?output directory}
gendef=${GENDEF:-gendef}
here=$(cd "$(dirname "$0")" && pwd)

GENDEF="$gendef" "$here/train_small.sh" clouds "$out" 30 20
"$gendef" export "$out/finetune" --out "$out/clouds64" --overwrite
echo "copy $out/clouds64/* into gendef_core/bundled/clouds64/ (keep MODEL_CARD.md)"
