"""A tiny end-to-end fit that must recover a KNOWN map, plus refinement resume and divergence handling.

The frames are rendered with `gendef_core.warp.warp` from a known canonical at a known origin with a
known backward map (a pan plus a smooth non-rigid part that is zero on frame 0), so the fitted map can
be compared with the truth up to the placement of the canonical (one global translation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from gendef_core.data.images import from_uint8, to_uint8
from gendef_core.errors import GendefError
from gendef_core.fit.config import fit_preset
from gendef_core.fit.fitter import FitResult, fit_frames, summary
from gendef_core.fit.geometry import grid_shape
from gendef_core.fit.refine import refine
from gendef_core.warp import pixels_to_offsets, sample_positions, warp

HC, WC = 40, 48          # true canonical
H, W, T = 24, 32, 8      # frames
ORIGIN = (8, 6)          # where frame 0 sits on the true canonical
PAN = (0.7, 0.2)         # px per frame (the camera pans right and a little down)
AMP = 0.5                # px, amplitude of the non-rigid part on the last frame


@dataclass(frozen=True)
class Known:
    canonical: torch.Tensor   # [3, HC, WC]
    maps: torch.Tensor        # [T, 2, H, W] true backward maps, canonical px
    frames: np.ndarray        # uint8 [T, H, W, 3]


def _texture(seed: int) -> torch.Tensor:
    from scipy.ndimage import gaussian_filter

    n = np.random.default_rng(seed).standard_normal((3, HC, WC))
    n = np.stack([gaussian_filter(c, 1.5) for c in n])
    return torch.from_numpy(0.9 * n / np.abs(n).max()).float()


def _true_maps() -> torch.Tensor:
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    out = []
    for t in range(T):
        a = AMP * t / (T - 1)
        dx = PAN[0] * t + a * np.sin(np.pi * ys / (H - 1) + 0.2 * t)
        dy = PAN[1] * t + a * np.cos(np.pi * xs / (W - 1) + 0.2 * t)
        out.append(np.stack([xs + ORIGIN[0] + dx, ys + ORIGIN[1] + dy]))
    return torch.from_numpy(np.stack(out)).float()


def _identity(origin: tuple[int, int]) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    return torch.stack([x + origin[0], y + origin[1]])


@pytest.fixture(scope="module")
def known() -> Known:
    canonical, maps = _texture(0), _true_maps()
    offsets = pixels_to_offsets(maps - _identity(ORIGIN), (HC, WC))
    frames = to_uint8(warp(canonical[None], offsets[None], origin=ORIGIN)[0]).numpy()
    return Known(canonical, maps, frames)


@pytest.fixture(scope="module")
def fitted(known: Known) -> FitResult:
    return fit_frames(known.frames, fit_preset("fast", steps=60), seed=0)


def _fitted_maps(r: FitResult) -> torch.Tensor:
    return sample_positions(r.offsets, (int(r.canonical.shape[1]), int(r.canonical.shape[2])), r.origin)


def _placement(r: FitResult, known: Known) -> torch.Tensor:
    """The constant (x, y) shift from the true canonical to the fitted one, from frame 0's maps."""
    d = _fitted_maps(r)[0] - known.maps[0]
    return d.reshape(2, -1).median(dim=1).values


# --- the fit -------------------------------------------------------------------------------------------

def test_fit_reconstructs_the_frames(fitted: FitResult) -> None:
    assert len(fitted.psnr) == T
    assert float(np.mean(fitted.psnr)) >= 40.0, fitted.psnr   # measured 46.5 dB
    assert min(fitted.psnr) >= 35.0, fitted.psnr              # measured 40.8 dB


def test_saved_offsets_render_the_psnr_that_is_reported(fitted: FitResult, known: Known) -> None:
    recon = to_uint8(warp(fitted.canonical[None], fitted.offsets[None], origin=fitted.origin)[0]).numpy()
    mse = ((recon.astype(np.float64) - known.frames.astype(np.float64)) ** 2).reshape(T, -1).mean(1)
    psnr = 10 * np.log10(255.0**2 / mse)
    np.testing.assert_allclose(psnr, fitted.psnr, atol=0.05)


