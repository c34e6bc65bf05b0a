"""Training by value (issue 13): which real frames a batch holds, what the EMA copies, and the weights
of the lazy R1 and smoothness terms in a training step, each against a hand-computed answer.

Datasets here are pixel-coded: every pixel of frame t of video v is (v, t, 200), so a batch says
exactly which frames it holds. Training steps run the real `Phases` with the tiny generator and
stub discriminators whose gradients are known in closed form; an optimiser stub records the
gradients each `step()` would apply, instead of applying them.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from gendef_core import api
from gendef_core.artifacts.checkpoint import load_checkpoint
from gendef_core.config import TrainConfig, preset
from gendef_core.data.datasets import VideoFrames, load_video_frames, seeded_generator
from gendef_core.training import losses
from gendef_core.training.batches import fake_times, real_batch
from gendef_core.training.ema import update_ema
from gendef_core.training.steps import Phases
from tests.conftest import coded_dataset

BLUE = 200  # every pixel's blue value: tells a real frame from a zero-filled one


def _coded_dataset(root: Path, lengths: list[int], r: int = 4) -> Path:
    """A dataset whose frame t of video v is the constant colour (v, t, BLUE)."""
    return coded_dataset(root, lengths, r, blue=BLUE)


def _codes(frames: Tensor) -> Tensor:
    """Frames ``[..., 3, R, R]`` in [-1, 1] -> their uint8 colour codes ``[..., 3, R, R]`` (exactly)."""
    codes = (frames + 1) * 127.5
    assert torch.allclose(codes, codes.round(), atol=1e-4), "frames are not from_uint8 of uint8 pixels"
    return codes.round().long()


LENGTHS = [7, 12, 20, 9]


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory) -> VideoFrames:
    return load_video_frames(_coded_dataset(tmp_path_factory.mktemp("coded") / "d", LENGTHS))


# ---- real batches -------------------------------------------------------------------------------------------------


def test_real_clips_hold_the_frames_at_the_returned_times(coded: VideoFrames) -> None:
    g = seeded_generator(0)
    videos_seen, times_seen, spans = set(), set(), set()
    for _ in range(40):
        real, times = real_batch(coded, 8, 3, 8, g)
        assert real.shape == (8, 3, 3, 4, 4) and real.dtype == torch.float32
        assert times.shape == (8, 3) and times.dtype == torch.float32
        codes = _codes(real)
        assert bool((codes == codes[..., :1, :1]).all())                     # constant frames, as written
        assert bool((codes[:, :, 2] == BLUE).all())
        video, frame = codes[:, :, 0, 0, 0], codes[:, :, 1, 0, 0]            # [B, K]
        assert torch.equal(video, video[:, :1].expand(-1, 3))                # one video per clip
        assert torch.equal(frame, times.long())                              # the frames are those at `times`
        assert bool((times[:, 1:] > times[:, :-1]).all())
        lengths = torch.tensor(LENGTHS)[video[:, 0]]
        assert bool((times[:, -1] < lengths).all())                          # inside that clip's video
        videos_seen |= set(video[:, 0].tolist())
        times_seen |= set(frame.flatten().tolist())
        spans |= set((times[:, -1] - times[:, 0]).long().tolist())
    assert videos_seen == set(range(len(LENGTHS)))                           # every video is drawn
    assert spans == {2, 4, 8}                                                # StyleGAN-V powers of two <= max_span
    assert max(times_seen) >= 10                                             # late frames too, not only frame 0


def test_pretraining_batches_draw_every_frame_of_every_video(coded: VideoFrames) -> None:
    g = seeded_generator(1)
    seen: set[tuple[int, int]] = set()
    for _ in range(30):
        real, times = real_batch(coded, 16, 1, 8, g)
        assert real.shape == (16, 1, 3, 4, 4) and torch.equal(times, torch.zeros(16, 1))
        codes = _codes(real)[:, 0, :, 0, 0]
        assert bool((codes[:, 2] == BLUE).all())
        seen |= {(int(v), int(t)) for v, t, _ in codes}
    assert seen == {(v, t) for v, n in enumerate(LENGTHS) for t in range(n)}   # 48 frames, 480 draws


def test_fake_times_differ_between_clips_and_follow_the_sampling() -> None:
    times = fake_times(16, 100, 3, 16, seeded_generator(2))
    assert times.shape == (16, 3) and times.dtype == torch.float32
    assert bool((times[:, 1:] > times[:, :-1]).all()) and bool((times >= 0).all() & (times <= 99).all())
    assert set((times[:, 2] - times[:, 0]).long().tolist()) <= {2, 4, 8, 16}
    assert len({tuple(t) for t in times.tolist()}) == 16                      # every clip its own times


# ---- EMA ----------------------------------------------------------------------------------------------------------


class _WithBuffers(nn.Module):
    def __init__(self, fill: float) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 3)
        self.register_buffer("w_avg", torch.full((3,), fill))
        self.register_buffer("steps", torch.tensor(int(fill)))  # an integer buffer too
        with torch.no_grad():
            self.lin.weight.fill_(fill)
            self.lin.bias.fill_(-fill)


def test_update_ema_copies_buffers_exactly_and_averages_parameters() -> None:
    ema, model = _WithBuffers(0.0), _WithBuffers(4.0)
    with torch.no_grad():
        model.w_avg.copy_(torch.tensor([0.1, -2.0, 7.5]))
    update_ema(ema, model, beta=0.75)
    assert torch.equal(ema.w_avg, torch.tensor([0.1, -2.0, 7.5]))   # copied, not averaged (StyleGAN's G_ema)
    assert torch.equal(ema.steps, torch.tensor(4))
    torch.testing.assert_close(ema.lin.weight, torch.full((3, 2), 1.0))  # 0.75 * 0 + 0.25 * 4
    torch.testing.assert_close(ema.lin.bias, torch.full((3,), -1.0))
    update_ema(ema, model, beta=0.5)
    torch.testing.assert_close(ema.lin.weight, torch.full((3, 2), 2.5))  # 0.5 * 1 + 0.5 * 4
    assert torch.equal(ema.w_avg, model.w_avg)


def test_a_pretraining_run_saves_the_trained_w_avg_in_the_ema(tmp_path: Path) -> None:
    # The upstream bug the EMA documents: G_ema's w_avg stayed zero, so truncated sampling collapsed.
    data = tmp_path / "clouds"
    api.synth_dataset("clouds", data, num_videos=2, num_frames=4, resolution=16, seed=0)
    run = api.pretrain(data, tmp_path / "pre", api.resolve_train_config("pretrain", preset="tiny", steps=2)).run_dir
    ck = load_checkpoint(run)
    raw, ema = ck.load_network("canonical")["mapping.w_avg"], ck.load_network("canonical_ema")["mapping.w_avg"]
    assert float(raw.abs().max()) > 1e-4                           # two G steps moved it off zero
    assert torch.equal(ema, raw)


# ---- losses by hand -----------------------------------------------------------------------------------------------


def test_edge_aware_weights_in_y_hand_computed() -> None:
    # Field rows 0, 1, 3 (y-gradients 1, 2); an image edge of mean height 4 (over channels) between rows 1 and 2.
    field = torch.tensor([[0.0], [1.0], [3.0]]).expand(3, 2)[None, None]          # [1, 1, 3, 2]
    step = torch.tensor([[0.0], [0.0], [1.0]]).expand(3, 2)                        # 0 on rows 0-1, 1 on row 2
    image = torch.stack([6 * step, 3 * step, 3 * step])[None]                      # edges 6, 3, 3: mean 4
    expected = (1 * math.exp(0) + 2 * math.exp(-4)) / 2                            # x-gradients are all zero
    torch.testing.assert_close(losses.edge_aware_smoothness(field, image), torch.tensor(expected))


def test_r1_gradient_of_a_linear_discriminator_is_twice_its_weights() -> None:
    w = torch.randn(3, 4, 4, requires_grad=True)
    x = torch.randn(2, 3, 3, 4, 4, requires_grad=True)
    r1 = losses.r1_penalty((x * w).sum(dim=(1, 2, 3, 4)), x)      # dD/dx = w on every frame: R1 = |w|^2
    (grad,) = torch.autograd.grad(r1, w)
    torch.testing.assert_close(r1, w.square().sum())
    torch.testing.assert_close(grad, 2 * w)


def test_smoothness_is_weighted_by_the_given_frame_only() -> None:
    # The same jerky offsets weighted by a flat image and by one with a strong vertical edge.
    h = w = 8
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    jerk = torch.stack([torch.sin(x / 2), torch.sin(y / 2)]) * 2 / (w - 1)
    off = torch.stack([torch.zeros(2, h, w), torch.zeros(2, h, w), jerk])[None]
    flat = torch.zeros(1, 3, h, w)
    edge = flat.clone()
    edge[..., 4:] = 5.0                                        # a column edge: the x-term there weighs exp(-5)
    a, b = losses.temporal_smoothness_loss(off, flat), losses.temporal_smoothness_loss(off, edge)
    flow = off[0, 2] * (w - 1) / 2                              # F12 - F01 = jerk in pixels (F01 = 0)
    dfx = (flow[:, :, 1:] - flow[:, :, :-1]).abs()
    dfy = (flow[:, 1:, :] - flow[:, :-1, :]).abs()
    torch.testing.assert_close(a, dfx.mean() + dfy.mean())
    weight = torch.ones(w - 1)
    weight[3] = math.exp(-5)
    torch.testing.assert_close(b, (dfx * weight).mean() + dfy.mean())


# ---- one training step, by value ----------------------------------------------------------------------------------


class _Recorder:
    """An optimiser stand-in: records the gradients of every `step()` and leaves the weights alone."""

    def __init__(self, params: Any) -> None:
        self.params = list(params)
        self.steps: list[list[Tensor]] = []

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.steps.append([torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in self.params])


class _NoSync:
    """One process: nothing to all-reduce."""

    def __call__(self, params: list[nn.Parameter]) -> None:
        pass

    def buffers(self, module: nn.Module) -> None:
        pass

    def any(self, flag: bool) -> bool:
        return flag


class _LinearD(nn.Module):
    """D(frames) = <w, sum over the K frames>: dD/dframe = w for every frame, so R1 = |w|^2 exactly."""

    def __init__(self, r: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, r, r, generator=torch.Generator().manual_seed(5)))

    def forward(self, frames: Tensor, times: Tensor | None = None) -> Tensor:
        return (frames * self.w).sum(dim=(1, 2, 3, 4))


class _FlatD(nn.Module):
    """A D whose logits do not depend on the frames: the adversarial loss sends G no gradient."""

    def forward(self, frames: Tensor, times: Tensor | None = None) -> Tensor:
        return (frames * 0).sum(dim=(1, 2, 3, 4))


def _tiny_cfg(**loss: float | bool) -> TrainConfig:
    cfg = preset("tiny", "finetune")
    model = dataclasses.replace(cfg.model, deform_init="xavier")     # moving offsets from the first step
    return dataclasses.replace(cfg, model=model, loss=dataclasses.replace(cfg.loss, **loss), batch_size=2)


def _phases(cfg: TrainConfig, d: nn.Module, data: VideoFrames) -> tuple[Phases, nn.Module, _Recorder, _Recorder]:
    """Phases as `training.loop.train` builds them (tiny generator, CPU), with recording optimisers.

    The one place that knows Phases' constructor: adapt it here if that changes.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from gendef_core.models.generator import build_generator

    AcceleratorState._reset_state(reset_partial_state=True)  # as train() does: no state left from other tests
    acc = Accelerator(cpu=True)
    torch.manual_seed(0)
    g = build_generator(cfg.model, cfg.stage)
    opt_g, opt_d = _Recorder(p for p in g.parameters() if p.requires_grad), _Recorder(d.parameters())
    return Phases(cfg, acc, g, d, opt_g, opt_d, _NoSync(), data), g, opt_g, opt_d


