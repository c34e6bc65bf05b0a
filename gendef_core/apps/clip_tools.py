"""`gendef render` and `gendef data clip`: clip files made from tensors that already exist."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict, cast

from gendef_core.artifacts.clip import Clip, FlowVideoRecord, VideoRecord, load_clip, update_videos
from gendef_core.artifacts.dataset import load_dataset_info, load_ground_truth
from gendef_core.artifacts.paths import check_apart
from gendef_core.clips import save_clip
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.events import Info, OnEvent, ignore
from gendef_core.render import render_flow_video, render_video


def dataset_clip(data: Path, out: Path, *, video: str = "0", flow: bool = False, overwrite: bool = False,
                 on_event: OnEvent = ignore) -> Path:
    """Write the exact (canonical, deformation) of one `clouds` video as a clip (`gendef data clip`).

    `video` is a video name, or else an index into the dataset's sorted list of videos.
    """
    check_apart(Path(out), {"data": data}, sealed=("data",))
    info = load_dataset_info(Path(data), check_files=False)
    if not info.ground_truth or not info.ground_truth.get("backward_map"):
        raise ArtifactError(f"{data} has no true backward map; only `gendef data synth --kind clouds` datasets do")
    names = [v.name for v in info.videos]
    if video in names:
        name = video
    elif video.isdigit() and int(video) < len(names):
        name = names[int(video)]
    else:
        raise ConfigError(f"{data} has no video {video!r}: give a name ({', '.join(names[:3])}, …) "
                          f"or an index 0..{len(names) - 1}")
    gt = load_ground_truth(info, name)
    assert gt.canonical is not None and gt.offsets is not None
    clip = Clip(canonical=gt.canonical, offsets=gt.offsets, fps=info.fps,
                source=f"dataset:{info.path.resolve()}#{name}")
    path = save_clip(clip, Path(out), overwrite=overwrite, flow=flow, on_event=on_event)
    on_event(Info(f"the exact clip of video {name} of {data}: {clip.num_frames} frames at {clip.height}x{clip.width}"
                  f" in {path}"))
    return path


# Functional form: the keys are file names. Only the videos rendered are present.
RenderedVideos = TypedDict("RenderedVideos", {"video.mp4": VideoRecord, "flow.mp4": FlowVideoRecord}, total=False)
"""What `render` returns: the manifest record of each video it wrote."""


def render(clip: Path, *, video: bool = True, flow: bool = False, flow_max: float | None = None, crf: int = 18,
           overwrite: bool = False, on_event: OnEvent = ignore) -> RenderedVideos:
    """Re-render a clip's `video.mp4` and/or (with `flow`) `flow.mp4` from its tensors (`gendef render`).

    A missing video (what `render` repairs) is written; an existing one is replaced only with `overwrite`.
    Returns ``{"video.mp4": {...}, "flow.mp4": {...}}`` (the videos written) as recorded in the manifest.
    """
    if not (video or flow):
        raise ConfigError("nothing to render: ask for `video` (video.mp4) and/or `flow` (flow.mp4)")
    if flow_max is not None and not flow_max > 0:
        raise ConfigError(f"`flow_max` must be a positive number of pixels, got {flow_max}")
    if not 0 <= crf <= 51:
        raise ConfigError(f"`crf` must be in 0..51, got {crf}")
    path = Path(clip)
    # A missing video is exactly what `render` repairs, so only the tensors must be intact. Nothing in
    # the clip changes unless they are; each video is written atomically, then the manifest records it.
    c = load_clip(path, require_videos=False)
    names = [name for name, wanted in (("video.mp4", video), ("flow.mp4", flow)) if wanted]
    blocked = [str(path / name) for name in names if (path / name).is_dir() or (path / name).is_symlink()]
    if blocked:
        raise ArtifactError(f"{blocked[0]} is a directory or a link, not a video; move it out of the clip, then "
                            f"render again")
    existing = [str(path / name) for name in names if (path / name).exists()]
    if existing and not overwrite:  # checked before any work
        raise ArtifactError(f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                            f"pass `overwrite` to render {'it' if len(existing) == 1 else 'them'} again")
    videos: RenderedVideos = {}
    # (casts: gendef_core.render returns these records untyped)
    if video:
        videos["video.mp4"] = cast(VideoRecord, render_video(c, path / "video.mp4", crf=crf, on_event=on_event))
    if flow:
        videos["flow.mp4"] = cast(FlowVideoRecord, render_flow_video(c, path / "flow.mp4", flow_max=flow_max, crf=crf,
                                                                     on_event=on_event))
    update_videos(path, videos)
    done = [f"video.mp4 ({videos['video.mp4']['num_frames']} frames, {c.width}x{c.height}, crf {crf})"] if video else []
    if flow:
        record = videos["flow.mp4"]
        done.append(f"flow.mp4 ({record['num_frames']} frames, full colour at {record['flow_max']:.3g} px)")
    on_event(Info(f"rendered {' and '.join(done)} in {path}"))
    return videos
