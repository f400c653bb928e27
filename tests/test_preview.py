"""preview(): exactly what a fit applies, before running it; the preview command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from _helpers import Probe, TinyModule, make_trainer

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear

ROOT = Path(__file__).resolve().parents[1]


class WithKL(TinyModule):
    def __init__(self) -> None:
        super().__init__(groups=2, lr=[0.1, 0.2], optimizer_kwargs={"momentum": 0.9, "weight_decay": 0.0})
        self.kl_weight = 1.0


def callbacks() -> list[Any]:
    return [
        ls.WarmupCosineLR(warmup_steps=0.1, min_factor=0.05),  # step interval, fractions of the fit
        ls.CosineAnnealingScheduler("momentum", 0.95, 0.85, cycle_size=0.25),
        ls.ScheduleCallback(Linear(0.0, 0.01, 2), target="weight_decay", interval="epoch"),
        ls.ExpStateScheduler(1.0, 0.5, "kl_weight", interval="epoch"),
    ]


def read(trainer: Any, module: Any) -> list[float]:
    groups = trainer.optimizers[0].param_groups
    return [g[k] for k in ("lr", "momentum", "weight_decay") for g in groups] + [module.kl_weight]


def test_preview_equals_what_a_fit_applies() -> None:
    plan = ls.FitPlan(max_epochs=3, batches_per_epoch=16, accumulate_grad_batches=3)
    assert (plan.steps_per_epoch, plan.total_steps) == (6, 18)
    result = ls.preview(callbacks(), plan, initial=[0.1, 0.2])
    columns = list(result.values.values())
    # Without the optimizers, their class is unknown: the reference stands in its place.
    assert list(result.values) == [
        "WarmupCosineLR:lr-optimizer0/pg1",
        "WarmupCosineLR:lr-optimizer0/pg2",
        "CosineAnnealingScheduler:lr-optimizer0/pg1-momentum",
        "CosineAnnealingScheduler:lr-optimizer0/pg2-momentum",
        "ScheduleCallback:lr-optimizer0/pg1-weight_decay",
        "ScheduleCallback:lr-optimizer0/pg2-weight_decay",
        "ExpStateScheduler:kl_weight",
    ]
    probe = Probe(read)
    make_trainer([*callbacks(), probe], max_epochs=3, accumulate_grad_batches=3).fit(WithKL())
    assert probe.rows[-1][0] == 17
    for step, _, values in probe.rows:
        assert values == [column[step] for column in columns]


def test_plan_from_a_trainer_and_with_max_steps() -> None:
    trainer = make_trainer([], max_epochs=5, accumulate_grad_batches=4)
    assert ls.FitPlan.from_trainer(trainer, batches_per_epoch=10).total_steps == 15
    capped = ls.FitPlan(max_epochs=5, max_steps=7, batches_per_epoch=10, accumulate_grad_batches=4)
    assert (capped.total_steps, capped.total_epochs) == (7, 3)
    steps_only = ls.FitPlan(max_steps=100, batches_per_epoch=30, devices=2)
    assert (steps_only.steps_per_epoch, steps_only.total_steps) == (15, 100)
    result = ls.preview([ls.StepLR(1)], trainer, batches_per_epoch=10, initial=1.0)
    expected = np.repeat([1.0, 0.1, 0.01, 0.001, 0.0001], 3)  # epoch interval, 3 steps an epoch
    np.testing.assert_allclose(result.values["StepLR:lr-optimizer0"], expected, rtol=1e-15)


def test_preview_plot_writes_one_panel_per_target(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    result = ls.preview(callbacks(), {"max_epochs": 3, "batches_per_epoch": 16}, initial=[0.1, 0.2])
    figure = result.plot(tmp_path / "schedule.png")
    assert len(figure.axes) == 4  # lr, momentum, weight decay, the attribute
    assert (tmp_path / "schedule.png").read_bytes()[:4] == b"\x89PNG"
    text = result.table()
    assert "WarmupCosineLR:lr-optimizer0/pg1" in text and "47" in text.splitlines()[0]


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"batches_per_epoch": 10}, ValueError, r"the fit has no end"),
        ({"max_epochs": 2, "batches_per_epoch": 0}, ValueError, r"`batches_per_epoch` must be >= 1, got 0"),
        ({"max_epochs": 2, "batches": 3}, ValueError, r"unknown fit settings \['batches'\]"),
        (3, TypeError, r"`trainer_or_config` must be a FitPlan"),
    ],
)
def test_bad_plans(config: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ls.preview([ls.StepLR(1)], config)


def test_previewing_a_trainer_needs_the_dataloader_length() -> None:
    with pytest.raises(ValueError, match=r"needs `batches_per_epoch`"):
        ls.preview([ls.StepLR(1)], make_trainer([], max_epochs=2))


def test_preview_command_line(tmp_path: Path) -> None:
    out = tmp_path / "schedule.png"
    command = [sys.executable, "-m", "lightning_schedulers", "preview", str(ROOT / "examples" / "cli_config.yaml")]
    result = subprocess.run([*command, "--batches-per-epoch", "12", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "48 optimizer steps (12 per epoch)" in result.stdout
    assert "PiecewiseLinear:lr-SGD-momentum" in result.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"
    missing = subprocess.run(command, capture_output=True, text=True)
    assert missing.returncode == 2 and "--batches-per-epoch" in missing.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lightning_schedulers", *args], capture_output=True, text=True)


def test_preview_command_line_previews_a_file_holding_one_callback(tmp_path: Path) -> None:
    config = tmp_path / "one.yaml"
    config.write_text("class_path: lightning_schedulers.StepLR\ninit_args:\n  step_size: 2\n  gamma: 0.5\n")
    result = run_cli("preview", str(config), "--batches-per-epoch", "4", "--max-epochs", "6", "--initial", "0.8")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[1].split()
    row = next(line for line in lines if line.startswith("StepLR:")).split()[1:]
    expected = ls.StepLR(step_size=2, gamma=0.5).simulate(6, initial=0.8)
    steps = [int(s) for s in header[1:]]
    assert [float(v) for v in row] == pytest.approx([expected[s // 4] for s in steps], rel=1e-3)  # the table's 4 digits


def test_preview_command_line_help_exits_zero() -> None:
    assert run_cli("--help").returncode == 0
    assert run_cli("preview", "--help").returncode == 0


def test_preview_command_line_unusable_files_exit_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lightning_schedulers.__main__ import main

    cases = {
        "trainer: {max_epochs: 2, callbacks: [{class_path: lightning.pytorch.callbacks.ModelCheckpoint}]}": (
            "holds no scheduler callback"
        ),
        "trainer: {max_epochs: 2}": "holds no scheduler callback",
        "class_path: lightning_schedulers.NoSuchScheduler": "does not name a class that can be imported",
        "class_path: lightning_schedulers.StepLR\ninit_args: {step_size: -1}": r"`step_size` must be >= 1",
        "- 1\n- 2": "holds no scheduler callback",
        "just a string": "expected a LightningCLI config",
        "class_path: lightning_schedulers.StepLR\ninit_args: {step_size: 1}\n[": "cannot read",
    }
    for i, (text, message) in enumerate(cases.items()):
        config = tmp_path / f"bad{i}.yaml"
        config.write_text(text)
        with pytest.raises(SystemExit) as exited:  # in process: the same main() as the command line
            main(["preview", str(config), "--batches-per-epoch", "4", "--max-epochs", "2"])
        assert exited.value.code == 2, text
        assert re.search(message, capsys.readouterr().err), text


def test_with_the_optimizers_preview_labels_and_start_values_are_the_fits(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    plan = ls.FitPlan(max_epochs=3, batches_per_epoch=16, accumulate_grad_batches=3)
    module = WithKL()
    result = ls.preview(callbacks(), plan, optimizers=[module.configure_optimizers()])
    logger = CSVLogger(tmp_path, name="run", version=0)
    make_trainer([*callbacks()], max_epochs=3, accumulate_grad_batches=3, logger=logger, log_every_n_steps=1).fit(
        WithKL()
    )
    with open(tmp_path / "run" / "version_0" / "metrics.csv") as handle:
        logged = set(handle.readline().strip().split(",")) - {"step", "epoch"}
    assert {label.split(":", 1)[1] for label in result.values} == logged
    probe = Probe(read)
    make_trainer([*callbacks(), probe], max_epochs=3, accumulate_grad_batches=3).fit(WithKL())
    columns = list(result.values.values())
    for step, _, values in probe.rows:  # the start values came from the optimizer's groups
        assert values == [column[step] for column in columns]


def test_preview_command_line_with_the_model_gives_the_fits_names_and_start_values() -> None:
    command = [sys.executable, "-m", "lightning_schedulers", "preview", str(ROOT / "examples" / "cli_config.yaml")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples")}
    result = subprocess.run(
        [*command, "--batches-per-epoch", "12", "--model", "cli.Regression"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "initial value from configure_optimizers" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("ReduceLROnPlateau:lr-SGD "))
    base = ls.WarmupCosineLR(warmup_steps=6, min_factor=0.01).simulate(48, initial=0.05)  # Regression's lr
    assert float(row.split()[2]) == pytest.approx(base[5], rel=1e-3)
    broken = subprocess.run(
        [*command, "--batches-per-epoch", "12", "--model", "cli.Nope"], capture_output=True, text=True, env=env
    )
    assert broken.returncode == 2 and "does not name a class" in broken.stderr


def test_preview_of_a_fit_with_a_gradient_accumulation_schedule_equals_the_fit() -> None:
    from lightning.pytorch.callbacks import GradientAccumulationScheduler

    def scheduling() -> GradientAccumulationScheduler:
        return GradientAccumulationScheduler({0: 4, 2: 2, 3: 1})  # 4 + 4 + 8 + 16 = 32 steps

    trainer = make_trainer([scheduling()], max_epochs=4)
    plan = ls.FitPlan.from_trainer(trainer, batches_per_epoch=16)
    assert (plan.total_steps, plan.total_epochs, plan.steps_per_epoch) == (32, 4, 4)
    assert plan.epoch_of_step().tolist() == [0] * 4 + [1] * 4 + [2] * 8 + [3] * 16
    result = ls.preview(callbacks(), trainer, batches_per_epoch=16, initial=[0.1, 0.2])
    columns = list(result.values.values())
    probe = Probe(read)
    make_trainer([scheduling(), *callbacks(), probe], max_epochs=4).fit(WithKL())
    assert sorted({row[0] for row in probe.rows}) == list(range(32))
    for step, _, values in probe.rows:
        assert values == [column[step] for column in columns]


def test_an_accumulation_schedule_in_a_plan_is_checked() -> None:
    with pytest.raises(ValueError, match=r"`accumulate_grad_batches\[2\]` must be >= 1, got 0"):
        ls.FitPlan(max_epochs=3, accumulate_grad_batches={0: 2, 2: 0})
    with pytest.raises(ValueError, match=r"at least one \{epoch: batches\} entry"):
        ls.FitPlan(max_epochs=3, accumulate_grad_batches={})
    capped = ls.FitPlan(max_epochs=5, max_steps=6, batches_per_epoch=16, accumulate_grad_batches={1: 4})
    assert (capped.total_steps, capped.total_epochs, capped.accumulation(0), capped.accumulation(3)) == (6, 1, 1, 4)


def test_preview_command_line_takes_a_gradient_accumulation_schedule(tmp_path: Path) -> None:
    config = tmp_path / "fit.yaml"
    config.write_text(
        "trainer:\n  max_epochs: 4\n  callbacks:\n"
        "    - class_path: lightning.pytorch.callbacks.GradientAccumulationScheduler\n"
        "      init_args: {scheduling: {0: 4, 2: 2, 3: 1}}\n"
        "    - class_path: lightning_schedulers.CosineAnnealingLR\n"
        "      init_args: {T_max: 1.0, interval: step}\n"
    )
    result = run_cli("preview", str(config), "--batches-per-epoch", "16")
    assert result.returncode == 0, result.stderr
    assert "32 optimizer steps (accumulation by epoch {0: 4, 2: 2, 3: 1})" in result.stdout


def test_preview_command_line_takes_tokens_per_step_and_a_batch_size_ramp(tmp_path: Path) -> None:
    config = tmp_path / "long.yaml"
    wsd = {
        "class_path": "lightning_schedulers.WarmupStableDecayLR",
        "init_args": {"warmup_steps": 0.05, "decay_steps": 0.2, "clock": "tokens", "count": 2048},
    }
    config.write_text(yaml.safe_dump({"trainer": {"max_steps": 1000, "callbacks": [wsd]}}))
    result = run_cli("preview", str(config), "--batches-per-epoch", "10000", "--tokens-per-step", "4096")
    assert result.returncode == 0, result.stderr
    expected = ls.WarmupStableDecayLR(0.05, decay_steps=0.2, clock="tokens", count=2048).simulate(
        1000, initial=1.0, units_per_step=4096
    )
    assert f"{expected[500]:.4g}" in result.stdout and f"{expected[999]:.4g}" in result.stdout
    missing = run_cli("preview", str(config), "--batches-per-epoch", "10000")
    assert missing.returncode == 2 and "--tokens-per-step" in missing.stderr
    ramp = {"class_path": "lightning_schedulers.BatchSizeRamp", "init_args": {"scheduling": {0: 1, 200: 2, 400: 4}}}
    cosine = {"class_path": "lightning_schedulers.WarmupCosineLR", "init_args": {"warmup_steps": 0.1}}
    config.write_text(yaml.safe_dump({"trainer": {"max_epochs": 3, "callbacks": [cosine, ramp]}}))
    ramped = run_cli("preview", str(config), "--batches-per-epoch", "300")
    assert ramped.returncode == 0, ramped.stderr
    plan = ls.FitPlan(max_epochs=3, batches_per_epoch=300, batch_size_ramp=ls.BatchSizeRamp({0: 1, 200: 2, 400: 4}))
    assert f"{plan.total_steps} optimizer steps (accumulation ramped by BatchSizeRamp(" in ramped.stdout
