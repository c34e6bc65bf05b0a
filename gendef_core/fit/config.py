"""How hard `gendef fit` works: one frozen config per quality preset."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Quality = Literal["fast", "default", "best"]
QUALITIES: tuple[Quality, ...] = ("fast", "default", "best")


@dataclass(frozen=True)
class FitConfig:
    """Settings of one fit. Distances are frame pixels unless a field says otherwise."""

    quality: Quality = "default"
    """The preset these values came from (informational)."""
    flow_preset: Literal["ultrafast", "fast", "medium"] = "medium"
    """OpenCV DIS optical-flow preset for the initialisation (ultrafast ~15x faster than medium)."""
    fb_tolerance: float = 1.0
    """Forward-backward flow consistency: a pixel whose round trip misses by more (px) is unreliable."""
    grid_spacing: int = 8
    """Spacing of the per-frame control grid of the non-rigid deformation (px); smaller is finer."""
    margin: int | None = None
    """Canvas margin (px on every side) around the frames' union; None = sized from the global motion."""
    max_canvas: float = 4.0
    """The canonical's area is at most this many frame areas (a runaway global motion is clamped)."""
    steps: int = 120
    """Gradient steps of the refinement per 64 frames (longer shots get proportionally more, `steps_for`)."""
    frames_per_step: int = 16
    """Frames in each refinement step (a random subset; all frames when the shot is shorter)."""
    lr_canonical: float = 0.02
    """Adam learning rate of the canonical image (values in [-1, 1])."""
    lr_grid: float = 0.1
    """Adam learning rate of the control grids (px)."""
    residual: bool = True
    """Also refine a full-resolution residual offset per frame (sharper boundaries, slower)."""
    layers: bool = True
    """Give moving content that the single-layer fit cannot explain its own region of the canvas and refit
    (a second stage, kept only when it reconstructs better)."""
    lr_residual: float = 0.05
    """Adam learning rate of the full-resolution residual (px)."""
    smooth_weight: float = 0.02
    """Weight of the spatial smoothness of the control grids (per px² of second difference)."""
    temporal_weight: float = 0.01
    """Weight of the temporal smoothness of the deformation (per px² between neighbouring frames)."""
    fold_weight: float = 1.0
    """Weight of the fold penalty (Jacobian determinant of the map below `fold_floor`)."""
    fold_floor: float = 0.2
    """Jacobian determinants below this are penalised; at or below 0 a pixel is folded."""
    charbonnier_eps: float = 1e-3
    """Charbonnier epsilon of the photometric loss (values in [-1, 1])."""
    visibility_threshold: float = 12.0
    """A frame pixel whose reconstruction error (8-bit levels, 3x3 mean) exceeds this is not visible."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def steps_for(self, num_frames: int) -> int:
        """Refinement steps for a shot of `num_frames`: every frame is drawn about as often as in 64 frames."""
        return max(self.steps, math.ceil(self.steps * num_frames / 64))


_PRESETS: dict[Quality, dict[str, Any]] = {
    "fast": {"flow_preset": "ultrafast", "grid_spacing": 16, "steps": 30, "frames_per_step": 8, "residual": False,
             "layers": False},
    "default": {},
    "best": {"grid_spacing": 6, "steps": 300},
}


def fit_preset(quality: str, **overrides: Any) -> FitConfig:
    """The config of a quality preset, with explicit overrides (None values are ignored)."""
    from gendef_core.errors import ConfigError

    if quality not in QUALITIES:
        raise ConfigError(f"`quality` must be one of {', '.join(QUALITIES)}, got {quality!r}")
    cfg = replace(FitConfig(quality=quality), **_PRESETS[quality])
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
