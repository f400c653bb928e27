"""LightningCLI: every callback and schedule is configurable from YAML (class_path / init_args)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.cli import LightningCLI

import lightning_schedulers as ls
from lightning_schedulers.schedules import Cosine, Linear

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIG = EXAMPLES / "cli_config.yaml"
sys.path.insert(0, str(EXAMPLES))

from cli import Regression, Synthetic  # noqa: E402


def test_the_example_config_parses_into_the_callbacks(tmp_path: Path) -> None:
    cli = LightningCLI(
        Regression,
        Synthetic,
        run=False,
        args=["--config", str(CONFIG), f"--trainer.logger.init_args.save_dir={tmp_path}"],
    )
    callbacks = [cb for cb in cli.trainer.callbacks if isinstance(cb, ls.SchedulerCallback)]
    plateau, momentum, attribute, l2 = callbacks
    assert isinstance(plateau, ls.ReduceLROnPlateau) and plateau.factor == 0.5 and plateau.state.patience == 2
    assert isinstance(plateau.base, ls.WarmupCosineLR) and plateau.base.warmup_steps == 6
    assert isinstance(momentum, ls.PiecewiseLinear) and momentum.optimizer == "SGD"
    assert isinstance(attribute, ls.ScheduleCallback)
    binding = attribute._bindings()[0]
    assert binding.schedules == (Cosine(0.2, 0.0, 48),)
    assert binding.target == ls.Attribute("net.2.p")
    assert isinstance(l2, ls.PiecewiseLinearStateScheduler) and l2.milestones_values == ((0, 0.0), (24, 0.001))


def test_every_family_parses_from_yaml(tmp_path: Path) -> None:
    callbacks = [
        {"class_path": "lightning_schedulers.StepLR", "init_args": {"step_size": 2, "gamma": 0.5}},
        {"class_path": "lightning_schedulers.CyclicLR", "init_args": {"base_lr": 0.01, "max_lr": 0.1}},
        {"class_path": "lightning_schedulers.ExponentialDecayLR", "init_args": {"decay_steps": 10}},
        {
            "class_path": "lightning_schedulers.ExpStateScheduler",
            "init_args": {"initial_value": 1.0, "gamma": 0.9, "param_name": "l2_weight"},
        },
        {
            "class_path": "lightning_schedulers.ScheduleCallback",
            "init_args": {
                "schedule": {
                    "class_path": "lightning_schedulers.schedules.Join",
                    "init_args": {
                        "schedules": [
                            {
                                "class_path": "lightning_schedulers.schedules.Linear",
                                "init_args": {"start": 0.0, "end": 0.1, "steps": 5},
                            },
                            {"class_path": "lightning_schedulers.schedules.Constant", "init_args": {"level": 0.1}},
                        ],
                        "boundaries": [5],
                    },
                },
                "target": "weight_decay",
            },
        },
    ]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"trainer": {"callbacks": callbacks, "logger": False}}))
    cli = LightningCLI(Regression, Synthetic, run=False, args=["--config", str(config)])
    kinds = [type(cb).__name__ for cb in cli.trainer.callbacks if isinstance(cb, ls.SchedulerCallback)]
    assert kinds == ["StepLR", "CyclicLR", "ExponentialDecayLR", "ExpStateScheduler", "ScheduleCallback"]
    generic = cli.trainer.callbacks[kinds.index("ScheduleCallback")]
    assert generic.simulate(7).tolist()[4:] == pytest.approx([0.08, 0.1, 0.1], rel=1e-15)


@pytest.mark.slow
def test_the_example_config_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "cli.py"),
            "fit",
            "--config",
            str(CONFIG),
            "--trainer.max_epochs=2",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(next(tmp_path.glob("cli/version_*/metrics.csv")), newline="") as handle:
        header = next(csv.reader(handle))
    assert {"lr-SGD", "lr-SGD-momentum", "net.2.p", "l2_weight", "val_loss"} <= set(header)


FRACTIONS = """
trainer:
  accelerator: cpu
  max_epochs: 2
  log_every_n_steps: 1
  enable_progress_bar: false
  enable_model_summary: false
  enable_checkpointing: false
  logger:
    class_path: lightning.pytorch.loggers.CSVLogger
    init_args: {save_dir: SAVE_DIR, name: cli}
  callbacks:
    - class_path: lightning_schedulers.ReduceLROnPlateau
      init_args:
        monitor: val_loss
        factor: 0.5
        patience: 1000
        base:
          class_path: lightning_schedulers.WarmupCosineLR
          init_args: {warmup_steps: 0.25, min_factor: 0.01}
    - class_path: lightning_schedulers.PiecewiseLinear
      init_args:
        param_name: momentum
        milestones_values: [[0, 0.85], [0.5, 0.95]]
    - class_path: lightning_schedulers.CosineAnnealingStateScheduler
      init_args: {start_value: 0.0, end_value: 0.01, cycle_size: 0.5, param_name: l2_weight, interval: step}