@pytest.fixture(scope="module")
def coded16(tmp_path_factory: pytest.TempPathFactory) -> VideoFrames:
    return load_video_frames(_coded_dataset(tmp_path_factory.mktemp("coded16") / "d", [10, 14], r=16))


def test_lazy_r1_gradient_is_gamma_over_2_times_the_interval(coded16: VideoFrames) -> None:
    cfg = _tiny_cfg(r1_gamma=3.0, r1_every=4)
    d = _LinearD(16)
    phases, _, _, opt_d = _phases(cfg, d, coded16)
    real, times = phases.real(0)
    r1 = phases.r1_step(real, times)
    torch.testing.assert_close(r1.detach(), d.w.detach().square().sum())            # R1 = |w|^2
    (applied,) = opt_d.steps[-1]
    torch.testing.assert_close(applied, 3.0 / 2 * 4 * 2 * d.w.detach())              # gamma/2 * every * dR1/dw


def test_a_step_runs_r1_only_every_r1_every_steps(coded16: VideoFrames) -> None:
    cfg = _tiny_cfg(r1_gamma=1.0, r1_every=2)
    phases, _, opt_g, opt_d = _phases(cfg, _LinearD(16), coded16)
    counts = []
    for step in range(4):
        before = len(opt_d.steps)
        values = phases.run(step).values()
        counts.append((len(opt_d.steps) - before, "r1" in values))
    assert counts == [(2, True), (1, False), (2, True), (1, False)]
    assert len(opt_g.steps) == 4


