"""Rendering clips to MP4: frames by warping, deformation flow in Middlebury colours.

Frames are produced in chunks and streamed to the encoder, so memory does not grow with the
number of frames beyond the offsets themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gendef_core.data.images import to_uint8
from gendef_core.data.video_io import VideoWriter
from gendef_core.events import OnEvent, Progress, ignore
from gendef_core.flow import deformation_flow, flow_to_color
from gendef_core.warp import warp_chunks

if TYPE_CHECKING:
    from gendef_core.artifacts.clip import Clip

CHUNK = 32  # frames per chunk: bounds memory, large enough to amortise per-call overhead


@torch.inference_mode()
def render_video(clip: Clip, path: Path, *, crf: int = 18, on_event: OnEvent = ignore) -> dict[str, Any]:
    """Write the clip's frames (warped canonical) to `path`; returns its manifest record."""
    with VideoWriter(path, clip.fps, crf=crf) as writer:
        for chunk in warp_chunks(clip.canonical, clip.offsets, chunk=CHUNK, origin=clip.origin):
            writer.write(to_uint8(chunk))
            on_event(Progress("render video", writer.frames_written, clip.num_frames))
    return {"num_frames": writer.frames_written}


def max_flow_magnitude(offsets: torch.Tensor, canonical_size: tuple[int, int] | None = None) -> float:
    """Largest deformation-flow magnitude (pixels) over a whole video, computed chunk by chunk."""
    best = 0.0
    for start in range(0, max(offsets.shape[0] - 1, 0), CHUNK):
        f = deformation_flow(offsets[start:start + CHUNK + 1], canonical_size)
        best = max(best, float(f.norm(dim=-3).max()))
    return best


@torch.inference_mode()
def render_flow_video(clip: Clip, path: Path, *, flow_max: float | None = None, crf: int = 18,
                      on_event: OnEvent = ignore) -> dict[str, Any]:
    """Write the deformation flow of the clip (T-1 frames) in Middlebury colours.

    ``flow_max`` (pixels) fixes the colour scale; None normalises by the largest flow of this
    video so that colours are comparable across its frames. A 1-frame clip gets one white frame.
    """
    scale = flow_max if flow_max is not None else max_flow_magnitude(clip.offsets, clip.canonical_size)
    total = max(clip.num_frames - 1, 1)
    with VideoWriter(path, clip.fps, crf=crf) as writer:
        if clip.num_frames == 1:
            writer.write(torch.full((clip.height, clip.width, 3), 255, dtype=torch.uint8))
        for start in range(0, clip.num_frames - 1, CHUNK):
            flow = deformation_flow(clip.offsets[start:start + CHUNK + 1], clip.canonical_size)
            writer.write(flow_to_color(flow, scale).movedim(-3, -1))
            on_event(Progress("render flow", writer.frames_written, total))
    return {"num_frames": writer.frames_written, "flow_max": scale}


def overlay_scale(height: int, width: int, minimum: int = 256) -> int:
    """Integer upscaling that makes an overlay video's shorter side at least `minimum` pixels."""
    return max(1, -(-minimum // min(height, width)))


def point_colors(n: int) -> list[tuple[int, int, int]]:
    """`n` distinct, saturated colours (hues spread by the golden ratio), RGB 0..255."""
    import colorsys

    return [tuple(round(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.85, 1.0))  # type: ignore[misc]
            for i in range(n)]


def draw_tracks(frame: torch.Tensor, tracks: torch.Tensor, visible: torch.Tensor, t: int, *, scale: int = 1,
                trail: int = 8) -> torch.Tensor:
    """Frame t (``uint8 [H, W, 3]``) upscaled by `scale` (nearest) with the points of ``tracks [T, N, 2]``
    drawn on it: a dot per visible point in its own colour, a line through its last `trail` visible positions."""
    import numpy as np
    from PIL import Image, ImageDraw

    colors = point_colors(tracks.shape[1])
    pts = ((tracks[max(0, t - trail):t + 1].double() + 0.5) * scale).numpy()   # pixel centre j -> (j + 0.5) * s
    vis = visible[max(0, t - trail):t + 1].numpy()
    arr = frame.numpy()
    img = Image.fromarray(np.kron(arr, np.ones((scale, scale, 1), dtype=np.uint8)) if scale > 1 else arr)
    draw = ImageDraw.Draw(img)
    radius = max(2.0, scale * 0.9)
    for n in np.flatnonzero(vis[-1]):
        past = [tuple(pts[k, n]) for k in range(len(pts)) if vis[k, n]]
        if len(past) > 1:
            draw.line(past, fill=colors[n], width=max(1, scale // 3))
        x, y = pts[-1, n]
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colors[n], outline=(0, 0, 0))
    return torch.from_numpy(np.array(img))


@torch.inference_mode()
def render_tracks_video(clip: Clip, tracks: torch.Tensor, visible: torch.Tensor, path: Path, *, trail: int = 8,
                        scale: int | None = None, crf: int = 18, replace: bool = True,
                        on_event: OnEvent = ignore) -> dict[str, Any]:
    """Write the clip's frames with point tracks drawn on them (`draw_tracks`), upscaled by `scale`
    (default: to at least 256 px), tracks ``[T, N, 2]`` frame pixels, visible ``[T, N]``."""
    s = scale or overlay_scale(clip.height, clip.width)
    with VideoWriter(path, clip.fps, crf=crf, replace=replace) as writer:
        for chunk in warp_chunks(clip.canonical, clip.offsets, chunk=CHUNK, origin=clip.origin):
            for frame in to_uint8(chunk):
                writer.write(draw_tracks(frame, tracks, visible, writer.frames_written, scale=s, trail=trail))
            on_event(Progress("render tracks", writer.frames_written, clip.num_frames))
    return {"num_frames": writer.frames_written, "scale": s}


@torch.inference_mode()
def render_labels_video(clip: Clip, labels: torch.Tensor, path: Path, *, crf: int = 18,
                        replace: bool = True) -> dict[str, Any]:
    """Write the clip's frames with per-frame label maps ``int [T, H, W]`` blended in (`edit.blend_labels`)."""
    from gendef_core.edit import blend_labels

    with VideoWriter(path, clip.fps, crf=crf, replace=replace) as writer:
        for chunk in warp_chunks(clip.canonical, clip.offsets, chunk=CHUNK, origin=clip.origin):
            t0 = writer.frames_written
            writer.write(blend_labels(to_uint8(chunk), labels[t0:t0 + chunk.shape[0]]))
    return {"num_frames": writer.frames_written}
