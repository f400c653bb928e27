"""EMAWeightAveraging with a scheduled decay: real fits against hand-computed EMAs, Lightning's and timm's.

The ground truth is a probe that reads the training weights after every optimizer step; the
expected average is computed from them in the test, with the formula written out (Lightning's
``d * ema + (1 - d) * w``, timm's ``ModelEmaV3`` itself for its warmup). Modules are float64, so
the stated tolerance (1e-12 relative) is meaningful.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import PARITY_RTOL, Crash, RecordingLogger, assert_parity, make_trainer
from lightning.pytorch.callbacks import EMAWeightAveraging as LightningEMA
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_schedulers.callbacks.ema import EMAWeightAveraging
from lightning_schedulers.schedules import Linear, fraction, join
from lightning_schedulers.schedules.ema import EMAWarmup, HalfLife

# ----------------------------------------------------------------- fixtures


class EMAModule(pl.LightningModule):
    """A float64 regression with a float buffer that moves every step (so buffers are averaged too)."""

    def __init__(self, n_samples: int = 32, batch_size: int = 2, same_batches: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1)).double()
        self.register_buffer("seen", torch.zeros(2, dtype=torch.float64))
        g = torch.Generator().manual_seed(1)
        # A resumed fit restarts its epoch's (non-resumable) dataloader: with every batch the same,
        # the batches after a mid-epoch resume are those the uninterrupted fit saw.
        rows = batch_size if same_batches else n_samples
        self.x = torch.randn(rows, 4, generator=g, dtype=torch.float64).repeat(n_samples // rows, 1)
        self.y = torch.randn(rows, 1, generator=g, dtype=torch.float64).repeat(n_samples // rows, 1)
        self.batch_size = batch_size

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        with torch.no_grad():
            self.seen += torch.stack([x.mean(), y.mean()])
        return nn.functional.mse_loss(self.net(x), y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=self.batch_size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def flat(module: nn.Module) -> torch.Tensor:
    """Parameters then buffers, flattened (the order AveragedModel averages them in)."""
    return torch.cat([t.detach().reshape(-1).clone() for t in [*module.parameters(), *module.buffers()]])


class WeightProbe(pl.Callback):
    """After every optimizer step: the training weights, and the average the EMA callback holds."""

    def __init__(self, ema: Any) -> None:
        self.ema = ema
        self.weights: dict[int, torch.Tensor] = {}
        self.averages: dict[int, torch.Tensor] = {}

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        # The 0-based index of the last step taken; the batches after it that accumulate move the buffer
        # but update nothing: the weights the update after step t saw are those of the first batch end.
        t = trainer.global_step - 1
        if t < 0 or t in self.weights:
            return
        self.weights[t] = flat(pl_module)
        self.averages[t] = flat(self.ema._average_model.module)  # Lightning's attribute


def hand_ema(weights: dict[int, torch.Tensor], updates: list[int], decay: Any) -> dict[int, torch.Tensor]:
    """The EMA after each update step: the first copies, then ``d * ema + (1 - d) * w`` with ``d = decay(t)``."""
    out: dict[int, torch.Tensor] = {}
    ema: torch.Tensor | None = None
    for t in updates:
        if ema is None:
            ema = weights[t].clone()
        else:
            d = decay(t)
            ema = d * ema + (1 - d) * weights[t]
        out[t] = ema
    return out


def lightning_update_steps(n_steps: int, every: int = 1, start: int | None = None) -> list[int]:
    """Lightning's rule (EMAWeightAveraging.should_update), written out: index >= start and index % every == 0."""
    return [t for t in range(n_steps) if (start is None or t >= start) and every > 0 and t % every == 0]


def fit(callbacks: list[pl.Callback], module: pl.LightningModule | None = None, **kwargs: Any) -> pl.LightningModule:
    module = module or EMAModule()
    make_trainer(callbacks, **kwargs).fit(module)
    return module


