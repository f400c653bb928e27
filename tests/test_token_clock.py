"""``clock="samples"`` / ``"tokens"``: each optimizer step trains with f(units consumed before it), in real fits.

The ground truth is a probe that records, at every batch start, the lr the optimizer holds, the
step the batch belongs to and the units the batch holds. The expected value is the closed form of
the schedule at the units of every batch of every earlier step, computed from those records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import Crash, assert_parity, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear, fraction

PEAK = 0.1


class TokenModule(pl.LightningModule):
    """Batches ``(x, y, tokens)``: each sample holds 1..16 tokens (a padded sequence's length)."""

    def __init__(self, n_samples: int = 40, batch_size: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1)
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n_samples, 4, generator=g)
        self.y = torch.randn(n_samples, 1, generator=g)
        self.tokens = torch.randint(1, 17, (n_samples,), generator=g)
        self.batch_size = batch_size

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y, self.tokens), batch_size=self.batch_size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=PEAK)


def tokens_of(batch: Any) -> int:
    return int(batch[2].sum())


class UnitProbe(pl.Callback):
    """(optimizer step, units the batch holds, lr held) at every batch start."""

    def __init__(self, units: Any) -> None:
        self.units = units
        self.rows: list[tuple[int, int, float]] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        lr = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.rows.append((trainer.global_step, self.units(batch), lr))


def consumed_before(rows: list[tuple[int, int, float]]) -> np.ndarray:
    """For each row: the units of every batch of every earlier optimizer step."""
    per_step: dict[int, int] = {}
    for step, units, _ in rows:
        per_step[step] = per_step.get(step, 0) + units
    out = []
    for step, _, _ in rows:
        out.append(sum(u for s, u in per_step.items() if s < step))
    return np.asarray(out, dtype=np.float64)


def linear(units: np.ndarray, length: float) -> np.ndarray:
    return PEAK + (0.0 - PEAK) * np.minimum(units / length, 1.0)


def fit(callback: ls.SchedulerCallback, probe_units: Any, **trainer_kwargs: Any) -> list[tuple[int, int, float]]:
    probe = UnitProbe(probe_units)
    make_trainer([callback, probe], **trainer_kwargs).fit(TokenModule())
    return probe.rows


@pytest.mark.parametrize("accumulate", [1, 3])
def test_tokens_from_a_function_of_the_batch(accumulate: int) -> None:
    length = 500
    callback = ls.ScheduleCallback(Linear(PEAK, 0.0, length), "lr", clock="tokens", count=tokens_of)
    rows = fit(callback, tokens_of, max_epochs=2, accumulate_grad_batches=accumulate)
    assert len(rows) == 20
    lrs = np.array([r[2] for r in rows])
    assert_parity(lrs, linear(consumed_before(rows), length))
    # Every micro-batch of one optimizer step trains with the same value.
    for step in {r[0] for r in rows}:
        assert len({r[2] for r in rows if r[0] == step}) == 1
    assert lrs[-1] < PEAK  # it moved


