#!/usr/bin/env bash
# The motion ablation of issue 14 (docs/MOTION.md): why does the generator learn so little motion?
# One pre-training is fine-tuned several times, each run changing one setting, with the same budget;
# then the motion metric (net displacement, docs/EVALUATION.md) scores each run's EMA and raw weights.
#
#   examples/motion_ablation.sh DATA PRETRAIN OUT [FT_KIMG=10] [VARIANT ...]
#
# Runs resume where they stopped (`--resume`), so the script can be re-run across sessions; JOBS=2 runs
# two fine-tunings at once, one thread each (on 2 cores the fastest way to do several). EVAL_VIDEOS
# (default 128) x EVAL_FRAMES (32) per evaluation; PRESET (small). The table: python benchmarks/motion_table.py OUT.
set -euo pipefail
data=${1:?dataset}
pre=${2:?pre-training run}
out=${3:?output directory}
kimg=${4:-10}
shift $(( $# < 4 ? $# : 4 ))
gendef=${GENDEF:-gendef}
jobs=${JOBS:-2}
videos=${EVAL_VIDEOS:-128}
frames=${EVAL_FRAMES:-32}
preset=${PRESET:-small}

sky="--set model.motion_min_period=256 --set model.motion_distance=256"
branchsky="--set discriminator.motion_branch=true $sky"
anchor="--set model.anchor_first_frame=true"
declare -A SETS=(
  [default]=""
  [concat]="--set discriminator.fuse=concat"
  [noreg]="--set loss.reg_weight=0"
  [span16]="--set max_span=16"
  [r1low]="--set loss.r1_gamma=0.05"
  [xavier]="--set model.deform_init=xavier"
  [dev]="--set discriminator.deviation_input=true"
  [sky]="$sky"
  [skydev]="$sky --set discriminator.deviation_input=true"
  [ema05]="--set ema_kimg=0.5"
  [anchor]="$anchor"
  [branch]="--set discriminator.motion_branch=true"
  [branchanchor]="--set discriminator.motion_branch=true $anchor"
  [branchsky]="$branchsky"
  [branchskyfold]="$branchsky --set loss.fold_weight=10"
  [branchskyanchor]="$branchsky $anchor"
  [branchskyanchorfold]="$branchsky $anchor --set loss.fold_weight=10"
  [branchskytfold]="$branchsky --set loss.fold_weight=10 --set loss.fold_temporal=true"
)
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(default concat noreg span16 r1low xavier)

one() {
  local name=$1 run=$out/$1
  local resume=()
  [ -d "$run/checkpoints" ] && resume=(--resume)
  # shellcheck disable=SC2086  # SETS holds option lists
  OMP_NUM_THREADS=1 "$gendef" finetune --data "$data" --init "$pre" --out "$run" --preset "$preset" --kimg "$kimg" \
      --set log_every=20 --set snapshot_every=0 --set save_every=100 ${SETS[$name]} "${resume[@]}" -q
  for w in ema raw; do
    local flag=()
    [ "$w" = raw ] && flag=(--raw-weights)
    [ -s "$run/motion-$w.json" ] && continue
    OMP_NUM_THREADS=1 "$gendef" eval --data "$data" --ckpt "$run" --metrics motion --motion-videos "$videos" \
        --motion-frames "$frames" --seed 0 "${flag[@]}" --json -q > "$run/.motion-$w.json.tmp"
    mv "$run/.motion-$w.json.tmp" "$run/motion-$w.json"
  done
  echo "done: $name" >&2
}

mkdir -p "$out"
running=0
for v in "${variants[@]}"; do
  [ -n "${SETS[$v]+x}" ] || { echo "unknown variant $v (one of ${!SETS[*]})" >&2; exit 2; }
  one "$v" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
echo "python benchmarks/motion_table.py $out" >&2
