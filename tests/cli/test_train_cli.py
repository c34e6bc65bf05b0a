"""`gendef pretrain` / `gendef finetune` through the CLI: bad input, --resume, config resolution."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gendef_core import api
from gendef_core.artifacts.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sprites"
    api.synth_dataset("sprites", path, num_videos=2, num_frames=8, resolution=16, seed=2)
    return path


@pytest.fixture(scope="module")
def pre(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "pre"
    api.pretrain(data, out, api.resolve_train_config("pretrain", preset="tiny", steps=2))
    return out


def one_line_error(r: object, phrase: str, code: int = 1) -> str:
    assert r.exit_code == code, (r.exit_code, r.stderr)  # type: ignore[attr-defined]
    lines = r.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert lines and lines[-1].startswith("error: ") and phrase in lines[-1], r.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in r.stderr and r.stdout == ""  # type: ignore[attr-defined]
    return lines[-1]


def test_missing_data_leaves_nothing(run_cli: Callable[..., object], tmp_path: Path) -> None:
    r = run_cli("pretrain", "--data", tmp_path / "nope", "--out", tmp_path / "run", "--preset", "tiny")
    one_line_error(r, "does not exist")
    assert not (tmp_path / "run").exists()


def test_wrong_resolution_leaves_nothing_and_retry_works(run_cli: Callable[..., object], data: Path,
                                                         tmp_path: Path) -> None:
    big = tmp_path / "big"
    api.synth_dataset("clouds", big, num_videos=1, num_frames=4, resolution=32)
    one_line_error(run_cli("pretrain", "--data", big, "--out", tmp_path / "run", "--preset", "tiny"),
                   "is 32x32 but the model is 16x16")
    assert not (tmp_path / "run").exists()
    r = run_cli("pretrain", "--data", data, "--out", tmp_path / "run", "--preset", "tiny", "--steps", "1")
    assert r.exit_code == 0, r.stderr


def test_init_must_be_a_pretraining_run(run_cli: Callable[..., object], data: Path, pre: Path, tmp_path: Path) -> None:
    ft = tmp_path / "ft"
    assert run_cli("finetune", "--data", data, "--init", pre, "--out", ft, "--preset", "tiny", "--steps", "1",
                   "--quiet").exit_code == 0
    one_line_error(run_cli("finetune", "--data", data, "--init", ft, "--out", tmp_path / "ft2", "--preset", "tiny"),
                   "is not a pre-training run")
    assert not (tmp_path / "ft2").exists()
    one_line_error(run_cli("finetune", "--data", data, "--init", tmp_path / "nothing", "--out", tmp_path / "x"),
                   "does not exist")


@pytest.mark.parametrize("args, phrase", [
    (["--set", "model.feature_layer=99"], "model.feature_layer must be in 0..5"),
    (["--feature-layer", "-1"], "model.feature_layer must be in 0..5"),
    (["--set", "lr_g=-1"], "lr_g and lr_d must be positive"),
    (["--set", "betas=[0.5, 1.5]"], "betas must be in [0, 1)"),
    (["--set", "discriminator.cmap_dim=0"], "cmap_dim at least 1"),
    (["--set", "model.channel_base=1"], "must be at least the resolution"),
    (["--mixed-precision", "fp8"], "mixed_precision must be one of no, fp16, bf16"),
    (["--deform-init", "ones"], "model.deform_init must be one of zero, xavier, none"),
    (["--variant", "direct"], "the direct-frame baseline trains from scratch; drop --init"),
])
def test_bad_settings_are_one_line_errors(run_cli: Callable[..., object], data: Path, pre: Path, tmp_path: Path,
                                          args: list[str], phrase: str) -> None:
    r = run_cli("finetune", "--data", data, "--init", pre, "--out", tmp_path / "run", "--preset", "tiny", *args)
    # an invalid setting is a usage error (exit 2); the baseline refusing --init is about the run, not a value
    one_line_error(r, phrase, code=1 if "trains from scratch" in phrase else 2)
    assert not (tmp_path / "run").exists()


def test_malformed_config_file(run_cli: Callable[..., object], data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    one_line_error(run_cli("pretrain", "--data", data, "--out", tmp_path / "r", "--config", bad), "is not valid JSON")
    bad.write_text('{"config": {"model": {"nope": 1}}}')
    one_line_error(run_cli("pretrain", "--data", data, "--out", tmp_path / "r", "--config", bad),
                   "unknown config key model.nope", code=2)


def test_resume_with_the_original_command_and_refused_changes(run_cli: Callable[..., object], data: Path, pre: Path,
                                                              tmp_path: Path) -> None:
    run = tmp_path / "ft"
    base = ["finetune", "--data", data, "--init", pre, "--out", run, "--preset", "tiny", "--reg-weight", "0.5",
            "--quiet"]
    assert run_cli(*base, "--steps", "2").exit_code == 0
    r = run_cli(*base, "--steps", "4", "--resume")  # the same command plus --resume: continues
    assert r.exit_code == 0, r.stderr
    assert load_checkpoint(run).step == 4
    one_line_error(run_cli(*base[:-3], "--reg-weight", "0", "--steps", "6", "--resume"),
                   "cannot change loss (only --steps, --kimg and --set", code=2)  # a usage error
    one_line_error(run_cli("pretrain", "--data", data, "--out", run, "--resume"),
                   "is a finetune run; resume it with `gendef finetune --resume`")
    one_line_error(run_cli(*base, "--steps", "6"), "already has checkpoints; pass --resume")


def test_from_scratch_and_init_against_a_config_file(run_cli: Callable[..., object], data: Path, pre: Path,
                                                     tmp_path: Path) -> None:
    r = run_cli("finetune", "--data", data, "--init", pre, "--out", tmp_path / "x", "--preset", "tiny",
                "--deform-init", "xavier", "--no-canonical-feature", "--dry-run")
    cfg = json.loads(r.stdout)
    assert cfg["init_from"] == str(load_checkpoint(pre).path.resolve()) and cfg["ema_rampup"] is None
    saved = tmp_path / "ft.json"
    saved.write_text(json.dumps({"config": cfg}))
    # --from-scratch drops the file's init_from (the Table 4 `w/o pt.` row must not start pre-trained) ...
    scratch = json.loads(run_cli("finetune", "--data", data, "--out", tmp_path / "x", "--config", saved,
                                 "--from-scratch", "--dry-run").stdout)
    assert scratch["init_from"] is None
    # ... and --init takes only G_c/D shapes from the pre-training: the file's ablation settings stay.
    again = json.loads(run_cli("finetune", "--data", data, "--out", tmp_path / "x", "--config", saved, "--init", pre,
                               "--dry-run").stdout)
    assert again["model"]["deform_init"] == "xavier" and again["model"]["canonical_feature"] is False


def test_kimg_counts_after_overrides(run_cli: Callable[..., object], data: Path, tmp_path: Path) -> None:
    r = run_cli("pretrain", "--data", data, "--out", tmp_path / "x", "--preset", "tiny", "--kimg", "1",
                "--set", "batch_size=8", "--dry-run")
    assert json.loads(r.stdout)["steps"] == 125


def test_freezing_the_baseline_is_a_usage_error(run_cli: Callable[..., object], data: Path, tmp_path: Path) -> None:
    """The direct baseline has no pre-trained canonical generator: --freeze-canonical is refused up front."""
    r = run_cli("finetune", "--data", data, "--from-scratch", "--variant", "direct", "--freeze-canonical",
                "--out", tmp_path / "run", "--preset", "tiny", "--steps", "1")
    assert r.exit_code == 2, r.stderr  # type: ignore[attr-defined]
    assert r.stderr.strip().splitlines()[-1] == (  # type: ignore[attr-defined]
        "error: --freeze-canonical: the direct-frame baseline has no pre-trained canonical generator to freeze")
    assert not (tmp_path / "run").exists()