def test_fitted_map_matches_the_true_map_up_to_placement(fitted: FitResult, known: Known) -> None:
    shift = _placement(fitted, known)
    # frame 0 sits at the fitted origin: the shift is the (integer) difference of the origins
    expected = torch.tensor([fitted.origin[0] - ORIGIN[0], fitted.origin[1] - ORIGIN[1]], dtype=torch.float32)
    assert torch.allclose(shift, expected, atol=0.1), (shift, fitted.origin)
    err = (_fitted_maps(fitted) - shift.view(1, 2, 1, 1) - known.maps).norm(dim=1)   # [T, H, W] px
    assert float(err.median()) < 0.15, float(err.median())                          # measured 0.06
    assert float(err[-1].median()) < 0.2, float(err[-1].median())
    # the non-rigid part is recovered, not only the pan: a per-frame translation alone is much worse
    truth = known.maps - _identity(ORIGIN)
    rigid = (truth - truth.mean(dim=(2, 3), keepdim=True)).norm(dim=1)
    assert float(err[-1].median()) < 0.5 * float(rigid[-1].median()), (float(err[-1].median()),
                                                                      float(rigid[-1].median()))


def test_fitted_canonical_matches_the_true_one(fitted: FitResult, known: Known) -> None:
    ox, oy = fitted.origin
    got = fitted.canonical[:, oy:oy + H, ox:ox + W]
    want = known.canonical[:, ORIGIN[1]:ORIGIN[1] + H, ORIGIN[0]:ORIGIN[0] + W]
    assert float((got - want).abs().mean()) < 0.03


def test_fit_has_no_folds_and_stays_on_the_canvas(fitted: FitResult) -> None:
    assert fitted.folded == [0.0] * T
    assert fitted.outside == [0.0] * T
    assert min(fitted.visible) >= 0.95
    assert fitted.visibility.shape == (T, H, W) and fitted.visibility.dtype == torch.bool
    assert not fitted.canvas_clamped


def test_canvas_grows_to_hold_the_pan(fitted: FitResult) -> None:
    hc, wc = fitted.canonical.shape[1:]
    ox, oy = fitted.origin
    pan_x, pan_y = PAN[0] * (T - 1), PAN[1] * (T - 1)   # 4.9 and 1.4 px
    # the camera pans right and down: room on the right/bottom for the pan, on the left/top only padding
    assert wc - W - ox >= pan_x, (wc, ox)
    assert hc - H - oy >= pan_y, (hc, oy)
    assert ox <= 3 and ox < wc - W - ox
    m = _fitted_maps(fitted)
    assert float(m[-1, 0].max()) > W - 1 + ox + pan_x - 1   # the last frame really samples the grown part


def test_summary_keys_and_lengths(fitted: FitResult) -> None:
    s = summary(fitted)
    assert set(s) == {"psnr_db", "psnr_mean_db", "psnr_min_db", "outside_fraction", "outside_mean",
                      "folded_fraction", "folded_max", "visible_fraction", "canonical_size", "layer_fraction",
                      "origin", "canvas_clamped", "timings_s"}
    for key in ("psnr_db", "outside_fraction", "folded_fraction", "visible_fraction"):
        assert len(s[key]) == T, key
    assert s["psnr_mean_db"] == round(float(np.mean(fitted.psnr)), 2)
    assert s["psnr_min_db"] == round(min(fitted.psnr), 2)
    assert s["canonical_size"] == list(fitted.canonical.shape[1:])
    assert s["origin"] == list(fitted.origin)
    assert s["folded_max"] == 0.0 and s["outside_mean"] == 0.0
    assert s["layer_fraction"] == 0.0   # "fast" fits one layer
    assert set(s["timings_s"]) == {"flow_and_chaining_s", "initial_canonical_s", "refine_s"}  # + layer_s with layers


def test_same_seed_same_fit_other_seed_other_fit(known: Known) -> None:
    # 4 of 8 frames per step, so the seed really decides something
    cfg = fit_preset("fast", steps=6, frames_per_step=4)
    a = fit_frames(known.frames, cfg, seed=3)
    b = fit_frames(known.frames, cfg, seed=3)
    c = fit_frames(known.frames, cfg, seed=4)
    assert torch.equal(a.offsets, b.offsets) and torch.equal(a.canonical, b.canonical)
    assert a.psnr == b.psnr
    assert not torch.equal(a.offsets, c.offsets)


# --- refine: resume ------------------------------------------------------------------------------------