"""


def test_fractions_of_training_parse_from_yaml_everywhere_including_nested_callbacks(tmp_path: Path) -> None:
    config = tmp_path / "fractions.yaml"
    config.write_text(FRACTIONS.replace("SAVE_DIR", str(tmp_path)))
    cli = LightningCLI(Regression, Synthetic, run=False, args=["--config", str(config)])
    plateau, momentum, l2 = (cb for cb in cli.trainer.callbacks if isinstance(cb, ls.SchedulerCallback))
    assert plateau.base.warmup_steps == ls.fraction(0.25)
    assert momentum.milestones_values[1][0] == ls.fraction(0.5)
    assert l2.cycle_size == ls.fraction(0.5)


@pytest.mark.slow
def test_a_lightning_cli_fit_with_fractions_applies_them_against_the_fit(tmp_path: Path) -> None:
    config = tmp_path / "fractions.yaml"
    config.write_text(FRACTIONS.replace("SAVE_DIR", str(tmp_path)))
    command = [sys.executable, str(EXAMPLES / "cli.py"), "fit", "--config", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(next(tmp_path.glob("cli/version_*/metrics.csv")), newline="") as handle:
        rows = list(csv.DictReader(handle))
    lr = {int(r["step"]): float(r["lr-SGD"]) for r in rows if r.get("lr-SGD")}
    total = 2 * 12  # Synthetic: 384 training samples in batches of 32, two epochs
    expected = ls.WarmupCosineLR(warmup_steps=6, min_factor=0.01).simulate(total, initial=0.05)  # 0.25 of 24
    assert sorted(lr) == list(range(total))
    assert [lr[s] for s in range(total)] == pytest.approx(expected.tolist(), rel=1e-12)


def preview_rows(stdout: str) -> tuple[list[int], dict[str, list[float]]]:
    """The columns and rows of the preview command's table."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("step "))
    header = lines[at].split()[1:]
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[at + 2 :] if line.strip()}
    return [int(s) for s in header], rows


ABSOLUTE = """
trainer:
  max_steps: 40
  callbacks:
    - class_path: lightning_schedulers.ScheduleCallback
      init_args:
        target: weight_decay
        schedule: {class_path: lightning_schedulers.schedules.Linear, init_args: {start: 0.0, end: 1.0, steps: 20}}
"""


def test_preview_command_line_needs_no_loader_length_where_the_values_do_not_depend_on_it(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "lightning_schedulers", "preview"]
    # max_steps alone, a step-interval callback: the dataloader's length changes nothing
    config = tmp_path / "absolute.yaml"
    config.write_text(ABSOLUTE)
    result = subprocess.run([*command, str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "40 optimizer steps" in result.stdout
    steps, rows = preview_rows(result.stdout)
    expected = ls.ScheduleCallback(Linear(0.0, 1.0, 20), target="weight_decay").simulate(40)
    assert rows["ScheduleCallback:lr-optimizer0-weight_decay"] == pytest.approx([expected[s] for s in steps])
    # max_epochs alone, an epoch-interval callback: a column per epoch
    one = tmp_path / "one.yaml"
    one.write_text("class_path: lightning_schedulers.StepLR\ninit_args: {step_size: 2, gamma: 0.5}\n")
    result = subprocess.run(
        [*command, str(one), "--max-epochs", "6", "--initial", "0.8"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "6 epochs (the columns count epochs" in result.stdout
    epochs, rows = preview_rows(result.stdout)
    expected = ls.StepLR(step_size=2, gamma=0.5).simulate(6, initial=0.8)
    assert rows["StepLR:lr-optimizer0"] == pytest.approx([expected[e] for e in epochs], rel=1e-3)
    # where the step count depends on it, the length is still asked for, in one line
    for extra in (["--max-epochs", "3"], ["--max-steps", "40", "--max-epochs", "3"]):
        result = subprocess.run([*command, str(config), *extra], capture_output=True, text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "error:" in result.stderr and "give --batches-per-epoch" in result.stderr


def test_preview_command_line_without_matplotlib_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lightning_schedulers.__main__ import main

    config = tmp_path / "absolute.yaml"
    config.write_text(ABSOLUTE)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # `import matplotlib.pyplot` fails
    with pytest.raises(SystemExit) as exited:
        main(["preview", str(config), "--out", str(tmp_path / "schedule.png")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert message.startswith("python -m lightning_schedulers preview: error: --out ")
    assert "plotting needs matplotlib" in message and "pip install matplotlib" in message
    assert not (tmp_path / "schedule.png").exists()