def timm_model_ema() -> Any:
    """``timm/utils/model_ema.py`` loaded on its own: ``import timm.utils`` pulls in torchvision."""
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the reference library 'timm' is not installed (pip install --no-deps 'timm>=1.0')")
    path = Path(spec.origin).parent / "utils" / "model_ema.py"
    module_spec = importlib.util.spec_from_file_location("_ref_timm_model_ema", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------- a constant decay: Lightning's callback


def test_a_constant_decay_is_lightnings_ema_bit_for_bit() -> None:
    """Same arguments, same fit: every update and the final module equal Lightning's (same formula, same floats)."""
    arguments = dict(decay=0.9, update_every_n_steps=2, update_starting_at_step=3, update_starting_at_epoch=1)
    theirs = LightningEMA(**arguments)  # type: ignore[arg-type]
    ours = EMAWeightAveraging(**arguments)  # type: ignore[arg-type]
    probe_theirs, probe_ours = WeightProbe(theirs), WeightProbe(ours)
    a = fit([theirs, probe_theirs], max_epochs=2)
    b = fit([ours, probe_ours], max_epochs=2)
    assert len(probe_ours.averages) == 32
    for t in probe_theirs.averages:
        assert torch.equal(probe_ours.averages[t], probe_theirs.averages[t]), t
    assert torch.equal(flat(a), flat(b))  # both modules end holding the average
    assert ours.last_decay == 0.9


# ----------------------------------------------------------------- scheduled decays against hand-computed EMAs


def step_decay(t: int) -> float:
    return 1.0 - 1.0 / (t + 2)


@pytest.mark.parametrize(
    ("decay", "reference"),
    [
        (
            join([Linear(0.5, 0.95, 10), Linear(0.95, 0.99, 20)], [10]),
            lambda t: min(0.5 + 0.045 * t, 0.95 + 0.002 * (t - 10)) if t < 10 else min(0.95 + 0.002 * (t - 10), 0.99),
        ),
        (step_decay, step_decay),
        (HalfLife(3), lambda t: 0.5 ** (1 / 3)),
    ],
    ids=["join", "function", "half-life"],
)
def test_a_scheduled_decay_is_the_hand_computed_ema(decay: Any, reference: Any) -> None:
    """Accumulation 2, an update every 3rd step from step 2: d(t) of the optimizer step t, the first update a copy."""
    ema = EMAWeightAveraging(decay=decay, update_every_n_steps=3, update_starting_at_step=2)
    probe = WeightProbe(ema)
    module = fit([ema, probe], max_epochs=3, accumulate_grad_batches=2)
    n_steps = 3 * 16 // 2
    assert sorted(probe.weights) == list(range(n_steps))
    updates = lightning_update_steps(n_steps, every=3, start=2)
    assert updates[0] == 3
    expected = hand_ema(probe.weights, updates, reference)
    for t in range(n_steps):
        last = max((u for u in updates if u <= t), default=None)
        if last is not None:
            assert_parity(probe.averages[t].numpy(), expected[last].numpy())
    assert_parity(flat(module).numpy(), expected[updates[-1]].numpy())
    assert ema.last_decay is not None
    assert math.isclose(ema.last_decay, reference(updates[-1]), rel_tol=PARITY_RTOL)


def test_the_join_reference_is_the_schedule() -> None:
    """The closed form used above for the join, checked against the schedule on its own."""
    schedule = join([Linear(0.5, 0.95, 10), Linear(0.95, 0.99, 20)], [10])
    ts = np.arange(40)
    expected = np.where(ts < 10, 0.5 + 0.045 * ts, np.minimum(0.95 + 0.002 * (ts - 10), 0.99))
    assert_parity(schedule.values(ts), expected)


# ----------------------------------------------------------------- timm's ModelEmaV3


WARMUPS = [
    dict(decay=0.9999, warmup_gamma=1.0, warmup_power=2 / 3, min_decay=0.0, update_after_step=0),
    dict(decay=0.99, warmup_gamma=2.0, warmup_power=0.75, min_decay=0.1, update_after_step=3),
    dict(decay=0.5, warmup_gamma=0.5, warmup_power=1.0, min_decay=0.7, update_after_step=1),  # min_decay wins
    dict(decay=1.0, warmup_gamma=1e6, warmup_power=3.0, min_decay=0.0, update_after_step=10**6),
]


@pytest.mark.parametrize("arguments", WARMUPS)
def test_ema_warmup_is_timms_get_decay_of_the_next_step(arguments: dict[str, Any]) -> None:
    """EMAWarmup(t) == ModelEmaV3(use_warmup=True).get_decay(t + 1): timm's loop passes the steps taken so far."""
    reference = timm_model_ema().ModelEmaV3(nn.Linear(1, 1), use_warmup=True, **arguments)
    ts = [*range(0, 50), 10**3, 10**6 - 1, 10**6, 10**6 + 1, 10**6 + 7, 10**9, 10**12]
    expected = [reference.get_decay(t + 1) for t in ts]
    schedule = EMAWarmup(**arguments)
    assert_parity(schedule.values(ts), expected)
    assert_parity([schedule.value(t) for t in ts], expected)


@pytest.mark.parametrize("use_warmup", [True, False])
def test_a_fit_averages_as_timms_model_ema_v3(use_warmup: bool) -> None:
    """timm's ModelEmaV3, fed the probed weights with step=t+1, holds what the callback holds, step by step.

    use_warmup=True maps to decay=EMAWarmup(...); use_warmup=False to a float decay with
    update_starting_at_step=update_after_step (timm copies until then, the callback starts there).
    """
    timm_arguments = dict(decay=0.98, min_decay=0.2, update_after_step=4, warmup_gamma=1.5, warmup_power=0.8)
    if use_warmup:
        ema = EMAWeightAveraging(decay=EMAWarmup(**timm_arguments))  # type: ignore[arg-type]
    else:
        ema = EMAWeightAveraging(decay=0.98, update_starting_at_step=4)
    probe = WeightProbe(ema)
    module = EMAModule()
    copy = EMAModule()  # timm's EMA is built from the module before training
    copy.load_state_dict(module.state_dict())
    reference = timm_model_ema().ModelEmaV3(copy, use_warmup=use_warmup, foreach=False, **timm_arguments)
    fit([ema, probe], module=module, max_epochs=2)
    for t in sorted(probe.weights):
        torch.nn.utils.vector_to_parameters(probe.weights[t][:-2], copy.parameters())
        copy.seen.copy_(probe.weights[t][-2:])
        reference.update(copy, step=t + 1)
        if t >= 4:  # timm copies every step before update_after_step; the callback has not started
            assert_parity(probe.averages[t].numpy(), flat(reference.module).numpy())
    assert_parity(flat(module).numpy(), flat(reference.module).numpy())


# ----------------------------------------------------------------- half-life, fractions, logging


def test_half_life_halves_after_half_life_updates() -> None:
    for h in (1, 2, 7, 693, 10**6):
        d = HalfLife(h).value(0)
        assert_parity(d, math.exp(math.log(0.5) / h))
        if h < 10**3:  # d**h multiplies d's rounding by h
            assert math.isclose(d**h, 0.5, rel_tol=1e-12)
        assert d == HalfLife(h).value(10**12)


def test_a_fraction_of_the_fit_is_resolved_at_the_start_and_logged() -> None:
    """HalfLife(fraction(0.25)) of a 32-step fit is a half-life of 8 steps; the decay is logged every 4 steps."""
    logger = RecordingLogger()
    ema = EMAWeightAveraging(decay=HalfLife(fraction(0.25)), name="ema/decay")
    fit([ema], max_epochs=2, logger=logger, log_every_n_steps=4)
    d = 0.5 ** (1 / 8)
    logged = [(step, row["ema/decay"]) for step, row in logger.rows if "ema/decay" in row]
    # Update t (0-based) logs at global step t + 1 when t reaches a multiple of 4; the first update copies (0.0).
    assert [step for step, _ in logged] == [1, 5, 9, 13, 17, 21, 25, 29]
    assert logged[0][1] == 0.0
    for _, value in logged[1:]:
        assert math.isclose(value, d, rel_tol=PARITY_RTOL)
    assert ema.state_dict()["fit_total"] == 32


def test_simulate_resolves_fractions_against_its_length() -> None:
    ema = EMAWeightAveraging(decay=Linear(0.0, 1.0, fraction(0.5)))
    assert_parity(ema.simulate(10), np.minimum(np.arange(10) / 5, 1.0))
    with pytest.raises(ValueError, match=r"fraction of training.*simulate"):
        ema.decay_at(3)


# ----------------------------------------------------------------- resume


@pytest.mark.filterwarnings(
    "ignore:.*callbacks used to create the checkpoint.*", "ignore:.*dataloader is not resumable.*"
)
def test_a_fit_killed_mid_epoch_and_resumed_averages_bit_for_bit(tmp_path: Path) -> None:
    """Killed after the checkpoint at step 11 (mid-epoch 0, epochs of 16 steps), resumed: the same average each step."""

    def make() -> EMAWeightAveraging:
        return EMAWeightAveraging(
            decay=EMAWarmup(decay=0.99, warmup_power=0.75, update_after_step=2),
            update_every_n_steps=2,
            update_starting_at_epoch=1,
        )

    full_ema = make()
    full = WeightProbe(full_ema)
    module_full = fit([full_ema, full], EMAModule(same_batches=True), max_epochs=3)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit([make(), ckpt, Crash(13)], EMAModule(same_batches=True), max_epochs=3, enable_checkpointing=True)
    path = tmp_path / "epoch=0-step=11.ckpt"
    assert path.exists()
    resumed_ema = make()
    resumed = WeightProbe(resumed_ema)
    module_resumed = EMAModule(same_batches=True)
    make_trainer([resumed_ema, resumed], max_epochs=3).fit(module_resumed, ckpt_path=path)
    assert min(resumed.averages) == 11 and max(resumed.averages) == 47
    for t in resumed.averages:
        assert torch.equal(resumed.averages[t], full.averages[t]), t
        assert torch.equal(resumed.weights[t], full.weights[t]), t
    assert torch.equal(flat(module_resumed), flat(module_full))
    assert resumed_ema.last_decay == full_ema.last_decay


@pytest.mark.filterwarnings(
    "ignore:.*callbacks used to create the checkpoint.*", "ignore:.*dataloader is not resumable.*"
)
def test_a_resumed_fit_keeps_the_length_its_fractions_were_resolved_against(tmp_path: Path) -> None:
    """HalfLife(fraction(0.25)) of a 32-step fit is 8 steps; resumed into a 64-step fit, it stays 8."""
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    killed = [EMAWeightAveraging(decay=HalfLife(fraction(0.25))), ckpt, Crash(13)]
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(killed, max_epochs=2, enable_checkpointing=True)
    resumed = EMAWeightAveraging(decay=HalfLife(fraction(0.25)))
    make_trainer([resumed], max_epochs=4).fit(EMAModule(), ckpt_path=tmp_path / "epoch=0-step=11.ckpt")
    assert resumed.last_decay == 0.5 ** (1 / 8)
    fresh = EMAWeightAveraging(decay=HalfLife(fraction(0.25)))
    fit([fresh], max_epochs=4)
    assert fresh.last_decay == 0.5 ** (1 / 16)


@pytest.mark.filterwarnings(
    "ignore:.*callbacks used to create the checkpoint.*", "ignore:.*dataloader is not resumable.*"
)
def test_a_checkpoint_of_lightnings_ema_resumes_into_this_one(tmp_path: Path) -> None:
    """Same state layout: Lightning's EMA killed at step 13, resumed by ours with the same float decay."""
    arguments = dict(decay=0.95, update_every_n_steps=2)
    full = WeightProbe(LightningEMA(**arguments))  # type: ignore[arg-type]
    module_full = fit([full.ema, full], EMAModule(same_batches=True), max_epochs=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=11, save_top_k=-1)
    killed = [LightningEMA(**arguments), ckpt, Crash(13)]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(killed, EMAModule(same_batches=True), max_epochs=2, enable_checkpointing=True)
    resumed = WeightProbe(EMAWeightAveraging(**arguments))  # type: ignore[arg-type]
    module_resumed = EMAModule(same_batches=True)
    make_trainer([resumed.ema, resumed], max_epochs=2).fit(module_resumed, ckpt_path=tmp_path / "epoch=0-step=11.ckpt")
    for t in resumed.averages:
        assert torch.equal(resumed.averages[t], full.averages[t]), t
    assert torch.equal(flat(module_resumed), flat(module_full))


# ----------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"decay": 1.5}, ValueError, r"`decay` must be in \[0, 1\], got 1.5"),
        ({"decay": -0.1}, ValueError, r"`decay` must be in \[0, 1\], got -0.1"),
        ({"decay": math.nan}, ValueError, r"`decay` must be in \[0, 1\], got nan"),
        ({"decay": True}, TypeError, r"`decay` must be a number in \[0, 1\], not a bool, got True"),
        ({"decay": "0.9"}, TypeError, r"`decay` must be a number.*got '0.9'"),
        ({"decay": None}, TypeError, r"`decay` must be a number.*got None"),
        ({"decay": [0.9]}, TypeError, r"`decay` must be a number.*got \[0.9\]"),
        ({"decay": HalfLife}, TypeError, r"`decay` must be a number.*HalfLife"),
        ({"update_every_n_steps": -1}, ValueError, r"`update_every_n_steps` must be >= 0, got -1"),
        ({"update_every_n_steps": 1.5}, TypeError, r"`update_every_n_steps` must be an int, got 1.5"),
        ({"update_starting_at_step": -2}, ValueError, r"`update_starting_at_step` must be >= 0, got -2"),
        ({"update_starting_at_epoch": "1"}, TypeError, r"`update_starting_at_epoch` must be an int, got '1'"),
        ({"device": "nowhere"}, ValueError, r"`device` must name a torch device.*'nowhere'"),
        ({"device": 1.5}, TypeError, r"`device` must be an int, got 1.5"),
        ({"use_buffers": "yes"}, TypeError, r"`use_buffers` must be a bool, got 'yes'"),
        ({"name": ""}, TypeError, r"`name` must be a non-empty str, got ''"),
        ({"logging_enabled": 1}, TypeError, r"`logging_enabled` must be a bool, got 1"),
        ({"avg_fn": lambda a, b, n: a}, TypeError, r"does not take `avg_fn`.*`decay`"),
        ({"multi_avg_fn": None}, TypeError, r"does not take `multi_avg_fn`"),
        ({"decay_rate": 0.9}, TypeError, r"unexpected keyword argument 'decay_rate'"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, Any], error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        EMAWeightAveraging(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"decay": 1.01}, ValueError, r"`decay` must be in \[0, 1\], got 1.01"),
        ({"min_decay": -0.5}, ValueError, r"`min_decay` must be in \[0, 1\], got -0.5"),
        ({"warmup_gamma": 0.0}, ValueError, r"`warmup_gamma` must be > 0, got 0.0"),
        ({"warmup_power": -1.0}, ValueError, r"`warmup_power` must be > 0, got -1.0"),
        ({"warmup_power": math.inf}, ValueError, r"`warmup_power` must be finite, got inf"),
        ({"update_after_step": 2.5}, TypeError, r"`update_after_step` must be an int, got 2.5"),
    ],
)
def test_bad_warmup_arguments_are_refused_naming_them(
    kwargs: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        EMAWarmup(**kwargs)


@pytest.mark.parametrize(
    ("half_life", "error", "pattern"),
    [
        (0, ValueError, r"`half_life` must be >= 1, got 0"),
        (2.5, ValueError, r"`half_life`.*got 2.5"),
        ("8", TypeError, r"`half_life`"),
    ],
)
def test_bad_half_lives_are_refused_naming_them(half_life: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        HalfLife(half_life)


@pytest.mark.parametrize(
    ("decay", "error", "pattern"),
    [
        (Linear(0.9, 1.5, 10), ValueError, r"`decay`=Linear\(.*\) gave 1.02 for the update after optimizer step 2"),
        (lambda t: math.nan, ValueError, r"`decay` \(.*<lambda>\) returned nan at event 1"),
        (lambda t: "high", TypeError, r"`decay` \(.*<lambda>\) returned 'high' at event 1"),
    ],
)
def test_a_decay_out_of_range_in_a_fit_names_decay_and_the_step(
    decay: Any, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        fit([EMAWeightAveraging(decay=decay)], max_epochs=1)
