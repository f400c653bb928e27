"""The main example of the README runs end to end (shortened) and its preview matches its log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vae_digits.py"


def test_vae_digits_example_runs_and_log_matches_simulate(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--epochs", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "lr-AdamW: 94 logged values, max |logged - simulate| = 0" in result.stdout
    assert "kl_weight: 94 logged values, max |logged - simulate| = 0" in result.stdout
    progress = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in progress] == ["1/2", "2/2"]  # a line per epoch, with the time so far
    assert all(line.endswith("s") and "val/mse=" in line for line in progress)
    png = tmp_path / "vae_digits_schedules.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


CLASSIFIER = EXAMPLE.parent / "digits_classifier.py"


def test_digits_classifier_resumed_mid_epoch_applies_what_the_uninterrupted_fit_did(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(CLASSIFIER), "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = next(line for line in result.stdout.splitlines() if line.startswith("resumed from step"))
    assert "identical: True (largest difference 0)" in summary
    assert "0 plateau reduction" not in summary  # a decision was taken, and taken again after the resume
    assert (tmp_path / "digits_schedules.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((tmp_path / "tensorboard" / "straight" / "version_0").glob("events.out.tfevents.*"))
    assert (tmp_path / "csv" / "resumed" / "version_0" / "metrics.csv").exists()


FABRIC = EXAMPLE.parent / "fabric_loop.py"


def test_fabric_example_resumes_with_fabric_load_and_applies_what_it_applied_uninterrupted(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(FABRIC), "--epochs", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "58 steps; the run resumed at step 29 applied exactly what the uninterrupted one did" in result.stdout
    assert (tmp_path / "fabric_loop.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
