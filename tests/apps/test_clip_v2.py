"""Every application on clip-v2 clips: a canonical larger than the frames, an origin, a visibility map.

The clips are built by hand: 12x16 frames at origin (5, 3) of a 20x28 canonical, moving by known
translations (frame pixel (j, i) of frame t shows canonical pixel (j + 5 + dx_t, i + 3 + dy_t)), with
the canonical declared not to explain a known patch of frames 1 and 3. Every expected value below is
counted by hand from that description, never read off the code under test.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gendef_core import api
from gendef_core.artifacts.clip import Clip, load_clip
from gendef_core.artifacts.edit_images import davis_palette, overlay_from_uint8
from gendef_core.clips import save_clip
from gendef_core.data.video_io import probe_video, read_video
from gendef_core.edit import composite, outside_fraction
from gendef_core.errors import ConfigError, DataError
from gendef_core.events import Warning
from gendef_core.track import track_canonical_points
from gendef_core.warp import pixels_to_offsets, sample_positions, warp

HC, WC = 20, 28
H, W = 12, 16
OX, OY = ORIGIN = (5, 3)
SHIFTS = [(0, 0), (2, -1), (-3, 2), (4, 3)]              # integer: every answer exact; all inside the canonical
OUT_SHIFTS = [(0, 0), (10, -5), (-7, 4)]                 # frames 1 and 2 reach past the canonical's edges
SUBPIXEL = [(0.0, 0.0), (1.25, -0.5), (-2.75, 1.5), (3.5, 2.25)]
PATCH = (slice(4, 8), slice(6, 10))                      # frame rows, cols the canonical does not explain ...
PATCH_FRAMES = (1, 3)                                    # ... in these frames
FIT = {"iterations": 200, "psnr": 31.5, "method": "test", "per_frame_psnr": [30.0, 31.0, 32.0, 33.0]}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


# --------------------------------------------------------------------------------------------- helpers


def translation(shifts: list) -> torch.Tensor:
    px = torch.tensor(shifts, dtype=torch.float64).view(-1, 2, 1, 1).expand(-1, 2, H, W)
    return pixels_to_offsets(px, (HC, WC)).float().contiguous()


def visibility(frames: int) -> torch.Tensor:
    vis = torch.ones(frames, H, W, dtype=torch.bool)
    for t in PATCH_FRAMES:
        if t < frames:
            vis[t][PATCH] = False
    return vis


def make_clip(path: Path, shifts: list, *, seed: int = 0, visible: bool = True, fit: bool = True) -> Path:
    canonical = torch.rand(3, HC, WC, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    clip = Clip(canonical=canonical, offsets=translation(shifts), fps=Fraction(25), source="test", origin=ORIGIN,
                visibility=visibility(len(shifts)) if visible else None, fit=FIT if fit else {})
    return save_clip(clip, path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("v2") / "clip", SHIFTS, seed=1)


@pytest.fixture(scope="module")
def out_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("out") / "clip", OUT_SHIFTS, seed=2, visible=False, fit=False)


@pytest.fixture(scope="module")
def subpixel_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("sub") / "clip", SUBPIXEL, seed=3)


def shown(shift: tuple[int, int], i: int, j: int) -> tuple[int, int] | None:
    """The canonical pixel (y, x) frame pixel (j, i) shows at an integer shift, or None outside the canonical."""
    y, x = i + OY + shift[1], j + OX + shift[0]
    return (y, x) if 0 <= y < HC and 0 <= x < WC else None


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)


def frames_of(canonical: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    return warp(canonical[None], offsets[None], origin=ORIGIN)[0]


def write_rgba(path: Path, rgba: np.ndarray) -> Path:
    Image.fromarray(rgba, mode="RGBA").save(path)
    return path


def write_palette_png(path: Path, labels: np.ndarray) -> Path:
    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette(davis_palette().tobytes())
    im.save(path)
    return path


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in sorted(Path(root).rglob("*"))}


def one_error_line(result, text: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"error: {text}"], result.stderr


def untouched_pixels(edited: torch.Tensor, offsets: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``bool [T, H, W]``: frame pixels whose bilinear footprint (canonical pixels closer than 1 px in x and y to
    the sample position m_t(j, i) = (j + ox, i + oy) + offsets_px) contains no edited canonical pixel."""
    pos = sample_positions(offsets.double(), (HC, WC), ORIGIN)
    x, y = pos[:, 0], pos[:, 1]
    touched = torch.zeros(x.shape, dtype=torch.bool)
    for dy in (-1, 0, 1, 2):
        for dx in (-1, 0, 1, 2):
            cx, cy = x.floor() + dx, y.floor() + dy
            near = ((cx - x).abs() < 1 + eps) & ((cy - y).abs() < 1 + eps)
            inb = (cx >= 0) & (cx <= WC - 1) & (cy >= 0) & (cy <= HC - 1)
            touched |= near & inb & edited[cy.clamp(0, HC - 1).long(), cx.clamp(0, WC - 1).long()]
    return ~touched


