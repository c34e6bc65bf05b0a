#!/usr/bin/env bash
# The two-stage recipe on a procedural dataset, at the `small` preset (64 px), on CPU.
#
#   examples/train_small.sh KIND OUT [PRETRAIN_KIMG] [FINETUNE_KIMG]
#
# KIND is sprites or clouds. Writes OUT/data, OUT/pretrain and OUT/finetune (run directories with
# checkpoints, events.jsonl and snapshots/). The figures in docs/BENCHMARKS.md came from
#   OMP_NUM_THREADS=1 examples/train_small.sh sprites runs/sprites 30 20   (and the same for clouds),
# both running at once on a 2-core CPU. PRESET, RESOLUTION, VIDEOS and FRAMES override the preset and
# the dataset size (the test suite runs this script with PRESET=tiny RESOLUTION=16 VIDEOS=2 FRAMES=8);
# FT_SETS adds fine-tuning options, split on spaces (e.g. FT_SETS="--set discriminator.motion_branch=true").
set -euo pipefail
kind=${1:?sprites or clouds}
out=${2:?output directory}
pre_kimg=${3:-30}
ft_kimg=${4:-20}
gendef=${GENDEF:-gendef}
preset=${PRESET:-small}

"$gendef" data synth --kind "$kind" --num-videos "${VIDEOS:-128}" --frames "${FRAMES:-64}" \
    --resolution "${RESOLUTION:-64}" --seed 0 --out "$out/data" --overwrite
"$gendef" pretrain --data "$out/data" --out "$out/pretrain" --preset "$preset" --kimg "$pre_kimg" \
    --set log_every=50
read -ra ft_sets <<< "${FT_SETS:-}"
"$gendef" finetune --data "$out/data" --init "$out/pretrain" --out "$out/finetune" --preset "$preset" \
    --kimg "$ft_kimg" --set log_every=20 --set snapshot_every=100 --set save_every=100 "${ft_sets[@]}"