def _refine_inputs(known: Known):
    frames = from_uint8(torch.from_numpy(known.frames).permute(0, 3, 1, 2))
    base = torch.stack([_identity((4, 3)) + torch.tensor([PAN[0] * t, PAN[1] * t]).view(2, 1, 1) for t in range(T)])
    grids = torch.zeros(T, 2, *grid_shape((H, W), 8))
    canonical = torch.zeros(3, 34, 42)
    return frames, canonical, base, grids


def test_refine_resumed_from_a_checkpoint_equals_the_uninterrupted_run(known: Known, tmp_path) -> None:
    from gendef_core.artifacts.tensors import load_tensors, save_tensors

    frames, canonical, base, grids = _refine_inputs(known)
    # "default" refines the full-resolution residual too; it joins at step 4 of 12
    cfg = fit_preset("default", steps=12, frames_per_step=4, grid_spacing=8)
    snaps: dict[int, dict[str, torch.Tensor]] = {}

    def keep(s: dict[str, torch.Tensor]) -> None:
        snaps[int(s["step"])] = s

    full = refine(frames, canonical, base, grids, cfg, seed=5, checkpoint=keep, checkpoint_every=4)
    assert sorted(snaps) == [4, 8]             # never at the last step
    assert "param.residual" in snaps[8] and "adam.residual.exp_avg" in snaps[8]
    assert len(full.losses) == 12
    for k in (4, 8):
        save_tensors(tmp_path / f"s{k}.safetensors", snaps[k])  # the way `gendef fit` keeps it
        state = load_tensors(tmp_path / f"s{k}.safetensors", fix="")
        resumed = refine(frames, canonical, base, grids, cfg, seed=5, state=state)
        assert torch.equal(resumed.canonical, full.canonical), k
        assert torch.equal(resumed.grids, full.grids), k
        assert torch.equal(resumed.maps, full.maps), k
        assert resumed.losses == full.losses[k:], k


def test_refine_refuses_a_state_of_another_shape(known: Known) -> None:
    frames, canonical, base, grids = _refine_inputs(known)
    cfg = fit_preset("fast", steps=4, frames_per_step=4, grid_spacing=8)
    snaps: list[dict[str, torch.Tensor]] = []
    refine(frames, canonical, base, grids, cfg, checkpoint=snaps.append, checkpoint_every=2)
    with pytest.raises(ValueError, match="grids"):
        refine(frames, canonical, base, torch.zeros(T, 2, 3, 3), cfg, state=snaps[0])


# --- divergence ----------------------------------------------------------------------------------------

def _nan_loss(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x * float("nan")


def test_nan_photometric_loss_raises_floating_point_error(known: Known, monkeypatch) -> None:
    import gendef_core.fit.refine as refine_mod

    monkeypatch.setattr(refine_mod, "charbonnier", _nan_loss)
    frames, canonical, base, grids = _refine_inputs(known)
    with pytest.raises(FloatingPointError, match="step 1"):
        refine(frames, canonical, base, grids, fit_preset("fast", steps=5))


@pytest.fixture
def tiny_video(tmp_path, known: Known):
    from gendef_core.data.video_io import write_video

    path = tmp_path / "in.mp4"
    write_video(path, [known.frames[:6]], 25)
    return path


def _leftovers(parent) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") or p.name == "out")


def test_nan_through_the_app_is_a_one_line_fit_error(tiny_video, monkeypatch) -> None:
    import gendef_core.fit.refine as refine_mod
    from gendef_core.apps.fit import FitError, fit

    monkeypatch.setattr(refine_mod, "charbonnier", _nan_loss)
    out = tiny_video.parent / "out"
    with pytest.raises(FitError) as info:
        fit(tiny_video, out, quality="fast", size=16)
    assert isinstance(info.value, GendefError)
    msg = str(info.value)
    assert "\n" not in msg and str(tiny_video) in msg and "NaN" in msg
    assert not out.exists()
    assert not [n for n in _leftovers(tiny_video.parent) if ".partial-" in n]


def test_nan_through_the_app_leaves_no_work_dir(tiny_video, monkeypatch) -> None:
    import gendef_core.fit.refine as refine_mod
    from gendef_core.apps.fit import FitError, fit

    monkeypatch.setattr(refine_mod, "charbonnier", _nan_loss)
    out = tiny_video.parent / "out"
    with pytest.raises(FitError):
        fit(tiny_video, out, quality="fast", size=16)
    assert _leftovers(tiny_video.parent) == []