# --------------------------------------------------------------------------------------------- info


def test_info_of_a_v2_clip(run_cli, clip: Path) -> None:
    r = run_cli("info", clip)
    assert (r.exit_code, r.stderr) == (0, "")
    assert json.loads(r.stdout) == {
        "format": "gendef.clip", "path": str(clip), "num_frames": 4, "height": H, "width": W,
        "canonical_height": HC, "canonical_width": WC, "origin": [OX, OY], "has_visibility": True, "fps": "25",
        "seed": None, "checkpoint": None, "source": "test", "latents": [], "videos": ["video.mp4"],
        "fit": {"iterations": 200, "psnr": 31.5, "method": "test"}}  # the per-frame list is left out


# --------------------------------------------------------------------------------------------- track


def expected_tracks(q: np.ndarray, shifts: list, vis: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Canonical q is at frame q - origin - d_t; visible inside the frame where the nearest pixel is visible."""
    tracks = np.stack([q - np.array(ORIGIN, np.float64) - np.array(d, np.float64) for d in shifts])
    visible = np.zeros(tracks.shape[:2], dtype=bool)
    for t in range(len(shifts)):
        for n in range(len(q)):
            x, y = tracks[t, n]
            if 0 <= x <= W - 1 and 0 <= y <= H - 1:
                visible[t, n] = bool(vis[t, int(np.floor(y + 0.5)), int(np.floor(x + 0.5))])
    return tracks, visible


def test_track_canonical_points_of_a_v2_clip(clip: Path, tmp_path: Path) -> None:
    # Frame 1 shows canonical q at q - (7, 2), frame 3 at q - (9, 6). So (14.3, 8.6) is on frame 1's patch
    # (frame pixel (7, 7)); in frame 3, (17.7, 12.4) is on it (pixel (9, 6)) and (19.3, 12.4) just beside it
    # (pixel (10, 6)). (27, 19) and (0, 0) are off every frame.
    pts = [[14.3, 8.6], [13.3, 9.6], [19.3, 12.4], [17.7, 12.4], [27, 19], [0, 0], [6.2, 4.9]]
    (tmp_path / "p.json").write_text(json.dumps(pts))
    overlay = tmp_path / "t.mp4"
    doc = api.track(clip, tmp_path / "p.json", overlay=overlay)
    tracks, visible = expected_tracks(np.array(pts, np.float64), SHIFTS, visibility(4))
    assert np.abs(np.array(doc["tracks"]) - tracks).max() < 1e-3
    assert doc["visible"] == visible.tolist()
    assert not visible[1, 0] and not visible[3, 3] and visible[0, 0] and visible[3, 2]  # the patch, exactly
    assert not visible[:, 4].any() and not visible[:, 5].any() and visible[:, 6].any()
    assert (doc["height"], doc["width"], doc["canonical_points"]) == (H, W, pts)
    # The overlay video is the frame size, upscaled to a shorter side of at least 256 px: 12 * 22 = 264.
    info = probe_video(overlay)
    assert (info.width, info.height) == (W * 22, H * 22)
    assert read_video(overlay)[0].shape == (4, H * 22, W * 22, 3)


def test_tracks_are_drawn_at_x_right_y_down_on_non_square_frames() -> None:
    from gendef_core.render import draw_tracks, overlay_scale

    s = overlay_scale(H, W)
    assert s == 22  # the shorter side (12) reaches 256 px
    tracks = torch.tensor([[[13.0, 2.0]]])   # column 13, row 2 of a 12x16 frame
    out = draw_tracks(torch.zeros(H, W, 3, dtype=torch.uint8), tracks, torch.tensor([[True]]), 0, scale=s)
    assert out.shape == (H * s, W * s, 3)
    lit = out.sum(dim=-1) > 0
    rows, cols = torch.nonzero(lit, as_tuple=True)
    assert abs(float(rows.float().mean()) - 2.5 * s) < 1.5 and abs(float(cols.float().mean()) - 13.5 * s) < 1.5


def test_track_frame_points_of_a_v2_clip(clip: Path, tmp_path: Path) -> None:
    f = 2
    pts = [[3.2, 4.1], [15, 0], [7.7, 10.9]]  # frame pixels of frame 2 (within 16x12)
    (tmp_path / "p.json").write_text(json.dumps({"space": "frame", "frame": f, "points": pts}))
    doc = api.track(clip, tmp_path / "p.json")
    q = np.array(pts, np.float64) + np.array(ORIGIN) + np.array(SHIFTS[f])  # canonical = p + origin + d_f
    assert np.abs(np.array(doc["canonical_points"]) - q).max() < 1e-4
    tracks, visible = expected_tracks(q, SHIFTS, visibility(4))
    assert np.abs(np.array(doc["tracks"]) - tracks).max() < 1e-3
    assert np.abs(np.array(doc["tracks"][f]) - np.array(pts)).max() < 1e-4
    assert doc["visible"] == visible.tolist() and all(doc["visible"][f])


@pytest.mark.parametrize("points, message", [
    ([[28, 3]], "point 0 (28, 3) is outside the canonical image (28x20: x in [0, 27], y in [0, 19])"),
    ([[3, 20]], "point 0 (3, 20) is outside the canonical image (28x20"),
    ({"space": "frame", "frame": 1, "points": [[16, 3]]},
     "point 0 (16, 3) is outside the frame 1 (16x12: x in [0, 15], y in [0, 11])"),
    ({"space": "frame", "frame": 1, "points": [[3, 12]]}, "point 0 (3, 12) is outside the frame 1 (16x12"),
])
def test_points_must_lie_in_their_own_space(clip: Path, tmp_path: Path, points: object, message: str) -> None:
    (tmp_path / "p.json").write_text(json.dumps(points))
    with pytest.raises(DataError) as e:
        api.track(clip, tmp_path / "p.json")
    assert str(e.value).startswith(f"{tmp_path / 'p.json'}: {message}")


def test_canonical_points_beyond_the_frame_size_are_accepted(clip: Path, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("[[27, 19], [20.5, 13]]")  # outside a 16x12 frame, inside the canonical
    doc = api.track(clip, tmp_path / "p.json")
    assert doc["num_points"] == 2 and doc["visible"][3][1]  # frame 3: (20.5 - 9, 13 - 6) = (11.5, 7)


# --------------------------------------------------------------------------------------------- flow


def test_flow_of_a_v2_clip(clip: Path, tmp_path: Path) -> None:
    result = api.flow(clip, tmp_path / "flow")
    tensors = load_file(tmp_path / "flow" / "flow.safetensors")
    flow, valid = tensors["flow"], tensors["valid"]
    assert flow.shape == (3, 2, H, W) and (result["height"], result["width"]) == (H, W)
    vis = visibility(4)
    for t in range(3):
        dx, dy = SHIFTS[t][0] - SHIFTS[t + 1][0], SHIFTS[t][1] - SHIFTS[t + 1][1]  # frame pixels, content motion
        torch.testing.assert_close(flow[t, 0], torch.full((H, W), float(dx)), atol=1e-3, rtol=0)
        torch.testing.assert_close(flow[t, 1], torch.full((H, W), float(dy)), atol=1e-3, rtol=0)
        want = torch.zeros(H, W, dtype=torch.bool)
        for i in range(H):
            for j in range(W):
                x, y = j + dx, i + dy
                want[i, j] = 0 <= x < W and 0 <= y < H and bool(vis[t, i, j]) and bool(vis[t + 1, y, x])
        assert torch.equal(valid[t], want), t
    assert not valid[1][PATCH].any()                 # sources on frame 1's patch
    assert not valid[0][3:7, 8:12].any()             # pair (0, 1) moves by (-2, 1): these land on frame 1's patch
    assert valid[0][3:7, 12:16].all()                # ... their neighbours do not
    assert result["valid_fraction"] == pytest.approx(float(valid.float().mean()))


# --------------------------------------------------------------------------------------------- edit


def test_edit_with_a_canonical_size_scribble(subpixel_clip: Path, tmp_path: Path) -> None:
    old = load_clip(subpixel_clip)
    rgba = np.zeros((HC, WC, 4), np.uint8)
    rgba[5:9, 10:15] = (255, 0, 40, 255)    # seen by every frame
    rgba[0:3, 0:4] = (0, 255, 0, 200)       # a corner no frame shows: changes the canonical only
    summary = api.edit(subpixel_clip, tmp_path / "e", scribble=write_rgba(tmp_path / "s.png", rgba))
    new = load_clip(tmp_path / "e")
    want = composite(old.canonical, overlay_from_uint8(rgba))
    assert torch.equal(new.canonical, want)
    assert torch.equal(bits(new.offsets), bits(old.offsets))
    assert new.origin == ORIGIN and torch.equal(new.visibility, old.visibility)
    assert dict(new.fit) == {**FIT, "edited": True}
    new_frames, old_frames = frames_of(new.canonical, new.offsets), frames_of(old.canonical, old.offsets)
    assert torch.equal(new_frames, warp(want[None], old.offsets[None], origin=ORIGIN)[0])
    keep = untouched_pixels(torch.from_numpy(rgba[..., 3] > 0), old.offsets)[:, None].expand_as(new_frames)
    assert 0.5 < float(keep.float().mean()) < 0.95
    assert torch.equal(bits(new_frames)[keep], bits(old_frames)[keep])
    assert (new_frames != old_frames)[~keep].float().mean() > 0.5
    frames, _ = read_video(tmp_path / "e" / "video.mp4")
    assert frames.shape == (4, H, W, 3)
    assert summary["edited_canonical_fraction"] == round((4 * 5 + 3 * 4) / (HC * WC), 6)


def test_edit_summary_counts_outside_and_coverage_by_hand(out_clip: Path, tmp_path: Path) -> None:
    alpha = np.zeros((HC, WC), np.uint8)
    alpha[2:6, 20:27] = 255    # frame 1 shows part of it (canonical cols 15.. and rows -2..9)
    alpha[14:19, 1:4] = 255    # frame 2 shows part of it (cols -2..13, rows 7..18)
    rgba = np.zeros((HC, WC, 4), np.uint8)
    rgba[..., 3] = alpha
    summary = api.edit(out_clip, tmp_path / "e", scribble=write_rgba(tmp_path / "s.png", rgba))
    outside, coverage = [], []
    for shift in OUT_SHIFTS:
        cells = [shown(shift, i, j) for i in range(H) for j in range(W)]
        outside.append(sum(c is None for c in cells) / (H * W))
        coverage.append(sum(c is not None and alpha[c] > 0 for c in cells) / (H * W))
    assert outside[1] == (3 * H + 2 * W - 3 * 2) / (H * W) and outside[2] == 2 * H / (H * W)  # by hand
    assert coverage[1] > 0 and coverage[2] > 0
    assert summary["outside_fraction"]["per_frame"] == [round(v, 6) for v in outside]
    assert summary["edit_coverage"]["per_frame"] == [round(v, 6) for v in coverage]
    # The pure function itself: exactly the pixels mapped outside the canonical, per frame.
    got = outside_fraction(translation(OUT_SHIFTS), (HC, WC), ORIGIN)
    assert got.tolist() == torch.tensor(outside, dtype=torch.float32).tolist()


def test_frame_scribble_lands_on_the_canonical_pixels_that_frame_shows(clip: Path, tmp_path: Path) -> None:
    t = 1                                      # d = (2, -1): frame pixel (j, i) shows canonical (j + 7, i + 2)
    old = load_clip(clip)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[0:3, 1:5] = (255, 0, 0, 255)          # -> canonical rows 2:5, cols 8:12
    rgba[PATCH] = (0, 255, 0, 255)             # on the patch frame 1 does not explain: dropped
    summary = api.edit(clip, tmp_path / "e", scribble=write_rgba(tmp_path / "s.png", rgba), frame=t)
    assert (summary["kind"], summary["frame"]) == ("frame scribble", t)
    new = load_clip(tmp_path / "e")
    red = torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1)
    torch.testing.assert_close(new.canonical[:, 2:5, 8:12], red.expand(3, 3, 4), atol=1e-5, rtol=0)
    assert torch.equal(new.canonical[:, 3:4, 9:11], red.expand(3, 1, 2))  # the interior, exactly
    # Away from the red block and the green patch (one pixel of float noise around each aside), bit for bit.
    far = torch.ones(HC, WC, dtype=torch.bool)
    far[1:6, 7:13] = False                     # red block + 1 px
    far[5:11, 12:18] = False                   # where the green would have landed (rows 6:10, cols 13:17) + 1 px
    assert torch.equal(bits(new.canonical)[:, far], bits(old.canonical)[:, far])
    torch.testing.assert_close(new.canonical[:, 6:10, 13:17], old.canonical[:, 6:10, 13:17], atol=1e-5, rtol=0)
    assert 12 / (HC * WC) <= summary["edited_canonical_fraction"] <= 30 / (HC * WC)
    # Frame 1 of the edited clip shows the red block where it was drawn; frame 0 (d = 0) shows it 2 px right
    # and 1 px up: canonical cols 8:12 are frame cols 3:7, rows 2:5 frame rows -1:2.
    frames = frames_of(new.canonical, new.offsets)
    torch.testing.assert_close(frames[t][:, 0:3, 1:5], red.expand(3, 3, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(frames[0][:, 0:2, 3:7], red.expand(3, 2, 4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("case", ["frame-size scribble", "canonical-size scribble with --frame", "canonical"])
def test_size_mismatches_say_which_size_and_why(clip: Path, tmp_path: Path, case: str) -> None:
    frame_sized = write_rgba(tmp_path / "f.png", np.zeros((H, W, 4), np.uint8))
    canonical_sized = write_rgba(tmp_path / "c.png", np.zeros((HC, WC, 4), np.uint8))
    with pytest.raises(DataError) as e:
        if case == "frame-size scribble":
            api.edit(clip, tmp_path / "e", scribble=frame_sized)
        elif case == "canonical":
            api.edit(clip, tmp_path / "e", canonical=frame_sized)
        else:
            api.edit(clip, tmp_path / "e", scribble=canonical_sized, frame=2)
    expected = {
        "frame-size scribble": f"{frame_sized} is 16x12 pixels (WxH) but must be 28x20 to match the canonical of "
                               f"{clip} (draw on its canonical.png, or use `frame` T for a drawing on a frame, or "
                               f"pass `resize`)",
        "canonical": f"{frame_sized} is 16x12 pixels (WxH) but must be 28x20 to match the canonical of {clip} "
                     f"(edit its canonical.png, or pass `resize`)",
        "canonical-size scribble with --frame": f"{canonical_sized} is 28x20 pixels (WxH) but must be 16x12 to match "
                                                f"frame 2 of {clip} (draw on a frame of its video.mp4 at the frame "
                                                f"size, or drop `frame` for a drawing on the canonical, or pass "
                                                f"`resize`)"}[case]
    assert str(e.value) == expected
    assert not (tmp_path / "e").exists()


def test_size_mismatch_through_the_cli(run_cli, clip: Path, tmp_path: Path) -> None:
    m = write_palette_png(tmp_path / "m.png", np.zeros((H, W), np.uint8))
    before = tree(tmp_path)
    one_error_line(run_cli("segment", clip, "--mask", m, "--out", tmp_path / "masks"),
                   f"{m} is 16x12 pixels (WxH) but must be 28x20 to match the canonical of {clip} (draw on its "
                   f"canonical.png, or add --frame T for a mask drawn on a frame, or pass --resize)")
    assert tree(tmp_path) == before
    r = run_cli("segment", clip, "--mask", m, "--frame", "0", "--out", tmp_path / "masks")
    assert (r.exit_code, r.stdout) == (0, f"{tmp_path / 'masks'}\n"), r.stderr


# --------------------------------------------------------------------------------------------- segment


def canonical_labels() -> np.ndarray:
    lab = np.zeros((HC, WC), np.uint8)
    lab[4:10, 6:14] = 3
    lab[4:10, 14:20] = 7        # touches 3
    lab[12:18, 0:5] = 7         # only frame 2 reaches it
    lab[0:3, 22:28] = 2         # only frame 1 reaches it
    return lab


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_segment_with_a_canonical_mask(out_clip: Path, tmp_path: Path, mode: str) -> None:
    lab = canonical_labels()
    out, overlay = tmp_path / "m", tmp_path / "o.mp4"
    result = api.segment(out_clip, write_palette_png(tmp_path / "mask.png", lab), out=out, overlay=overlay, mode=mode)
    for t, shift in enumerate(OUT_SHIFTS):
        want = np.zeros((H, W), np.uint8)
        for i in range(H):
            for j in range(W):
                c = shown(shift, i, j)
                want[i, j] = lab[c] if c is not None else 0
        assert np.array_equal(np.asarray(Image.open(out / f"{t:05d}.png")), want), t
    assert (result["height"], result["width"], result["frame"], result["labels"]) == (H, W, None, [0, 2, 3, 7])
    assert result["area"]["2"][0] == 0 and result["area"]["2"][1] > 0  # the corner label enters in frame 1
    info = probe_video(overlay)
    assert (info.width, info.height) == (W, H)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_segment_with_a_mask_drawn_on_a_frame(clip: Path, tmp_path: Path, mode: str) -> None:
    f = 3                                       # d = (4, 3): frame pixel (j, i) shows canonical (j + 9, i + 6)
    drawn = np.zeros((H, W), np.uint8)
    drawn[1:6, 2:8] = 3                         # partly on the patch (rows 4:8, cols 6:10): that part is lost
    drawn[8:12, 10:16] = 5
    drawn[5:7, 7:9] = 9                         # wholly on the patch: label 9 reaches no canonical pixel
    events: list = []
    result = api.segment(clip, write_palette_png(tmp_path / "mask.png", drawn), frame=f, out=tmp_path / "m",
                         mode=mode, on_event=events.append)
    vis = visibility(4)
    canon = np.zeros((HC, WC), np.uint8)        # what frame 3 shows of the drawing, on the canonical
    for y in range(HC):
        for x in range(WC):
            j, i = x - OX - SHIFTS[f][0], y - OY - SHIFTS[f][1]
            if 0 <= j < W and 0 <= i < H and vis[f, i, j]:
                canon[y, x] = drawn[i, j]
    assert (canon == 3).sum() == 30 - 4 and (canon == 9).sum() == 0 and (canon == 5).sum() == 24
    for t, shift in enumerate(SHIFTS):
        want = np.zeros((H, W), np.uint8)
        for i in range(H):
            for j in range(W):
                c = shown(shift, i, j)
                want[i, j] = canon[c] if c is not None else 0
        got = np.asarray(Image.open(tmp_path / "m" / f"{t:05d}.png"))
        assert np.array_equal(got, want), t
    # Frame 3 itself gets the drawing back, except on its patch.
    back = drawn.copy()
    back[PATCH] = 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m" / f"{f:05d}.png")), back)
    assert (result["frame"], result["labels"]) == (f, [0, 3, 5, 9])
    assert result["area"]["9"] == [0.0] * 4
    assert [e.message for e in events if isinstance(e, Warning)] == [
        f"label 9 of {tmp_path / 'mask.png'} cover no canonical pixel that frame {f} shows; they appear in no frame"]


def test_segment_frame_out_of_range(clip: Path, tmp_path: Path) -> None:
    m = write_palette_png(tmp_path / "m.png", np.zeros((H, W), np.uint8))
    with pytest.raises(ConfigError, match=rf"`frame` must be in 0\.\.3 for {clip}, got 4"):
        api.segment(clip, m, frame=4, out=tmp_path / "masks")
    assert not (tmp_path / "masks").exists()


# --------------------------------------------------------------------------------------------- resample


def test_resample_refuses_a_fitted_clip_in_one_line(run_cli, clip: Path, tmp_path: Path) -> None:
    before = tree(clip.parent)
    one_error_line(run_cli("resample", clip, "--out", tmp_path / "re", "--device", "cpu"),
                   f"{clip} was fitted to a video (`gendef fit`) and has no latents; resample needs a clip generated "
                   f"by `gendef sample`")
    assert not (tmp_path / "re").exists() and tree(clip.parent) == before


# --------------------------------------------------------------------------------------------- v1 clips


def test_v1_fixture_still_tracks_as_before(tmp_path: Path) -> None:
    """clip_v1: m_t(j, i) = (j + t (i - 3.5)/16, i - t (j - 3.5)/24 + 0.035 t), affine, so its inverse is exact."""
    path = FIXTURES / "clip_v1"
    c = load_clip(path)
    assert (c.canonical_size, c.origin, c.visibility) == ((8, 8), (0, 0), None)
    pts = [[2.5, 3.0], [5.25, 1.5], [3.5, 6.0], [0.5, 7.0]]
    (tmp_path / "p.json").write_text(json.dumps(pts))
    doc = api.track(path, tmp_path / "p.json", out=tmp_path / "t.json")
    q = np.array(pts, np.float64)
    for t in range(3):
        a, b, k = t / 16, t / 24, 0.035 * t
        big_x, big_y = q[:, 0] - 3.5, q[:, 1] - 3.5 - k
        det = 1 + a * b
        truth = np.stack([(big_x - a * big_y) / det + 3.5, (big_y + b * big_x) / det + 3.5], -1)
        assert np.abs(np.array(doc["tracks"][t]) - truth).max() < 1e-4, t
    # The same numbers as the frame-sized geometry of clip v1 (defaults), to the last bit of the document.
    ref = track_canonical_points(c.offsets, torch.tensor(pts, dtype=torch.float64))
    assert doc["tracks"] == np.round(ref.tracks.double().numpy(), 4).tolist()
    assert doc["visible"] == ref.visible.tolist()
    assert (doc["height"], doc["width"]) == (8, 8)