class ManualTokenModule(TokenModule):
    """Manual optimization: one step every second batch (its own accumulation)."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.manual_backward(loss)
        if batch_idx % 2 == 1:
            optimizer = self.optimizers()
            optimizer.step()  # type: ignore[union-attr]
            optimizer.zero_grad()  # type: ignore[union-attr]
        return loss


def test_manual_optimization_counts_the_batches_of_each_step() -> None:
    callback = ls.ScheduleCallback(Linear(PEAK, 0.0, 500), "lr", clock="tokens", count=tokens_of)

    class Probe(UnitProbe):
        def on_train_batch_start(self, trainer: pl.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
            # global_step counts the manual steps; the batch belongs to the step taken at its odd index.
            lr = float(trainer.optimizers[0].param_groups[0]["lr"])
            self.rows.append((trainer.global_step, self.units(batch), lr))

    probe = Probe(tokens_of)
    make_trainer([callback, probe], max_epochs=2).fit(ManualTokenModule())
    assert_parity([r[2] for r in probe.rows], linear(consumed_before(probe.rows), 500))
    assert probe.rows[-1][2] < PEAK


def test_samples_default_to_the_first_tensor_and_count_a_short_last_batch() -> None:
    length = 70  # the fit holds 2 x 38 samples: the schedule ends within it and holds
    callback = ls.ScheduleCallback(Linear(PEAK, 0.0, length), "lr", clock="samples")
    probe = UnitProbe(lambda b: int(b[0].shape[0]))
    module = TokenModule(n_samples=38)
    make_trainer([callback, probe], max_epochs=2, accumulate_grad_batches=2).fit(module)
    sizes = [r[1] for r in probe.rows]
    assert sizes[:10] == [4] * 9 + [2]
    assert_parity([r[2] for r in probe.rows], linear(consumed_before(probe.rows), length))


def test_an_int_count_and_a_fraction_of_the_fit_in_tokens() -> None:
    # 10 batches an epoch x 3 epochs x 128 tokens: a fraction resolves against 3840 tokens.
    callback = ls.WarmupCosineLR(warmup_steps=fraction(0.25), clock="tokens", count=128)
    rows = fit(callback, lambda b: 128, max_epochs=3, accumulate_grad_batches=2)
    units = consumed_before(rows)
    total, warmup = 3840, 960
    t = units
    expected = np.where(
        t < warmup,
        PEAK * t / warmup,
        PEAK * 0.5 * (1 + np.cos(np.pi * np.minimum((t - warmup) / (total - warmup), 1.0))),
    )
    assert_parity([r[2] for r in rows], expected)


def test_the_same_schedule_in_optimizer_steps_and_in_tokens_of_fixed_batches() -> None:
    # With every batch holding k tokens and no accumulation, t tokens = t / k steps.
    k = 64
    steps_cb = ls.ScheduleCallback(Linear(PEAK, 0.0, 10), "lr")
    tokens_cb = ls.ScheduleCallback(Linear(PEAK, 0.0, 10 * k), "lr", clock="tokens", count=k)
    a = fit(steps_cb, lambda b: 0)
    b = fit(tokens_cb, lambda b: 0)
    assert_parity([r[2] for r in b], [r[2] for r in a])


def test_resume_mid_epoch_continues_from_the_units_in_the_checkpoint(tmp_path: Path) -> None:
    def callback() -> ls.ScheduleCallback:
        return ls.ScheduleCallback(Linear(PEAK, 0.0, 400), "lr", clock="tokens", count=tokens_of)

    first = UnitProbe(tokens_of)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=2, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer(
            [callback(), ckpt, Crash(5), first], max_epochs=2, accumulate_grad_batches=3, enable_checkpointing=True
        ).fit(TokenModule())
    path = tmp_path / "epoch=0-step=2.ckpt"
    assert path.exists(), sorted(p.name for p in tmp_path.iterdir())
    probe = UnitProbe(tokens_of)
    make_trainer([callback(), probe], max_epochs=2, accumulate_grad_batches=3).fit(TokenModule(), ckpt_path=str(path))
    # Lightning replays a plain DataLoader's epoch from its start after a mid-epoch resume: the
    # batches differ from the uninterrupted fit's, and the count goes on from the checkpoint's.
    before = [r for r in first.rows if r[0] < 2]
    rows = before + probe.rows
    assert probe.rows[0][0] == 2 and len(probe.rows) == 20 - 6
    assert_parity([r[2] for r in probe.rows], linear(consumed_before(rows)[len(before) :], 400))


def test_a_count_that_is_not_a_non_negative_int_names_the_batch() -> None:
    callback = ls.ScheduleCallback(
        Linear(PEAK, 0.0, 100), "lr", clock="tokens", count=lambda b: -1 if int(b[2][0]) > 0 else 0
    )
    with pytest.raises(ValueError, match=r"`count` returned -1 for batch 0"):
        fit(callback, tokens_of)
    callback = ls.ScheduleCallback(Linear(PEAK, 0.0, 100), "lr", clock="tokens", count=lambda b: 2.5)
    with pytest.raises(ValueError, match=r"returned 2.5 for batch 0"):
        fit(callback, tokens_of)


def test_bad_count_arguments() -> None:
    with pytest.raises(ValueError, match=r"`count`=8 counts samples or tokens.*clock='optimizer'"):
        ls.StepLR(2, count=8)
    with pytest.raises(TypeError, match=r"`count` must be a non-negative int.*'many'"):
        ls.StepLR(2, clock="tokens", count="many")
    with pytest.raises(ValueError, match=r"`count` must be a non-negative int, got -3"):
        ls.StepLR(2, clock="tokens", count=-3)
    with pytest.raises(ValueError, match="clock='tokens' needs `count`"):
        fit(ls.ScheduleCallback(Linear(PEAK, 0.0, 100), "lr", clock="tokens"), tokens_of)


def test_a_fraction_needs_an_int_count() -> None:
    callback = ls.WarmupCosineLR(warmup_steps=fraction(0.1), clock="tokens", count=tokens_of)
    with pytest.raises(ValueError, match=r"fraction of training needs the fit's length in tokens.*count=<int>"):
        fit(callback, tokens_of)


DDP_SCRIPT = Path(__file__).with_name("token_ddp_run.py")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["function", "int"])
def test_ddp_counts_every_rank_and_reduces_at_most_once_a_step(tmp_path: Path, mode: str) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(DDP_SCRIPT), str(tmp_path), mode], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    rows0, rows1 = ranks[0]["rows"], ranks[1]["rows"]
    assert [r[0] for r in rows0] == [r[0] for r in rows1]  # the same steps on both ranks
    if mode == "function":
        assert [r[1] for r in rows0] != [r[1] for r in rows1], "the ranks should hold different token counts"
    # Units consumed before each step: every micro-batch of every rank.
    both = [(s, u0 + u1, lr) for (s, u0, lr), (_, u1, _) in zip(rows0, rows1, strict=True)]
    expected = linear(consumed_before(both), 800)
    assert_parity([r[2] for r in rows0], expected)
    np.testing.assert_array_equal([r[2] for r in rows0], [r[2] for r in rows1])
    steps = ranks[0]["steps"]
    assert steps == 2 * 3  # 5 batches a rank an epoch, 2 per step: 3 steps an epoch
    # During the batches: one all-reduce (and no other collective) per optimizer step with a function
    # count, none with an int.
    assert ranks[0]["reduces"] == ({"all_reduce": steps} if mode == "function" else {})


def test_simulate_and_preview_take_the_units_per_step() -> None:
    # 10 batches an epoch x 3 epochs, 2 per step: 15 steps of 256 tokens; warmup a quarter of 3840 tokens.
    callback = ls.WarmupCosineLR(warmup_steps=fraction(0.25), clock="tokens", count=128)
    rows = fit(callback, lambda b: 128, max_epochs=3, accumulate_grad_batches=2)
    per_step = [r[2] for r in rows[::2]]
    simulated = callback.simulate(15, initial=PEAK, units_per_step=256)
    assert_parity(simulated, per_step)
    plan = ls.FitPlan(max_epochs=3, batches_per_epoch=10, accumulate_grad_batches=2, tokens_per_step=256)
    previewed = ls.preview([callback], plan, initial=PEAK).values["WarmupCosineLR:lr-optimizer0"]
    np.testing.assert_array_equal(previewed, simulated)
    with pytest.raises(ValueError, match="give the plan's tokens_per_step"):
        ls.preview([callback], ls.FitPlan(max_epochs=3, batches_per_epoch=10), initial=PEAK)


def test_a_hand_written_loop_counts_the_units_given_to_step() -> None:
    # The same fit as a Trainer's, by hand: units given per step (variable), and an int count.
    def loop(callback: ls.SchedulerCallback, units: list[int | None]) -> list[float]:
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=PEAK)
        bound = callback.bind(optimizer)
        seen = []
        for u in units:
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            bound.step(units=u)
        return seen

    steps = [37, 12, 90, 5, 64, 64, 64, 200, 3, 1]
    got = loop(ls.ScheduleCallback(Linear(PEAK, 0.0, 400), "lr", clock="tokens", count=tokens_of), steps)
    before = np.concatenate([[0], np.cumsum(steps)[:-1]]).astype(np.float64)
    assert_parity(got, linear(before, 400))
    fixed = loop(ls.ScheduleCallback(Linear(PEAK, 0.0, 400), "lr", clock="tokens", count=48), [None] * 10)
    assert_parity(fixed, linear(48.0 * np.arange(10), 400))
    with pytest.raises(ValueError, match=r"pass step\(units=...\)"):
        loop(ls.ScheduleCallback(Linear(PEAK, 0.0, 400), "lr", clock="tokens", count=tokens_of), [None])


def test_values_are_logged_every_log_every_n_steps_optimizer_steps() -> None:
    from _helpers import RecordingLogger

    logger = RecordingLogger()
    callback = ls.ScheduleCallback(Linear(PEAK, 0.0, 500), "lr", clock="tokens", count=tokens_of, name="lr")
    probe = UnitProbe(tokens_of)
    make_trainer([callback, probe], max_epochs=2, logger=logger, log_every_n_steps=4).fit(TokenModule())
    logged = {step: m["lr"] for step, m in logger.rows if "lr" in m}
    # At the start, then every 4 optimizer steps (not every 4 tokens), the value of that step.
    assert sorted(logged) == [0, 4, 8, 12, 16]
    held = {step: lr for step, _, lr in probe.rows}
    assert all(logged[s] == held[s] for s in logged)
