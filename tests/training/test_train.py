"""Training mechanics on the `tiny` preset: runs, checkpoints, resume, NaN, ablation flags, 2 processes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gendef_core import api
from gendef_core.artifacts.checkpoint import list_checkpoints, load_checkpoint
from gendef_core.config import TINY, ModelConfig
from gendef_core.errors import ArtifactError, ConfigError
from gendef_core.models.generator import GenDeFGenerator, build_generator
from gendef_core.training import loop


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sprites"
    api.synth_dataset("sprites", path, num_videos=3, num_frames=12, resolution=16, seed=1)
    return path


@pytest.fixture(scope="module")
def pretrained(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "pre"
    cfg = api.resolve_train_config("pretrain", preset="tiny", steps=4, overrides=["save_every=2", "keep_last=1"])
    api.pretrain(data, out, cfg)
    return out


def _tiny(stage: str, **kw: object) -> object:
    return api.resolve_train_config(stage, preset="tiny", **kw)  # type: ignore[arg-type]


def test_pretrain_writes_checkpoints_events_and_prunes(pretrained: Path) -> None:
    ckpts = list_checkpoints(pretrained)
    assert [p.name for p in ckpts] == ["step-00000004"]  # keep_last=1 pruned step 2
    info = load_checkpoint(pretrained)
    assert info.step == 4 and set(info.networks) == {"canonical", "canonical_ema", "discriminator"}
    assert info.metadata["num_processes"] == 1 and info.metadata["kimg"] == pytest.approx(4 * 4 / 1000)
    events = [json.loads(line) for line in (pretrained / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events] == [4]  # log_every=5 in tiny: only the final step
    assert all(k in events[0] for k in ("loss_d", "loss_g", "images_per_s", "kimg"))
    assert json.loads((pretrained / "config.json").read_text())["config"]["stage"] == "pretrain"


def test_finetune_starts_exactly_at_the_canonical(data: Path, pretrained: Path, tmp_path: Path) -> None:
    cfg = _tiny("finetune", init=pretrained, steps=1)
    g = build_generator(cfg.model, "finetune")
    ck = load_checkpoint(pretrained)
    g.canonical.load_state_dict(ck.load_network("canonical"))
    z = torch.randn(2, cfg.model.z_dim)
    noise = g.motion.sample_noise(2, 10)
    out = g(z, torch.randn(2, cfg.model.z_dim), torch.tensor([[0.0, 3.0, 10.0]] * 2), noise)
    assert torch.equal(out.offsets, torch.zeros_like(out.offsets))
    assert torch.equal(out.frames, out.canonical[:, None].expand_as(out.frames))  # Fig. A2b: exactly


def test_deform_init_variants_start_differently() -> None:
    torch.manual_seed(0)
    spans = {}
    for init in ("zero", "xavier", "none"):
        g = GenDeFGenerator(dataclasses.replace(TINY.model, deform_init=init))
        with torch.no_grad():
            out = g(torch.randn(2, 32), torch.randn(2, 32), torch.tensor([[0.0, 1.0]] * 2), g.motion.sample_noise(2, 1))
        spans[init] = float(out.offsets.abs().max())
    assert spans["zero"] == 0.0 and spans["xavier"] > 0.0 and spans["none"] > spans["xavier"]


def test_gradients_reach_the_deformation_generator(pretrained: Path) -> None:
    cfg = _tiny("finetune", init=pretrained)
    g = build_generator(cfg.model, "finetune")
    with torch.no_grad():  # move off the exact-zero start so that every layer of G_d gets a gradient
        g.deformation.to_out["16"].weight.normal_()
    out = g(torch.randn(2, 32), torch.randn(2, 32), torch.tensor([[0.0, 2.0, 5.0]] * 2), g.motion.sample_noise(2, 5))
    (out.frames * torch.randn_like(out.frames)).sum().backward()
    params = dict(g.named_parameters())
    for name in ("deformation.const", "deformation.conv1.4.weight", "deformation.project.weight",
                 "deformation.mapping.layers.0.weight", "motion.convs.0.weight", "motion.aligner.weight",
                 "canonical.synthesis.const"):
        grad = params[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name


def test_sampling_128_frames_and_more(pretrained: Path) -> None:
    g = build_generator(TINY.model, "finetune")
    with torch.no_grad():
        g.deformation.to_out["16"].weight.normal_()
        noise = g.motion.sample_noise(1, 299)
        out = g(torch.randn(1, 32), torch.randn(1, 32), torch.arange(300.0)[None], noise)
    assert out.frames.shape == (1, 300, 3, 16, 16) and bool(torch.isfinite(out.frames).all())
    assert float((out.offsets[0, 150] - out.offsets[0, 10]).abs().max()) > 0  # motion over time


def test_finetune_runs_and_resume_equals_uninterrupted(data: Path, pretrained: Path, tmp_path: Path) -> None:
    base = ["save_every=2", "keep_last=5"]
    straight = api.finetune(data, tmp_path / "straight", _tiny("finetune", init=pretrained, steps=4, overrides=base))
    assert straight.step == 4
    api.finetune(data, tmp_path / "resumed", _tiny("finetune", init=pretrained, steps=2, overrides=base))
    resumed = api.finetune(data, tmp_path / "resumed", _tiny("finetune", init=pretrained, steps=4, overrides=base),
                           resume=True)
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    assert set(a.networks) == {"canonical", "canonical_ema", "deformation", "deformation_ema", "discriminator"}
    for name in a.networks:
        sa, sb = a.load_network(name), b.load_network(name)
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=1e-6, msg=f"{name}.{key}")
    # The G_d head moved away from zero during fine-tuning (gradients reached it).
    head = next(v for k, v in a.load_network("deformation").items() if k.startswith("deformation.to_out.16"))
    assert float(head.abs().max()) > 0


def test_resume_and_output_errors(data: Path, pretrained: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="has no checkpoint to resume from"):
        api.pretrain(data, tmp_path / "none", _tiny("pretrain", steps=1), resume=True)
    with pytest.raises(ArtifactError, match="already has checkpoints; pass `resume`"):
        api.pretrain(data, pretrained, _tiny("pretrain", steps=1))
    with pytest.raises(ConfigError, match=r"`resume` continues .* it cannot change model \(only"):
        api.pretrain(data, pretrained, _tiny("pretrain", steps=8, overrides=["model.w_dim=16"]), resume=True)
    with pytest.raises(ConfigError, match="exactly one of `init`"):
        _tiny("finetune")
    other = tmp_path / "d32"
    api.synth_dataset("clouds", other, num_videos=1, num_frames=4, resolution=32)
    with pytest.raises(ConfigError, match="is 32x32 but the model is 16x16"):
        api.pretrain(other, tmp_path / "r", _tiny("pretrain", steps=1))


def test_nan_stops_the_run_and_keeps_the_last_checkpoint(data: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from gendef_core.training import losses

    real_g_loss = losses.g_adv_loss
    calls = {"n": 0}

    def poisoned(logits: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return real_g_loss(logits) * (float("nan") if calls["n"] == 3 else 1.0)

    monkeypatch.setattr(losses, "g_adv_loss", poisoned)
    with pytest.raises(loop.TrainingError,
                       match=r"loss_g became nan at step 3; the last good checkpoint is .*step-00000002"):
        api.pretrain(data, tmp_path / "run", _tiny("pretrain", steps=10, overrides=["save_every=2"]))
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-00000002"]
    assert load_checkpoint(tmp_path / "run").step == 2


def test_ablation_flags_resolve(pretrained: Path) -> None:
    flags = api.TrainFlags(canonical_feature=False, reg_weight=0.0, freeze_canonical=True, deform_init="xavier",
                           feature_layer=2)
    assert flags.overrides() == ["loss.reg_weight=0.0", "model.feature_layer=2", 'model.deform_init="xavier"',
                                 "model.canonical_feature=false", "freeze_canonical=true"]
    cfg = _tiny("finetune", init=pretrained, flags=flags)
    assert (cfg.model.canonical_feature, cfg.loss.reg_weight, cfg.freeze_canonical, cfg.model.deform_init,
            cfg.model.feature_layer) == (False, 0.0, True, "xavier", 2)
    assert cfg.init_from == str(load_checkpoint(pretrained).path)
    direct = _tiny("finetune", from_scratch=True, flags=api.TrainFlags(variant="direct"))
    assert direct.model.variant == "direct" and direct.init_from is None
    assert _tiny("pretrain", kimg=0.04).steps == 10  # 40 images at batch 4


@pytest.mark.parametrize("flags", [{"freeze_canonical": True}, {"model.canonical_feature": False},
                                   {"model.variant": "direct"}, {"mixed_precision": "bf16"},
                                   {"model.mtm_resolutions": [8]}, {"model.feature_layer": 0}])
def test_variants_train_a_step(data: Path, pretrained: Path, tmp_path: Path, flags: dict[str, object]) -> None:
    direct = flags.get("model.variant") == "direct"
    cfg = _tiny("finetune", init=None if direct else pretrained, from_scratch=direct, steps=2,
                overrides=[f"{key}={json.dumps(value)}" for key, value in flags.items()])
    result = api.finetune(data, tmp_path / "run", cfg)
    ck = load_checkpoint(result.checkpoint)
    assert ("frames" in ck.networks) == direct
    saved = ck.config
    for key, value in flags.items():  # the flag reached the run's recorded config
        section, _, name = key.rpartition(".")
        assert (saved[section][name] if section else saved[name]) == value
    if direct:
        return
    deform = ck.load_network("deformation")
    canonical = ck.load_network("canonical")
    if flags.get("freeze_canonical"):  # G_c is the pre-training's EMA generator, bit for bit
        before = load_checkpoint(pretrained).load_network("canonical_ema")
        assert all(torch.equal(before[k], canonical[k]) for k in before)
    if "model.canonical_feature" in flags:
        assert not any(k.startswith("deformation.project") for k in deform)
    if "model.mtm_resolutions" in flags:
        assert any(".dcn_" in k for k in canonical) and any(".dcn_" in k for k in deform)
    if "model.feature_layer" in flags:  # layer 0 is the 4x4 conv: 32 channels in tiny, projected to 8
        assert deform["deformation.project.weight"].shape == (8, 32, 1, 1)


def test_two_processes_under_accelerate_keep_identical_weights(data: Path, pretrained: Path, tmp_path: Path) -> None:
    # On a machine without GPUs, `accelerate launch --multi_gpu` starts the processes with torchrun and gendef's
    # Accelerator(cpu=True) makes them one multi-CPU (gloo) run. (`--cpu --num_processes N` needs MPI.)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CI": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29533",
           "-m", "gendef_cli", "finetune", "--data", str(data), "--init", str(pretrained), "--out", str(out),
           "--preset", "tiny", "--steps", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(out / "checkpoints" / "step-00000003")  # printed once, by the main process
    meta = load_checkpoint(out).metadata
    assert meta["num_processes"] == 2
    sums = meta["weight_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1]
    assert meta["kimg"] == pytest.approx(3 * 4 * 3 * 2 / 1000)  # 4 videos x 3 frames per process per step


def test_dry_run_prints_the_resolved_config(run_cli, data: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("pretrain", "--data", data, "--out", "unused", "--preset", "tiny", "--set", "model.w_dim=48",
                "--dry-run")
    assert r.exit_code == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["model"]["w_dim"] == 48 and cfg["stage"] == "pretrain" and not Path("unused").exists()
    r = run_cli("pretrain", "--data", data, "--out", "unused", "--set", "model.nope=1", "--dry-run")
    assert r.exit_code == 2 and "unknown config key 'model.nope'" in r.stderr  # a usage error


def test_model_config_validation() -> None:
    with pytest.raises(ConfigError, match="power of two"):
        ModelConfig(resolution=48).validate()


def test_killed_run_resumes_to_the_same_weights(data: Path, pretrained: Path, tmp_path: Path) -> None:
    import signal
    import time

    steps, overrides = 30, ["save_every=2", "keep_last=100", "log_every=1"]
    straight = api.finetune(data, tmp_path / "straight", _tiny("finetune", init=pretrained, steps=steps,
                                                                 overrides=overrides))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gendef_cli", "finetune", "--data", str(data), "--init", str(pretrained),
           "--out", str(out), "--preset", "tiny", "--steps", str(steps), "--quiet"]
    cmd += [arg for o in overrides for arg in ("--set", o)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not list_checkpoints(out) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(out).step
    assert killed_at < steps, "the run finished before it could be killed; make it longer"
    resumed = api.finetune(data, out, _tiny("finetune", init=pretrained, steps=steps, overrides=overrides),
                           resume=True)
    assert resumed.step == steps
    a, b = load_checkpoint(straight.checkpoint), load_checkpoint(resumed.checkpoint)
    for name in a.networks:
        sa, sb = a.load_network(name), b.load_network(name)
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name


def test_checkpoint_round_trip_reproduces_the_generator(tmp_path: Path) -> None:
    from gendef_core.artifacts.checkpoint import save_checkpoint

    torch.manual_seed(3)
    g = GenDeFGenerator(TINY.model)
    with torch.no_grad():
        g.deformation.to_out["16"].weight.normal_()  # non-trivial motion
        g.canonical.mapping.w_avg.normal_()           # buffers travel too
    nets = {name: m.state_dict() for name, m in g.networks().items()}
    save_checkpoint(tmp_path / "ck", step=0, config=dataclasses.replace(TINY, stage="finetune").to_dict(),
                    networks=nets)
    info = load_checkpoint(tmp_path / "ck")
    fresh = GenDeFGenerator(TINY.model)
    for name, module in fresh.networks().items():
        module.load_state_dict(info.load_network(name))
    z, zd, t = torch.randn(2, 32), torch.randn(2, 32), torch.tensor([[0.0, 5.5, 40.0]] * 2)
    noise = g.motion.sample_noise(2, 40)
    with torch.no_grad():
        a, b = g(z, zd, t, noise, truncation_psi=0.7), fresh(z, zd, t, noise, truncation_psi=0.7)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.offsets, b.offsets)


def test_finetune_at_step_zero_through_train_reproduces_the_pretrained_canonical(data: Path, pretrained: Path,
                                                                                 tmp_path: Path) -> None:
    result = api.finetune(data, tmp_path / "ft0", _tiny("finetune", init=pretrained, steps=0))
    ck = load_checkpoint(result.checkpoint)
    assert ck.step == 0
    pre = load_checkpoint(pretrained)
    canonical = ck.load_network("canonical")
    assert all(torch.equal(v, pre.load_network("canonical")[k]) for k, v in canonical.items())
    g = GenDeFGenerator(TINY.model)
    for name, module in g.networks().items():
        module.load_state_dict(ck.load_network(f"{name}_ema"))
    noise = g.motion.sample_noise(3, 50)
    with torch.no_grad():
        out = g(torch.randn(3, 32), torch.randn(3, 32), torch.tensor([[0.0, 17.5, 50.0]] * 3), noise)
    assert torch.equal(out.frames, out.canonical[:, None].expand_as(out.frames))


def test_anchor_first_frame_makes_frame_0_the_canonical_at_any_weights() -> None:
    """`model.anchor_first_frame` (issue 14): offsets are G_d(u_t) - G_d(u_0), so with a non-zero G_d (xavier
    head) frame 0 is the canonical exactly, other frames move by exactly the paper-G_d's offsets minus those at
    time 0 (same weights), whichever chunk of times a call asks for."""
    torch.manual_seed(0)
    plain = GenDeFGenerator(dataclasses.replace(TINY.model, deform_init="xavier"))
    anchored = GenDeFGenerator(dataclasses.replace(TINY.model, deform_init="xavier", anchor_first_frame=True))
    anchored.load_state_dict(plain.state_dict())
    z_c, z_d, noise = torch.randn(2, 32), torch.randn(2, 32), plain.motion.sample_noise(2, 12)
    times = torch.tensor([[0.0, 3.0, 12.0]] * 2)
    with torch.no_grad():
        ref = plain(z_c, z_d, torch.cat([times, torch.zeros(2, 1)], dim=1), noise).offsets
        out = anchored(z_c, z_d, times, noise)
        content = anchored.content(z_c)
        late = anchored.offsets_at(content, z_d, times[:, 2:], noise)          # a chunk without time 0
    assert out.offsets is not None and ref is not None and float(ref[:, 1].abs().max()) > 1e-3
    assert torch.equal(out.offsets[:, 0], torch.zeros_like(out.offsets[:, 0]))
    torch.testing.assert_close(out.frames[:, 0], out.canonical, rtol=0, atol=1e-6)
    torch.testing.assert_close(out.offsets, ref[:, :3] - ref[:, 3:], rtol=0, atol=1e-6)
    torch.testing.assert_close(late, out.offsets[:, 2:], rtol=0, atol=1e-6)


def test_motion_branch_trains_and_resumes(data: Path, pretrained: Path, tmp_path: Path) -> None:
    """`discriminator.motion_branch`: fine-tuning from a pre-training (which has no branch) trains the branch's
    weights (its own loss), saves them with the D, and a resumed run continues from them."""
    import safetensors.torch

    cfg = _tiny("finetune", init=pretrained, steps=2, overrides=["discriminator.motion_branch=true"])
    api.finetune(data, tmp_path / "ft", cfg)  # type: ignore[arg-type]
    first = load_checkpoint(tmp_path / "ft")
    d = safetensors.torch.load_file(str(first.path / "discriminator.safetensors"))
    branch = {k: v for k, v in d.items() if k.startswith("motion_branch.")}
    assert branch and float(branch["motion_branch.out.bias"].abs().max()) > 0   # initialised at 0, then trained
    more = _tiny("finetune", steps=3, resume_run=tmp_path / "ft")
    api.finetune(data, tmp_path / "ft", more, resume=True)  # type: ignore[arg-type]
    assert load_checkpoint(tmp_path / "ft").step == 3