def _g_step_seen(phases: Phases, g: nn.Module, step: int) -> tuple[Any, tuple[tuple[Any, ...], Any]]:
    """phases.g_step(step) and the (inputs, output) of G's last forward call in it."""
    calls: list[tuple[tuple[Any, ...], Any]] = []
    hook = g.register_forward_hook(lambda m, args, out: calls.append((args, out)))
    try:
        result = phases.g_step(step)
    finally:
        hook.remove()
    return result, calls[-1]


def test_smoothness_term_uses_t_t1_t2_weighted_by_frame_t1_times_lambda(coded16: VideoFrames) -> None:
    lam = 2.5
    cfg = _tiny_cfg(reg_weight=lam)
    phases, g, opt_g, _ = _phases(cfg, _FlatD(), coded16)
    (_, reg, _), (args, out) = _g_step_seen(phases, g, 7)
    k = cfg.num_frames
    times = args[2]
    assert times.shape == (2, k + 3)
    torch.testing.assert_close(times[:, k:] - times[:, k:k + 1], torch.tensor([[0.0, 1.0, 2.0]] * 2))  # t, t+1, t+2
    # Eq. 4: the flows F_{t->t+1}, F_{t+1->t+2} from the offsets at t, t+1, t+2, weighted by the frame at t+1.
    expected = losses.temporal_smoothness_loss(out.offsets[:, k:k + 3], out.frames[:, k + 1]).detach()
    assert reg is not None and float(expected) > 1e-4
    torch.testing.assert_close(reg.detach(), expected, rtol=1e-6, atol=0)
    for wrong in (out.frames[:, k], out.frames[:, k + 2]):                  # the test can tell the frames apart
        other = losses.temporal_smoothness_loss(out.offsets[:, k:k + 3], wrong).detach()
        assert abs(float(other) - float(expected)) > 1e-4 * float(expected)
    # D gives G no gradient, so G's whole gradient is lambda * d(smoothness)/d(weights) (recomputed: same inputs).
    params = opt_g.params
    again = g(*args)
    torch.testing.assert_close(again.frames, out.frames, rtol=0, atol=0)
    grads = torch.autograd.grad(losses.temporal_smoothness_loss(again.offsets[:, k:k + 3], again.frames[:, k + 1]),
                                params, allow_unused=True)
    (applied,) = opt_g.steps
    moved = 0
    for p, a, gr in zip(params, applied, grads, strict=True):
        want = torch.zeros_like(p) if gr is None else lam * gr
        torch.testing.assert_close(a, want, rtol=1e-4, atol=1e-7)
        moved += int(bool(want.abs().max() > 0))
    assert moved > 5                                                        # the term reaches G_d's weights


