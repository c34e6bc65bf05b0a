"""`gendef edit` / `segment` / `track` / `flow` through the api (gendef_core.apps.edit, .track): values, not shapes.

Clips are built by hand (`Clip` + `save_clip`): integer translations, whose every answer can be
counted by hand, and a smooth sub-pixel field, where bilinear footprints matter.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gendef_core import api
from gendef_core.artifacts.clip import Clip, load_clip, read_clip_manifest
from gendef_core.artifacts.common import file_record
from gendef_core.artifacts.edit_images import davis_palette, overlay_from_uint8
from gendef_core.clips import save_clip
from gendef_core.data.images import from_uint8, to_uint8
from gendef_core.data.video_io import probe_video, read_video
from gendef_core.edit import composite, propagate_labels
from gendef_core.errors import DataError
from gendef_core.events import Warning
from gendef_core.warp import pixels_to_offsets, sample_positions, warp

H = W = 16
# Frame t samples the canonical displaced by SHIFTS[t] = (dx, dy) canonical pixels: frame pixel (j, i)
# shows canonical pixel (j + dx, i + dy).
SHIFTS = [(0, 0), (2, 0), (-1, 3), (3, -2)]


# --------------------------------------------------------------------------------------------- helpers


def translation_offsets(shifts: list[tuple[int, int]], size: tuple[int, int] = (H, W)) -> torch.Tensor:
    h, w = size
    px = torch.tensor(shifts, dtype=torch.float32).view(-1, 2, 1, 1).expand(-1, 2, h, w)
    return pixels_to_offsets(px, size).contiguous()


def smooth_offsets(t: int, amp_px: float, seed: int) -> torch.Tensor:
    """Smooth random sub-pixel offsets ``[T, 2, H, W]`` of up to about `amp_px` pixels; frame 0 is the identity."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(t, 2, 3, 3, generator=g) * amp_px
    coarse[0] = 0
    px = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)
    return pixels_to_offsets(px, (H, W)).contiguous()


def make_clip(path: Path, offsets: torch.Tensor, seed: int = 0) -> Path:
    g = torch.Generator().manual_seed(seed)
    canonical = torch.rand(3, H, W, generator=g) * 2 - 1
    return save_clip(Clip(canonical=canonical, offsets=offsets, fps=Fraction(25), seed=seed, source="test"), path)


def tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def no_partials(parent: Path) -> None:
    leftovers = [p.name for p in parent.rglob("*") if ".partial-" in p.name or ".old-" in p.name]
    assert not leftovers, leftovers


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def frames_of(canonical: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    return warp(canonical[None], offsets[None])[0]  # [T, 3, H, W]


def write_rgba(path: Path, rgba: np.ndarray) -> Path:
    Image.fromarray(rgba, mode="RGBA").save(path)
    return path


def untouched_pixels(edited: torch.Tensor, offsets: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``bool [T, H, W]``: frame pixels whose bilinear footprint (every canonical pixel closer than 1 px in
    x and in y to the sample position, with `eps` slack) contains no edited canonical pixel."""
    hc, wc = edited.shape
    pos = sample_positions(offsets.double(), (hc, wc))  # [T, 2, H, W]
    x, y = pos[:, 0], pos[:, 1]
    touched = torch.zeros(x.shape, dtype=torch.bool)
    for dy in (-1, 0, 1, 2):
        for dx in (-1, 0, 1, 2):
            cx, cy = x.floor() + dx, y.floor() + dy
            near = ((cx - x).abs() < 1 + eps) & ((cy - y).abs() < 1 + eps)
            inb = (cx >= 0) & (cx <= wc - 1) & (cy >= 0) & (cy <= hc - 1)
            hit = edited[cy.clamp(0, hc - 1).long(), cx.clamp(0, wc - 1).long()]
            touched |= near & inb & hit
    return ~touched


def hand_outside(shift: tuple[int, int]) -> float:
    dx, dy = shift
    return 1 - (W - abs(dx)) * (H - abs(dy)) / (H * W)


def hand_coverage(alpha: np.ndarray, shift: tuple[int, int]) -> float:
    """Frame pixels (j, i) whose canonical pixel (j + dx, i + dy) exists and has alpha > 0, counted one by one."""
    dx, dy = shift
    n = 0
    for i in range(H):
        for j in range(W):
            x, y = j + dx, i + dy
            if 0 <= x < W and 0 <= y < H and alpha[y, x] > 0:
                n += 1
    return n / (H * W)


def stats(values: list[float]) -> dict:
    v = torch.tensor(values, dtype=torch.float32)
    return {"mean": round(float(v.mean()), 6), "max": round(float(v.max()), 6),
            "per_frame": [round(float(x), 6) for x in v]}


@pytest.fixture(scope="module")
def shift_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("shift") / "clip", translation_offsets(SHIFTS), seed=1)


@pytest.fixture(scope="module")
def smooth_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("smooth") / "clip", smooth_offsets(4, 1.5, seed=2), seed=2)


def test_translation_clip_is_exact() -> None:
    """The premise of the hand counts below: integer translations warp exactly (no bilinear leakage)."""
    off = translation_offsets(SHIFTS)
    canonical = torch.arange(H * W, dtype=torch.float32).view(1, H, W)
    frames = frames_of(canonical, off)[:, 0]
    for t, (dx, dy) in enumerate(SHIFTS):
        want = torch.zeros(H, W)
        for i in range(H):
            for j in range(W):
                if 0 <= j + dx < W and 0 <= i + dy < H:
                    want[i, j] = canonical[0, i + dy, j + dx]
        assert torch.equal(frames[t], want), t


# --------------------------------------------------------------------------------------------- edit --scribble


def test_scribble_edit_values(smooth_clip: Path, tmp_path: Path) -> None:
    old = load_clip(smooth_clip)
    before = tree(smooth_clip)
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)  # the rgb of transparent pixels must not matter
    rgba[..., 3] = 0
    rgba[4:8, 4:9] = (255, 0, 40, 255)                       # an opaque block
    rgba[11, 2:14, 3] = 100                                  # a translucent stripe
    scribble = write_rgba(tmp_path / "scribble.png", rgba)

    summary = api.edit(smooth_clip, scribble=scribble)
    out = smooth_clip.with_name("clip-edited")
    assert summary["clip"] == str(out) and summary["from"] == str(smooth_clip)
    assert (summary["kind"], summary["frame"]) == ("scribble", None)
    new = load_clip(out)

    # The canonical is exactly the composite; the deformation is untouched, bit for bit.
    want = composite(old.canonical, overlay_from_uint8(rgba))
    assert torch.equal(new.canonical, want)
    a = torch.from_numpy(rgba[..., 3].astype(np.float32) / 255)
    rgb = torch.from_numpy(rgba[..., :3].astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
    assert torch.equal(bits(new.canonical)[:, a == 0], bits(old.canonical)[:, a == 0])
    assert torch.equal(new.canonical[:, a == 1], rgb[:, a == 1])
    c11, rgb11 = old.canonical[:, 11, 2:14], rgb[:, 11, 2:14]
    torch.testing.assert_close(new.canonical[:, 11, 2:14], c11 + (100 / 255) * (rgb11 - c11))
    assert torch.equal(bits(new.offsets), bits(old.offsets))
    assert (new.fps, new.seed, new.source) == (old.fps, old.seed, "edit")

    # Its frames are the edited canonical warped; frames whose footprint misses the edit are unchanged.
    new_frames = frames_of(new.canonical, new.offsets)
    old_frames = frames_of(old.canonical, old.offsets)
    assert torch.equal(new_frames, frames_of(want, old.offsets))
    keep = untouched_pixels(a > 0, old.offsets)[:, None].expand_as(new_frames)
    assert 0.3 < float(keep.float().mean()) < 0.95
    assert torch.equal(bits(new_frames)[keep], bits(old_frames)[keep])
    assert (new_frames != old_frames)[~keep].float().mean() > 0.5
    frames, _ = read_video(out / "video.mp4")
    assert frames.shape == (4, H, W, 3)

    # Never edited in place; nothing half-written beside the output.
    assert tree(smooth_clip) == before
    no_partials(smooth_clip.parent)
    assert sorted(p.name for p in smooth_clip.parent.iterdir()) == ["clip", "clip-edited"]
    assert summary["edited_canonical_fraction"] == round((5 * 4 + 12) / (H * W), 6)


def test_scribble_summary_by_hand(shift_clip: Path, tmp_path: Path) -> None:
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[10:14, 0:4] = (0, 255, 0, 255)   # near the left edge: cut off in frames that shift right
    rgba[1, 14:16] = (0, 0, 255, 30)      # near the top-right corner, barely opaque: still an edit
    events: list = []
    summary = api.edit(shift_clip, tmp_path / "e", scribble=write_rgba(tmp_path / "s.png", rgba),
                       on_event=events.append)
    assert summary["outside_fraction"] == stats([hand_outside(s) for s in SHIFTS])
    assert summary["outside_fraction"]["per_frame"][1] == 2 / 16  # 2 px of 16 leave the canonical
    assert summary["edit_coverage"] == stats([hand_coverage(rgba[..., 3], s) for s in SHIFTS])
    assert summary["edit_coverage"]["per_frame"][0] == round(18 / 256, 6)
    assert summary["edited_canonical_fraction"] == round(18 / 256, 6)
    mean_outside = np.mean([hand_outside(s) for s in SHIFTS])
    warnings = [e.message for e in events if isinstance(e, Warning)]
    assert warnings == [f"{mean_outside * 100:.1f}% of frame pixels (mean over frames) sample outside the canonical "
                        f"image; no edit reaches them"]


def test_scribble_needs_no_warning_when_nothing_leaves(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "still", translation_offsets([(0, 0), (0, 0)]))
    events: list = []
    s = api.edit(clip, scribble=write_rgba(tmp_path / "s.png", np.zeros((H, W, 4), np.uint8)), on_event=events.append)
    assert s["outside_fraction"] == stats([0.0, 0.0]) and s["edit_coverage"] == stats([0.0, 0.0])
    assert not [e for e in events if isinstance(e, Warning)]
    assert torch.equal(bits(load_clip(Path(s["clip"])).canonical), bits(load_clip(clip).canonical))


# --------------------------------------------------------------------------------------------- edit --frame


def test_frame_scribble_lands_at_the_shifted_place(shift_clip: Path, tmp_path: Path) -> None:
    t = 3
    dx, dy = SHIFTS[t]                          # (3, -2): frame pixel (j, i) shows canonical (j + 3, i - 2)
    old = load_clip(shift_clip)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[6:10, 4:8] = (255, 0, 0, 255)          # visible: canonical rows 4:8, cols 7:11
    rgba[6:10, 13:16] = (0, 255, 0, 255)        # j + 3 >= 16: nothing of the canonical is shown here
    rgba[0:2, 0:3] = (0, 0, 255, 255)           # i - 2 < 0: nor here
    summary = api.edit(shift_clip, tmp_path / "e", scribble=write_rgba(tmp_path / "s.png", rgba), frame=t)
    assert (summary["kind"], summary["frame"]) == ("frame scribble", t)
    new = load_clip(tmp_path / "e")
    red = torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1)

    # In the canonical: the red block at the shifted place (exact inside, within float noise on its rim).
    block = (slice(6 + dy, 10 + dy), slice(4 + dx, 8 + dx))
    assert (block[0], block[1]) == (slice(4, 8), slice(7, 11))
    assert torch.equal(new.canonical[:, 5:7, 8:10], red.expand(3, 2, 2))
    torch.testing.assert_close(new.canonical[:, block[0], block[1]], red.expand(3, 4, 4), atol=1e-5, rtol=0)
    # Everywhere else (one pixel of float noise around the block aside) the canonical is unchanged: the
    # green and blue pixels, drawn where no canonical content is visible, are dropped.
    rim = torch.zeros(H, W, dtype=torch.bool)
    rim[3:9, 6:12] = True
    torch.testing.assert_close(new.canonical[:, ~rim], old.canonical[:, ~rim], atol=1e-5, rtol=0)
    far = torch.ones(H, W, dtype=torch.bool)
    far[3:9, 6:12] = False
    far[:, 14:] = False  # within a pixel of the dropped green: float noise allowed
    assert torch.equal(bits(new.canonical)[:, far], bits(old.canonical)[:, far])
    assert (new.canonical - old.canonical).abs().amax(dim=0)[~rim].max() < 1e-5

    # Frame t of the edited clip shows the red block where it was drawn; the invisible parts stay empty.
    frame = frames_of(new.canonical, new.offsets)[t]
    old_frame = frames_of(old.canonical, old.offsets)[t]
    assert torch.equal(frame[:, 7:9, 5:7], red.expand(3, 2, 2))
    torch.testing.assert_close(frame[:, 6:10, 4:8], red.expand(3, 4, 4), atol=1e-5, rtol=0)
    assert torch.equal(frame[:, :, 13:], old_frame[:, :, 13:]) and torch.equal(frame[:, :, 13:], torch.zeros(3, H, 3))
    assert torch.equal(frame[:, :2], torch.zeros(3, 2, W))
    # ... and it moves with the content: frame 1 (shift (2, 0)) shows it at canonical cols 7:11 - 2.
    torch.testing.assert_close(frames_of(new.canonical, new.offsets)[1][:, 4:8, 5:9], red.expand(3, 4, 4),
                               atol=1e-5, rtol=0)


def test_frame_scribble_edited_fraction_counts_only_the_visible_block(shift_clip: Path, tmp_path: Path) -> None:
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[6:10, 4:8] = (255, 0, 0, 255)
    rgba[6:10, 13:16] = (0, 255, 0, 255)
    summary = api.edit(shift_clip, tmp_path / "e", scribble=write_rgba(tmp_path / "s.png", rgba), frame=3)
    # 16 canonical pixels got the red block (a few more may get float-noise alpha at its rim).
    assert 16 / 256 <= summary["edited_canonical_fraction"] <= (6 * 6) / 256


# --------------------------------------------------------------------------------------------- edit --canonical


def test_canonical_replacement(shift_clip: Path, tmp_path: Path) -> None:
    old = load_clip(shift_clip)
    target = torch.rand(3, H, W, generator=torch.Generator().manual_seed(5)) * 2 - 1
    arr = to_uint8(target).numpy()
    arr[0, 0] = to_uint8(old.canonical[:, :1, :1])[0, 0]  # one pixel kept as it was (up to quantisation)
    png = tmp_path / "edited.png"
    Image.fromarray(arr).save(png)
    summary = api.edit(shift_clip, tmp_path / "e", canonical=png)
    new = load_clip(tmp_path / "e")
    assert torch.equal(new.canonical, from_uint8(arr).permute(2, 0, 1))          # the PNG, bit for bit
    assert (new.canonical[:, 1:] - target[:, 1:]).abs().max() <= 1 / 127.5 + 1e-6  # 8-bit quantisation only
    assert torch.equal(bits(new.offsets), bits(old.offsets))
    changed = (new.canonical != old.canonical).any(dim=0)
    assert summary["kind"] == "canonical"
    assert summary["edited_canonical_fraction"] == round(float(changed.float().mean()), 6)
    assert summary["edit_coverage"] == stats([hand_coverage(changed.numpy().astype(np.float32), s) for s in SHIFTS])


def test_canonical_of_the_wrong_size(shift_clip: Path, tmp_path: Path) -> None:
    arr = np.random.default_rng(1).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    png = tmp_path / "big.png"
    Image.fromarray(arr).save(png)
    with pytest.raises(DataError) as e:
        api.edit(shift_clip, tmp_path / "e", canonical=png)
    msg = str(e.value)
    assert msg == (f"{png} is 20x12 pixels (WxH) but must be 16x16 to match the canonical of {shift_clip} (edit its "
                   f"canonical.png, or pass `resize`)")
    assert not (tmp_path / "e").exists()
    no_partials(tmp_path)

    api.edit(shift_clip, tmp_path / "e", canonical=png, resize=True)
    want = np.asarray(Image.fromarray(arr).resize((W, H), Image.Resampling.LANCZOS))
    assert torch.equal(load_clip(tmp_path / "e").canonical, from_uint8(np.array(want)).permute(2, 0, 1))


def test_scribble_resize(shift_clip: Path, tmp_path: Path) -> None:
    rgba = np.zeros((2 * H, 2 * W, 4), np.uint8)
    rgba[8:16, 8:16] = (255, 255, 255, 255)
    s = write_rgba(tmp_path / "s.png", rgba)
    with pytest.raises(DataError, match=r"must be 16x16 to match the canonical of .* or pass `resize`\)"):
        api.edit(shift_clip, tmp_path / "e", scribble=s)
    api.edit(shift_clip, tmp_path / "e", scribble=s, resize=True)
    new = load_clip(tmp_path / "e")
    assert torch.equal(new.canonical[:, 5:7, 5:7], torch.ones(3, 2, 2))  # the block, now at half the size
    assert torch.equal(new.canonical[:, 10:, :], load_clip(shift_clip).canonical[:, 10:, :])


# --------------------------------------------------------------------------------------------- segment


def label_mask() -> np.ndarray:
    """Labels {0, 3, 7} with 3 and 7 touching (so bilinear blends of 3 and 7 would show up as 5)."""
    lab = np.zeros((H, W), np.uint8)
    lab[3:9, 2:8] = 3
    lab[3:9, 8:13] = 7
    lab[11:14, 5:10] = 7
    return lab


def write_palette_png(path: Path, labels: np.ndarray) -> Path:
    im = Image.fromarray(labels, mode="P")
    im.putpalette(davis_palette().tobytes())
    im.save(path)
    return path


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_segment_values(smooth_clip: Path, tmp_path: Path, mode: str) -> None:
    c = load_clip(smooth_clip)
    labels = label_mask()
    mask = write_palette_png(tmp_path / "mask.png", labels)
    out, overlay = tmp_path / "masks", tmp_path / "overlay.mp4"
    result = api.segment(smooth_clip, mask, out=out, overlay=overlay, mode=mode)
    want = propagate_labels(torch.from_numpy(labels.astype(np.int64)), c.offsets, mode=mode)  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == [f"{t:05d}.png" for t in range(4)] + ["manifest.json"]
    for t in range(4):
        with Image.open(out / f"{t:05d}.png") as im:
            assert im.mode == "P"
            assert im.getpalette()[:3 * 8] == davis_palette()[:8].ravel().tolist()
            got = np.asarray(im).astype(np.int64)
        assert np.array_equal(got, want[t].numpy()), t
        assert set(np.unique(got).tolist()) <= {0, 3, 7}
    assert np.array_equal(np.asarray(Image.open(out / "00000.png")), labels)  # frame 0 is the identity
    # The field moves things: the frames really differ from the mask.
    assert any(not np.array_equal(want[t].numpy(), labels) for t in range(1, 4))

    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: manifest[k] for k in ("format", "mode", "num_frames", "height", "width", "labels")} == {
        "format": "gendef.masks", "mode": mode, "num_frames": 4, "height": H, "width": W, "labels": [0, 3, 7]}
    assert manifest["area"] == {str(i): [round(int((want[t] == i).sum()) / (H * W), 6) for t in range(4)]
                                for i in (0, 3, 7)}
    assert result["path"] == str(out) and result["overlay"] == str(overlay)
    assert {k: v for k, v in result.items() if k not in ("path", "overlay")} == manifest
    assert api.describe(out) == {"format": "gendef.masks", "path": str(out), "clip": manifest["clip"],
                                 "num_frames": 4, "height": H, "width": W, "labels": [0, 3, 7], "frame": None,
                                 "mode": mode}
    info = probe_video(overlay)
    assert (info.width, info.height) == (W, H)
    assert read_video(overlay)[0].shape[0] == 4
    no_partials(tmp_path)


def test_segment_modes_differ_and_binary_bilinear_is_a_half_threshold(smooth_clip: Path, tmp_path: Path) -> None:
    c = load_clip(smooth_clip)
    binary = np.zeros((H, W), np.uint8)
    binary[4:12, 3:11] = 255
    Image.fromarray(binary, mode="L").save(tmp_path / "bin.png")
    res = api.segment(smooth_clip, tmp_path / "bin.png", out=tmp_path / "b", mode="bilinear")
    warped = warp(torch.from_numpy(binary > 0).float()[None, None], c.offsets[None])[0, :, 0]
    for t in range(4):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "b" / f"{t:05d}.png")), (warped[t] > 0.5).numpy())
    assert res["labels"] == [0, 1]
    api.segment(smooth_clip, tmp_path / "bin.png", out=tmp_path / "n", mode="nearest")
    assert any(not np.array_equal(np.asarray(Image.open(tmp_path / "b" / f"{t:05d}.png")),
                                  np.asarray(Image.open(tmp_path / "n" / f"{t:05d}.png"))) for t in range(4))


def test_segment_default_out_on_translation(tmp_path: Path) -> None:
    labels = label_mask()
    clip = make_clip(tmp_path / "c", translation_offsets(SHIFTS))
    result = api.segment(clip, write_palette_png(tmp_path / "m.png", labels))
    out = tmp_path / "c-masks"
    assert result["path"] == str(out) and result["overlay"] is None
    for t, (dx, dy) in enumerate(SHIFTS):  # exact for integer shifts, by hand
        want = np.zeros((H, W), np.uint8)
        for i in range(H):
            for j in range(W):
                if 0 <= j + dx < W and 0 <= i + dy < H:
                    want[i, j] = labels[i + dy, j + dx]
        assert np.array_equal(np.asarray(Image.open(out / f"{t:05d}.png")), want), t


# --------------------------------------------------------------------------------------------- track


TRACK_SHIFTS = [(2, 0), (-1, 3), (3, -2), (1, 1)]  # no identity frame: a point can be invisible throughout


@pytest.fixture(scope="module")
def track_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("track") / "clip", translation_offsets(TRACK_SHIFTS), seed=3)


def expected_tracks(frame_points: np.ndarray, shifts: list[tuple[int, int]], d0: tuple[int, int] = (0, 0)
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Canonical q = p + d0; in frame t it is at q - d_t, visible inside [0, W-1] x [0, H-1]."""
    q = frame_points + np.array(d0, np.float64)
    tracks = np.stack([q - np.array(d, np.float64) for d in shifts])  # [T, N, 2]
    visible = (tracks[..., 0] >= 0) & (tracks[..., 0] <= W - 1) & (tracks[..., 1] >= 0) & (tracks[..., 1] <= H - 1)
    return tracks, visible


def test_track_canonical_points(track_clip: Path, tmp_path: Path) -> None:
    pts = [[5, 5], [1, 7], [14.5, 3.25], [0.5, 0], [15, 15]]
    (tmp_path / "p.json").write_text(json.dumps(pts))
    out, overlay = tmp_path / "t.json", tmp_path / "t.mp4"
    doc = api.track(track_clip, tmp_path / "p.json", out=out, overlay=overlay, formats=("tapvid", "cotracker"))
    tracks, visible = expected_tracks(np.array(pts, np.float64), TRACK_SHIFTS)
    assert visible[:, 3].sum() == 0 and visible[:, 0].all() and 0 < visible.sum() < visible.size

    assert json.loads(out.read_text()) == doc
    assert {k: doc[k] for k in ("format", "clip", "num_frames", "num_points", "height", "width", "space",
                                "query_frame", "tolerance")} == {
        "format": "gendef.tracks", "clip": str(track_clip), "num_frames": 4, "num_points": 5, "height": H,
        "width": W, "space": "canonical", "query_frame": None, "tolerance": 0.5}
    assert doc["queries"] == pts and doc["canonical_points"] == pts
    assert np.array(doc["tracks"]).shape == (4, 5, 2)
    assert doc["tracks"] == np.round(tracks, 4).tolist()
    assert doc["visible"] == visible.tolist()
    assert np.abs(np.array(doc["residual"])).max() < 1e-5

    # TAP-Vid: query_points (t, y, x) at each point's first visible frame (0 if never visible).
    first = np.where(visible.any(0), visible.argmax(0), 0)
    assert first.tolist() == [0, 1, 0, 0, 0]
    at_query = tracks[first, np.arange(5)]
    tap = np.load(tmp_path / "t.tapvid.npz")
    assert sorted(tap.files) == ["occluded", "query_points", "tracks"]
    np.testing.assert_allclose(tap["query_points"], np.stack([first, at_query[:, 1], at_query[:, 0]], -1), atol=1e-5)
    np.testing.assert_allclose(tap["tracks"], tracks.transpose(1, 0, 2), atol=1e-5)
    assert tap["tracks"].shape == (5, 4, 2) and tap["query_points"].shape == (5, 3)
    assert tap["occluded"].dtype == bool and np.array_equal(tap["occluded"], ~visible.T)
    # CoTracker: queries [1, N, 3] (t, x, y), pred_tracks [1, T, N, 2], pred_visibility [1, T, N].
    co = np.load(tmp_path / "t.cotracker.npz")
    assert sorted(co.files) == ["pred_tracks", "pred_visibility", "queries"]
    assert co["queries"].shape == (1, 5, 3) and co["pred_tracks"].shape == (1, 4, 5, 2)
    np.testing.assert_allclose(co["queries"][0], np.stack([first, at_query[:, 0], at_query[:, 1]], -1), atol=1e-5)
    np.testing.assert_allclose(co["pred_tracks"][0], tracks, atol=1e-5)
    assert co["pred_visibility"].dtype == bool and np.array_equal(co["pred_visibility"][0], visible)

    info = probe_video(overlay)
    assert read_video(overlay)[0].shape[0] == 4
    assert (info.width, info.height) == (W * 16, H * 16)  # upscaled to >= 256 px
    no_partials(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "t.cotracker.npz", "t.json", "t.mp4",
                                                          "t.tapvid.npz"]


def test_track_frame_points(track_clip: Path, tmp_path: Path) -> None:
    f = 2
    pts = [[4, 6], [10.5, 12], [0, 0]]
    (tmp_path / "p.json").write_text(json.dumps({"space": "frame", "frame": f, "points": pts}))
    doc = api.track(track_clip, tmp_path / "p.json", formats=("tapvid",), npz=tmp_path / "q.npz")
    tracks, visible = expected_tracks(np.array(pts, np.float64), TRACK_SHIFTS, d0=TRACK_SHIFTS[f])
    assert (doc["space"], doc["query_frame"], doc["queries"]) == ("frame", f, pts)
    assert doc["canonical_points"] == (np.array(pts) + np.array(TRACK_SHIFTS[f])).tolist()
    assert doc["tracks"] == np.round(tracks, 4).tolist()
    assert doc["tracks"][f] == pts
    assert doc["visible"] == visible.tolist() and all(doc["visible"][f])
    tap = np.load(tmp_path / "q.npz")
    np.testing.assert_allclose(tap["query_points"], [[f, y, x] for x, y in pts], atol=1e-5)
    assert np.array_equal(tap["occluded"], ~visible.T)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "q.npz"]


def test_track_through_a_smooth_field_round_trips(smooth_clip: Path, tmp_path: Path) -> None:
    """On a sub-pixel field, every visible track maps back onto its canonical point (m_t(track) = q)."""
    from gendef_core.track import frame_to_canonical

    c = load_clip(smooth_clip)
    pts = [[3.5, 4.25], [8, 8], [12, 2.75]]
    (tmp_path / "p.json").write_text(json.dumps(pts))
    doc = api.track(smooth_clip, tmp_path / "p.json")
    tracks = torch.tensor(doc["tracks"], dtype=torch.float64)
    assert all(all(v) for v in doc["visible"])
    for t in range(4):
        back = frame_to_canonical(c.offsets[t], tracks[t])
        torch.testing.assert_close(back, torch.tensor(pts, dtype=torch.float64), atol=2e-3, rtol=0)
    assert doc["tracks"][0] == pts  # frame 0 is the identity


# --------------------------------------------------------------------------------------------- flow


def test_flow_of_a_translation_clip(shift_clip: Path) -> None:
    result = api.flow(shift_clip)
    out = shift_clip.with_name("clip-flow")
    assert result["path"] == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["flow.mp4", "flow.safetensors", "manifest.json"]
    arrays = load_file(str(out / "flow.safetensors"))
    f, valid = arrays["flow"], arrays["valid"]
    assert f.dtype == torch.float32 and valid.dtype == torch.bool
    assert f.shape == (3, 2, H, W) and valid.shape == (3, H, W)
    ys, xs = np.mgrid[0:H, 0:W]
    want_valid = []
    for t in range(3):
        # Content at frame-t pixel p is canonical p + d_t, which frame t+1 shows at p + d_t - d_{t+1}.
        u = np.subtract(SHIFTS[t], SHIFTS[t + 1]).astype(np.float32)
        torch.testing.assert_close(f[t], torch.from_numpy(u).view(2, 1, 1).expand(2, H, W), atol=1e-5, rtol=0)
        x1, y1 = xs + u[0], ys + u[1]
        v = (x1 >= 0) & (x1 <= W - 1) & (y1 >= 0) & (y1 <= H - 1)
        assert np.array_equal(valid[t].numpy(), v), t
        want_valid.append(v)
    # e.g. frames 0 -> 1 move content 2 px left: the two leftmost columns leave the frame.
    assert valid[0, :, :2].sum() == 0 and bool(valid[0, :, 2:].all())

    manifest = json.loads((out / "manifest.json").read_text())
    assert result == {**manifest, "path": str(out)}
    mags = [np.hypot(*np.subtract(SHIFTS[t], SHIFTS[t + 1])) for t in range(3)]
    mag_valid = np.concatenate([np.full(int(v.sum()), m) for v, m in zip(want_valid, mags, strict=True)])
    assert {k: manifest[k] for k in ("format", "clip", "num_frames", "height", "width", "fps")} == {
        "format": "gendef.flow", "clip": str(shift_clip), "num_frames": 3, "height": H, "width": W, "fps": [25, 1]}
    assert manifest["valid_fraction"] == pytest.approx(np.mean(want_valid), abs=1e-9)
    assert manifest["mean_magnitude"] == pytest.approx(mag_valid.mean(), abs=1e-5)
    assert manifest["flow_max"] == pytest.approx(max(mags), abs=1e-5)
    assert manifest["files"] == {"flow.safetensors": file_record(out / "flow.safetensors")}
    assert api.describe(out) == {"format": "gendef.flow", "path": str(out), "clip": str(shift_clip), "num_frames": 3,
                                 "height": H, "width": W, "flow_max": manifest["flow_max"],
                                 "valid_fraction": manifest["valid_fraction"],
                                 "mean_magnitude": manifest["mean_magnitude"]}
    assert manifest["videos"] == {"flow.mp4": {"num_frames": 3}}
    assert read_video(out / "flow.mp4")[0].shape == (3, H, W, 3)
    assert read_clip_manifest(shift_clip)["num_frames"] == 4  # the clip itself is untouched
    no_partials(shift_clip.parent)
