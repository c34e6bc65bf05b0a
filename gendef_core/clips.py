"""Saving a clip: the artifact (`artifacts.clip.write_clip`: tensors + manifest) together with the files
derived from it for people, canonical.png, video.mp4 and flow.mp4, and a fitted clip's source.mp4.

This sits above `gendef_core.artifacts` (which only knows tensors and JSON) and `gendef_core.render`
(which draws the videos), so that neither imports the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gendef_core.artifacts.clip import SOURCE_VIDEO, Clip, SourceVideo, write_clip
from gendef_core.artifacts.common import atomic_dir
from gendef_core.data.images import to_uint8, write_png
from gendef_core.data.video_io import write_video
from gendef_core.events import OnEvent, ignore
from gendef_core.render import render_flow_video, render_video


def save_clip(clip: Clip, path: Path, *, overwrite: bool = False, video: bool = True,
              flow: bool = False, flow_max: float | None = None, crf: int = 18,
              source_video: SourceVideo | None = None, on_event: OnEvent = ignore) -> Path:
    """Write `clip` as a clip directory (atomically); renders video.mp4 (and flow.mp4) too.

    `source_video` (fitted clips): the input frames at the fitted size, written as source.mp4 so
    that a person can compare them with video.mp4.
    """
    clip.validate(path)
    with atomic_dir(Path(path), overwrite=overwrite, what="clip") as tmp:
        write_png(tmp / "canonical.png", to_uint8(clip.canonical).numpy())
        videos: dict[str, Any] = {}
        if video:
            videos["video.mp4"] = render_video(clip, tmp / "video.mp4", crf=crf, on_event=on_event)
        if flow:
            videos["flow.mp4"] = render_flow_video(clip, tmp / "flow.mp4", flow_max=flow_max, crf=crf,
                                                   on_event=on_event)
        if source_video is not None:
            write_video(tmp / SOURCE_VIDEO, source_video.frames, fps=clip.fps, crf=crf)
        write_clip(clip, tmp, videos=videos, source_video=source_video)
    return Path(path)
