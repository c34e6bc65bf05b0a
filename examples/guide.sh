#!/usr/bin/env bash
# README's "User guide", runnable as written: run it in an empty folder (`bash /path/to/examples/guide.sh`).
# tests/test_guide.py checks that README's guide commands are exactly these, in order, and that the output
# README shows is what they print. Tiny sizes throughout: the CPU time is mostly starting Python and torch.
set -euo pipefail

# Procedural datasets with exact ground truth
gendef data synth --kind sprites --num-videos 4 --frames 32 --resolution 64 --out data/sprites --json

# Your own videos (here the sprites videos stand in for them; the last two commands fail on purpose)
gendef data prepare data/sprites/videos --out data/prepared --resolution 16
gendef data prepare /nonexistent --out x --resolution 64 || true
gendef data prepare data/sprites/videos --out x --resolution 100 || true

# Clips
gendef data synth --kind clouds --num-videos 4 --frames 32 --resolution 64 --out data/clouds
gendef data clip data/clouds --video 0 --out clouds0   # video 000000's exact canonical + deformation
gendef render clouds0 --flow --flow-max 2.0            # write clouds0/flow.mp4 (--video: video.mp4 too)
gendef info clouds0                                    # validate any artifact and describe it (JSON)

# Training
gendef pretrain --data data/prepared --out runs/pre --preset tiny --steps 20
gendef finetune --data data/prepared --init runs/pre --out runs/ft --preset tiny --steps 20 --json

# Sampling and the applications
gendef sample --out clip --frames 64 --seed 1                        # the bundled model; prints: clip
gendef sample --ckpt runs/ft --out many --num 4 --frames 128 --json  # many/000000 ... many/000003
gendef resample clip --out clip-moved --motion-seed 7                # same canonical, new motion
python -c 'from PIL import Image, ImageDraw as D; s = Image.new("RGBA", (64, 64)); D.Draw(s).ellipse([12, 12, 36, 36], outline=(230, 20, 20, 255), width=4); s.save("scribble.png")'
python -c 'from PIL import Image, ImageDraw as D; m = Image.new("L", (64, 64)); d = D.Draw(m); d.rectangle([8, 8, 30, 40], fill=1); d.ellipse([36, 30, 60, 56], fill=2); m.save("mask.png")'
echo '[[16, 16], [40.5, 22], [60, 60]]' > pts.json
gendef edit clip --scribble scribble.png --json                      # writes clip-edited (a new clip)
gendef track clip --points pts.json --out tracks.json --overlay tracks.mp4 --format tapvid
gendef segment clip --mask mask.png --overlay seg.mp4                # writes clip-masks/00000.png ...
gendef flow clip                                                     # writes clip-flow/

# Evaluation
gendef eval --data data/clouds --fake clip --metrics motion --motion-videos 4 --motion-frames 32
python -c 'import json; from safetensors.numpy import load_file; q = load_file("data/clouds/groundtruth/000000.safetensors")["query_points"]; json.dump(q.tolist(), open("q.json", "w"))'
gendef track clouds0 --points q.json --out gt-tracks.json                 # the ground truth's query points
gendef eval-tracks gt-tracks.json --data data/clouds --video 000000       # TAP-Vid AJ, δ_avg, OA

# From Python
python - <<'EOF'
from gendef_core import api
from gendef_core.artifacts.clip import load_clip
from gendef_core.warp import warp
from gendef_core.flow import deformation_flow, flow_to_color

api.synth_dataset("clouds", "data/clouds2", num_videos=2, num_frames=32, resolution=64)
clip = load_clip(api.dataset_clip("data/clouds2", "clip2/"))
frames = warp(clip.canonical[None], clip.offsets[None])      # [1, T, 3, H, W] in [-1, 1]
flow = deformation_flow(clip.offsets)                        # [T-1, 2, H, W] pixels
colours = flow_to_color(flow)                                # [T-1, 3, H, W] uint8
EOF
