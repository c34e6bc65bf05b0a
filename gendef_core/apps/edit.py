"""`gendef edit` and `gendef segment`: appearance edits and masks drawn once, carried to every frame.

Sizes: an edit or mask drawn on the canonical is at the canonical's size Hc x Wc (as its
canonical.png); one drawn on frame T (`frame=T`) is at the frame size H x W and is pulled into the
canonical by inverting frame T's map for every canonical pixel. For generated clips the two sizes
are the same; the canonical of a clip fitted to a video (`gendef fit`) may be larger than its frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import torch
from torch import Tensor

from gendef_core.artifacts.clip import Clip, load_clip
from gendef_core.artifacts.common import atomic_dir, prepare_output_dir, prepare_output_file
from gendef_core.artifacts.edit_images import read_canonical_image, read_label_mask, read_overlay, write_label_png
from gendef_core.artifacts.masks import MasksManifest, mask_name, write_masks_manifest
from gendef_core.artifacts.paths import check_apart
from gendef_core.clips import save_clip
from gendef_core.edit import composite, edit_coverage, outside_fraction, propagate_labels
from gendef_core.errors import ConfigError
from gendef_core.events import Info, OnEvent, Progress, Warning, ignore

OUTSIDE_WARNING = 0.05  # warn when more than this fraction of frame pixels samples outside the canonical


def beside(path: Path, suffix: str) -> Path:
    """``<path><suffix>`` next to `path`, spelled as `path` is (a relative path stays relative)."""
    if path.name in ("", ".", ".."):  # "." or "a/..": the directory's own name is needed
        path = path.resolve()
    return path.with_name(f"{path.name}{suffix}")


class FrameStats(TypedDict):
    """A per-frame fraction, with its mean and max over frames (rounded to 1e-6)."""

    mean: float
    max: float
    per_frame: list[float]


# Functional form: "from" is a Python keyword.
EditReport = TypedDict("EditReport", {
    "clip": str,                         # the new clip
    "from": str,                         # the edited clip
    "kind": str,                         # "canonical", "scribble" or "frame scribble"
    "frame": int | None,                 # the frame a scribble was drawn on
    "edited_canonical_fraction": float,  # of canonical pixels
    "outside_fraction": FrameStats,      # of frame pixels that sample outside the canonical
    "edit_coverage": FrameStats,         # of frame pixels that show the edit
})
"""What `edit` returns."""


class SegmentReport(MasksManifest):
    """What `segment` returns: the masks manifest, where the masks are and the overlay video (if any)."""

    path: str
    overlay: str | None


def _stats(per_frame: Tensor) -> FrameStats:
    return {"mean": round(float(per_frame.mean()), 6), "max": round(float(per_frame.max()), 6),
            "per_frame": [round(float(v), 6) for v in per_frame]}


def _check_frame(frame: int | None, c: Clip, clip: Path) -> None:
    if frame is not None and not 0 <= frame < c.num_frames:
        raise ConfigError(f"`frame` must be in 0..{c.num_frames - 1} for {clip}, got {frame}")


def _canonical_target(clip: Path) -> str:
    return f"the canonical of {clip}"


def _frame_target(clip: Path, frame: int) -> str:
    return f"frame {frame} of {clip}"


_FRAME_HINT = ("draw on a frame of its video.mp4 at the frame size, or drop `frame` for a drawing on the canonical, "
               "or pass `resize`")


def _pull_overlay(overlay: Tensor, c: Clip, frame: int) -> Tensor:
    """An RGBA overlay ``[4, H, W]`` drawn on one frame -> the same overlay on the canonical ``[4, Hc, Wc]``
    (premultiplied while resampled; transparent where frame `frame` does not show the canonical)."""
    from gendef_core.track import pull_to_canonical

    premultiplied = torch.cat([overlay[:3] * overlay[3:], overlay[3:]])
    pulled, valid = pull_to_canonical(premultiplied, c.offsets[frame], canonical_size=c.canonical_size,
                                      origin=c.origin, visibility=None if c.visibility is None else c.visibility[frame])
    alpha = pulled[3:].clamp(0, 1)
    rgb = torch.where(alpha > 0, pulled[:3] / alpha.clamp(min=1e-12), torch.zeros_like(pulled[:3])).clamp(-1, 1)
    return torch.cat([rgb, alpha * valid])


def _pull_labels(labels: Tensor, c: Clip, frame: int) -> Tensor:
    """A label map ``int64 [H, W]`` drawn on one frame -> ``int64 [Hc, Wc]`` on the canonical (nearest label;
    0 where frame `frame` does not show the canonical pixel)."""
    from gendef_core.track import pull_to_canonical

    pulled, _ = pull_to_canonical(labels[None].float(), c.offsets[frame], canonical_size=c.canonical_size,
                                  origin=c.origin, visibility=None if c.visibility is None else c.visibility[frame],
                                  mode="nearest")
    return pulled[0].round().long()  # pull_to_canonical zeroes the pixels frame `frame` does not show


def edit(clip: Path, out: Path | None = None, *, scribble: Path | None = None, canonical: Path | None = None,
         frame: int | None = None, resize: bool = False, flow: bool = False, overwrite: bool = False,
         on_event: OnEvent = ignore) -> EditReport:
    """Edit a clip's canonical image and write the result as a NEW clip (`gendef edit`).

    Exactly one of: `scribble`, an RGBA overlay at the canonical's size (Hc x Wc), alpha-composited onto
    it (with `frame`, the overlay is drawn on that frame, at the frame size H x W, and mapped into the
    canonical through the deformation first); or `canonical`, an image at the canonical's size that
    replaces the canonical wholesale. `resize` resizes the image to the size it must have. The
    deformation is unchanged, so the edit moves with the content in every frame. `out` defaults to
    ``<CLIP>-edited``. Returns a summary with, per frame, the fraction of pixels that sample outside
    the canonical (no edit can reach them) and the fraction that shows the edit.
    """
    if (scribble is None) == (canonical is None):
        raise ConfigError("give exactly one of `scribble` overlay.png and `canonical` edited.png")
    if frame is not None and scribble is None:
        raise ConfigError("`frame` goes with `scribble` (an overlay drawn on that frame)")
    clip = Path(clip)
    out = Path(out) if out is not None else beside(clip, "-edited")
    check_apart(out, {"clip": clip, "scribble": scribble, "canonical": canonical}, sealed=("clip",))
    prepare_output_dir(out, overwrite=overwrite, what="clip")
    c = load_clip(clip, require_videos=False)
    _check_frame(frame, c, clip)
    if canonical is not None:
        new = read_canonical_image(Path(canonical), c.canonical_size, resize=resize, target=_canonical_target(clip),
                                   hint="edit its canonical.png, or pass `resize`")
        changed = (new != c.canonical).any(dim=0).float()
        kind = "canonical"
    elif frame is None:
        overlay = read_overlay(Path(scribble), c.canonical_size, resize=resize,  # type: ignore[arg-type]
                               target=_canonical_target(clip),
                               hint="draw on its canonical.png, or use `frame` T for a drawing on a frame, "
                                    "or pass `resize`")
        new = composite(c.canonical, overlay)
        changed = overlay[3]
        kind = "scribble"
    else:
        drawn = read_overlay(Path(scribble), (c.height, c.width), resize=resize,  # type: ignore[arg-type]
                             target=_frame_target(clip, frame), hint=_FRAME_HINT)
        overlay = _pull_overlay(drawn, c, frame)
        new = composite(c.canonical, overlay)
        changed = overlay[3]
        kind = "frame scribble"
    # The deformation, the frames' place on the canonical, what the canonical explains and how it was fitted
    # are the source clip's: only the canonical changes.
    edited = Clip(canonical=new, offsets=c.offsets, fps=c.fps, seed=c.seed, checkpoint=c.checkpoint,
                  source="edit", latents=c.latents, sampling=c.sampling, origin=c.origin, visibility=c.visibility,
                  fit={**c.fit, "edited": True} if c.fit else {})  # the report describes the clip before the edit
    save_clip(edited, out, overwrite=overwrite, flow=flow, on_event=on_event)
    outside = outside_fraction(c.offsets, c.canonical_size, c.origin)
    if float(outside.mean()) > OUTSIDE_WARNING:
        on_event(Warning(f"{float(outside.mean()) * 100:.1f}% of frame pixels (mean over frames) sample outside the "
                         f"canonical image; no edit reaches them"))
    coverage = _stats(edit_coverage(changed, c.offsets, origin=c.origin))
    on_event(Info(f"{kind} edit of {float((changed > 0).float().mean()) * 100:.1f}% of the canonical, carried to "
                  f"{c.num_frames} frames (shown on {coverage['mean'] * 100:.1f}% of frame pixels on average)"))
    return {"clip": str(out), "from": str(clip), "kind": kind, "frame": frame,
            "edited_canonical_fraction": round(float((changed > 0).float().mean()), 6),
            "outside_fraction": _stats(outside), "edit_coverage": coverage}


def segment(clip: Path, mask: Path, *, frame: int | None = None, out: Path | None = None,
            overlay: Path | None = None, mode: str = "bilinear", resize: bool = False, overwrite: bool = False,
            on_event: OnEvent = ignore) -> SegmentReport:
    """Propagate a label mask drawn on the canonical (at its size, Hc x Wc) to every frame (`gendef segment`).

    With `frame`, the mask is drawn on that frame instead (at the frame size, H x W, e.g. over a frame
    of the clip's video): each canonical pixel takes the label of the frame pixel that shows it (nearest),
    and canonical pixels frame `frame` does not show are background (0); that canonical mask is then
    propagated. `resize` resizes the mask to the size it must have (nearest).

    Writes ``OUT/00000.png`` ... (DAVIS: 8-bit palette PNGs whose values are object ids, 0 =
    background) and ``OUT/manifest.json``; with `overlay`, an MP4 of the frames with the masks
    blended in. `mode` "bilinear" warps one-hot masks and takes the argmax, "nearest" warps the label
    map with nearest sampling; both only ever output labels of the input. `out` defaults to
    ``<CLIP>-masks``. Returns the manifest (with the per-frame area of every label).
    """
    from gendef_core.render import render_labels_video

    if mode not in ("bilinear", "nearest"):
        raise ConfigError(f"`mode` must be bilinear or nearest, got {mode!r}")
    clip = Path(clip)
    out = Path(out) if out is not None else beside(clip, "-masks")
    check_apart(out, {"clip": clip, "mask": mask}, sealed=("clip",))
    if overlay is not None:
        check_apart(Path(overlay), {"clip": clip, "mask": mask, "out": out}, out_name="overlay")
    prepare_output_dir(out, overwrite=overwrite, what="mask directory")
    if overlay is not None:
        prepare_output_file(Path(overlay), overwrite=overwrite)
    c = load_clip(clip, require_videos=False)
    _check_frame(frame, c, clip)
    if frame is None:
        labels = read_label_mask(Path(mask), c.canonical_size, resize=resize, target=_canonical_target(clip),
                                 hint="draw on its canonical.png, or add `frame` T for a mask drawn on a frame, "
                                      "or pass `resize`")
    else:
        labels = read_label_mask(Path(mask), (c.height, c.width), resize=resize, target=_frame_target(clip, frame),
                                 hint=_FRAME_HINT)
    ids = sorted(int(v) for v in labels.unique())
    if ids == [0]:
        on_event(Warning(f"{mask} has no object pixels (all background)"))
    if frame is not None:
        labels = _pull_labels(labels, c, frame)
        lost = sorted(set(ids) - {int(v) for v in labels.unique()})
        if lost:
            on_event(Warning(f"label{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))} of {mask} cover no "
                             f"canonical pixel that frame {frame} shows; they appear in no frame"))
    frames = propagate_labels(labels, c.offsets, mode=mode, origin=c.origin)  # type: ignore[arg-type]
    if overlay is not None:  # first: if it fails, nothing else has been written
        render_labels_video(c, frames, Path(overlay), replace=overwrite)
    try:
        with atomic_dir(out, overwrite=overwrite, what="mask directory") as tmp:
            for t in range(c.num_frames):
                write_label_png(tmp / mask_name(t), frames[t])
                on_event(Progress("segment", t + 1, c.num_frames))
            manifest = write_masks_manifest(tmp, clip=str(clip), mask=str(mask), frame=frame, mode=mode,
                                            labels=frames, ids=ids)
    except BaseException:
        if overlay is not None:
            Path(overlay).unlink(missing_ok=True)
        raise
    objects = [i for i in ids if i != 0]
    on_event(Info(f"{len(objects)} object{'' if len(objects) == 1 else 's'} carried to {c.num_frames} frame masks "
                  f"({mode})"))
    return {**manifest, "path": str(out), "overlay": str(overlay) if overlay is not None else None}