@pytest.mark.parametrize("temporal", [False, True])
def test_fold_penalty_is_weighted_over_every_generated_frame(coded16: VideoFrames, monkeypatch: pytest.MonkeyPatch,
                                                             temporal: bool) -> None:
    # A tiny G's offsets never fold, so the margin is raised above 1 to make every cell count; the test then
    # checks what g_step does with the term: the weight, the frames it covers, and where its gradient goes.
    weight, fold_loss = 3.0, losses.fold_loss
    monkeypatch.setattr(losses, "fold_loss", lambda offsets, **kw: fold_loss(offsets, min_det=1.5, **kw))
    cfg = _tiny_cfg(reg_weight=0.0, fold_weight=weight, fold_temporal=temporal)
    phases, g, opt_g, _ = _phases(cfg, _FlatD(), coded16)
    (_, reg, fold), (args, out) = _g_step_seen(phases, g, 7)
    assert reg is None and fold is not None
    assert out.offsets.shape[1] == cfg.num_frames
    expected = fold_loss(out.offsets, min_det=1.5, temporal=temporal).detach()
    other = fold_loss(out.offsets, min_det=1.5, temporal=not temporal).detach()
    assert float(expected) > 1e-3 and abs(float(other) - float(expected)) > 1e-3  # the two modes differ here
    torch.testing.assert_close(fold.detach(), expected, rtol=1e-6, atol=0)
    again = g(*args)
    penalty = fold_loss(again.offsets, min_det=1.5, temporal=temporal)
    grads = torch.autograd.grad(penalty, opt_g.params, allow_unused=True)
    (applied,) = opt_g.steps
    moved = 0
    for p, a, gr in zip(opt_g.params, applied, grads, strict=True):
        want = torch.zeros_like(p) if gr is None else weight * gr
        torch.testing.assert_close(a, want, rtol=1e-4, atol=1e-7)
        moved += int(bool(want.abs().max() > 0))
    assert moved > 5


def test_fold_penalty_is_off_by_default(coded16: VideoFrames) -> None:
    cfg = _tiny_cfg()
    assert cfg.loss.fold_weight == 0.0
    phases, _, _, _ = _phases(cfg, _FlatD(), coded16)
    assert phases.g_step(7)[2] is None
