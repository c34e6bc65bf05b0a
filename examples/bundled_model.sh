#!/usr/bin/env bash
# How the bundled models (gendef_core/bundled/clouds64, sprites64) were made and measured, with the project's
# own commands, on CPU.
#
#   [KIND=clouds] [FT_SETS="--set ..."] examples/bundled_model.sh OUT [PRE_KIMG=40] [FT_KIMG=10]
#
# 1. A procedural KIND dataset (128 videos x 64 frames, 64 px, seed 0), pre-training 40 kimg and
#    fine-tuning 10 kimg at the `small` preset (examples/train_small.sh); on 2 CPU cores
#    pre-training took 25 min, fine-tuning 6.5 min. (0.4.0 shipped a 30 + 20 split, which lost to the
#    baseline on FID; see the model card.)
#    KIND (clouds or sprites) picks the data, FT_SETS adds fine-tuning options (docs/MOTION.md) to the
#    fine-tuning and to the baseline's training alike.
# 2. `gendef export`: the EMA generator and its config only (8.0 MB), copied into the package as KIND64
#    (KIND16 etc. at another RESOLUTION).
# 3. The quality bar: the direct-frame baseline trained from scratch on the same data for the same
#    budget (PRE_KIMG + FT_KIMG thousand frames; 31.5 min on 2 cores), then `gendef eval` of both
#    with the same N, seeds and real windows (OUT/eval-gendef.json, OUT/eval-baseline.json). EVAL_ARGS
#    sets the sample sizes (the model card's numbers: the default below, 8 + 5 min; the second model
#    reuses the cached real statistics).
#    SKIP_BASELINE=1 stops after step 2.
set -euo pipefail
out=${1:?output directory}
pre_kimg=${2:-40}
ft_kimg=${3:-10}
gendef=${GENDEF:-gendef}
preset=${PRESET:-small}
here=$(cd "$(dirname "$0")" && pwd)
eval_args=${EVAL_ARGS:---num-videos 128 --num-frames-fid 512 --num-real-fid 1024 --runs 2}

kind=${KIND:-clouds}
export_name=$kind${RESOLUTION:-64}
read -ra ft_sets <<< "${FT_SETS:-}"

GENDEF="$gendef" "$here/train_small.sh" "$kind" "$out" "$pre_kimg" "$ft_kimg"
"$gendef" export "$out/finetune" --out "$out/$export_name" --overwrite
echo "copy $out/$export_name/* into gendef_core/bundled/$export_name/ (keep MODEL_CARD.md)" >&2
[ "${SKIP_BASELINE:-0}" = 1 ] && exit 0

total_kimg=$(awk "BEGIN { print $pre_kimg + $ft_kimg }")
"$gendef" finetune --data "$out/data" --out "$out/baseline" --preset "$preset" --from-scratch --variant direct \
    --kimg "$total_kimg" --set log_every=20 --set snapshot_every=100 --set save_every=100 "${ft_sets[@]}"
for model in finetune baseline; do
    name=$([ "$model" = finetune ] && echo gendef || echo baseline)
    # shellcheck disable=SC2086  # EVAL_ARGS is a list of options
    "$gendef" eval --data "$out/data" --ckpt "$out/$model" --metrics fvd16,fid,motion $eval_args --seed 0 \
        --json > "$out/.eval-$name.json.tmp"
    mv "$out/.eval-$name.json.tmp" "$out/eval-$name.json"  # no half-written report if eval fails
done
echo "wrote $out/eval-gendef.json and $out/eval-baseline.json" >&2
