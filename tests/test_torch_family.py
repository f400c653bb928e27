"""Parity of the torch-family callbacks with real ``torch.optim.lr_scheduler`` schedulers."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
import torch
from _helpers import assert_parity
from torch.optim import lr_scheduler as tl

import lightning_schedulers as ls

warnings.filterwarnings("ignore", ".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")

LRS = [0.1, 0.05, 0.3]
LONG = 100_000


def decay(epoch: int) -> float:
    return 0.99**epoch + 0.01


def slow_decay(epoch: int) -> float:
    return 0.99999


def wobble(epoch: int) -> float:
    return 1.0 + 0.5 * math.sin(epoch / 7.0) ** 2


def half_sine(epoch: int) -> float:
    return 1.0 - 1e-5 * math.sin(epoch) ** 2


def scale_cycle(x: float) -> float:
    return 1.0 / (1.0 + 0.1 * x)


def make_optimizer(lrs: list[float], cls: type[torch.optim.Optimizer] = torch.optim.SGD, **kwargs: Any) -> Any:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return cls([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)], **kwargs)


def torch_trace(
    make: Callable[[torch.optim.Optimizer], Any],
    n: int,
    lrs: list[float] = LRS,
    momentum: bool = False,
    cls: type[torch.optim.Optimizer] = torch.optim.SGD,
    opt_kwargs: dict[str, Any] | None = None,
) -> np.ndarray:
    """What torch applies at events 0..n-1: the group values after t calls of scheduler.step()."""
    opt = make_optimizer(lrs, cls, **({"momentum": 0.9} if opt_kwargs is None else opt_kwargs))
    sched = make(opt)
    rows = []
    for _ in range(n):
        row = [float(g["lr"]) for g in opt.param_groups]
        if momentum:
            row += [float(g["betas"][0] if "betas" in g else g["momentum"]) for g in opt.param_groups]
        rows.append(row)
        sched.step()
    return np.array(rows)


# (name, our callback, torch factory, events, momentum column, exact). `exact`: pure arithmetic
# (user functions, products, linear ramps), equal to torch bit for bit on every CPU; the others
# involve cos/exp/pow, where numpy and `math` may differ by an ulp: compared with assert_parity.
CASES: list[tuple[str, Callable[[], Any], Callable[[Any], Any], int, bool, bool]] = [
    ("LambdaLR", lambda: ls.LambdaLR(decay), lambda o: tl.LambdaLR(o, decay), LONG, False, True),
    (
        "LambdaLR-per-group",
        lambda: ls.LambdaLR([decay, wobble, half_sine]),
        lambda o: tl.LambdaLR(o, [decay, wobble, half_sine]),
        LONG,
        False,
        True,
    ),
    (
        "MultiplicativeLR",
        lambda: ls.MultiplicativeLR(slow_decay),
        lambda o: tl.MultiplicativeLR(o, slow_decay),
        LONG,
        False,
        True,
    ),
    (
        "MultiplicativeLR-per-group",
        lambda: ls.MultiplicativeLR([slow_decay, half_sine, slow_decay]),
        lambda o: tl.MultiplicativeLR(o, [slow_decay, half_sine, slow_decay]),
        LONG,
        False,
        True,
    ),
    ("StepLR", lambda: ls.StepLR(100, gamma=0.9), lambda o: tl.StepLR(o, 100, gamma=0.9), LONG, False, False),
    ("StepLR-growth", lambda: ls.StepLR(7, gamma=1.01), lambda o: tl.StepLR(o, 7, gamma=1.01), LONG, False, False),
    (
        "MultiStepLR",
        lambda: ls.MultiStepLR([10, 10, 500, 90_000], gamma=0.5),
        lambda o: tl.MultiStepLR(o, [10, 10, 500, 90_000], gamma=0.5),
        LONG,
        False,
        False,
    ),
    ("ConstantLR", lambda: ls.ConstantLR(0.25, 1000), lambda o: tl.ConstantLR(o, 0.25, 1000), LONG, False, False),
    (
        "LinearLR",
        lambda: ls.LinearLR(0.1, 0.9, 5000),
        lambda o: tl.LinearLR(o, 0.1, 0.9, 5000),
        LONG,
        False,
        False,
    ),
    ("ExponentialLR", lambda: ls.ExponentialLR(0.9999), lambda o: tl.ExponentialLR(o, 0.9999), LONG, False, False),
    (
        "PolynomialLR",
        lambda: ls.PolynomialLR(total_iters=50_000, power=2.0),
        lambda o: tl.PolynomialLR(o, total_iters=50_000, power=2.0),
        LONG,
        False,
        False,
    ),
    (
        "CosineAnnealingWarmRestarts",
        lambda: ls.CosineAnnealingWarmRestarts(100, T_mult=1, eta_min=1e-5),
        lambda o: tl.CosineAnnealingWarmRestarts(o, 100, T_mult=1, eta_min=1e-5),
        LONG,
        False,
        False,
    ),
    (
        "CosineAnnealingWarmRestarts-Tmult",
        lambda: ls.CosineAnnealingWarmRestarts(10, T_mult=3, eta_min=1e-4),
        lambda o: tl.CosineAnnealingWarmRestarts(o, 10, T_mult=3, eta_min=1e-4),
        LONG,
        False,
        False,
    ),
    (
        "CyclicLR-triangular",
        lambda: ls.CyclicLR(0.01, 0.1, step_size_up=500),
        lambda o: tl.CyclicLR(o, 0.01, 0.1, step_size_up=500),
        LONG,
        True,
        True,
    ),
    (
        "CyclicLR-triangular2-asymmetric",
        lambda: ls.CyclicLR(
            [0.01, 0.02, 0.03], [0.1, 0.2, 0.3], step_size_up=300, step_size_down=700, mode="triangular2"
        ),
        lambda o: tl.CyclicLR(
            o, [0.01, 0.02, 0.03], [0.1, 0.2, 0.3], step_size_up=300, step_size_down=700, mode="triangular2"
        ),
        20_000,
        True,
        False,
    ),
    (
        "CyclicLR-exp_range",
        lambda: ls.CyclicLR(
            0.01, 0.1, step_size_up=250, mode="exp_range", gamma=0.99995, base_momentum=[0.7, 0.75, 0.8]
        ),
        lambda o: tl.CyclicLR(
            o, 0.01, 0.1, step_size_up=250, mode="exp_range", gamma=0.99995, base_momentum=[0.7, 0.75, 0.8]
        ),
        LONG,
        True,
        False,
    ),
    (
        "CyclicLR-scale_fn-cycle",
        lambda: ls.CyclicLR(0.01, 0.1, step_size_up=40, scale_fn=scale_cycle, scale_mode="cycle"),
        lambda o: tl.CyclicLR(o, 0.01, 0.1, step_size_up=40, scale_fn=scale_cycle, scale_mode="cycle"),
        20_000,
        True,
        True,
    ),
    (
        "CyclicLR-scale_fn-iterations",
        lambda: ls.CyclicLR(
            0.01, 0.1, step_size_up=40, step_size_down=10, scale_fn=scale_cycle, scale_mode="iterations"
        ),
        lambda o: tl.CyclicLR(
            o, 0.01, 0.1, step_size_up=40, step_size_down=10, scale_fn=scale_cycle, scale_mode="iterations"
        ),
        20_000,
        True,
        True,
    ),
    (
        "OneCycleLR-cos",
        lambda: ls.OneCycleLR(max_lr=[1.0, 0.5, 2.0], total_steps=LONG),
        lambda o: tl.OneCycleLR(o, max_lr=[1.0, 0.5, 2.0], total_steps=LONG),
        LONG,
        True,
        False,
    ),
    (
        "OneCycleLR-linear-epochs",
        lambda: ls.OneCycleLR(max_lr=0.5, epochs=10, steps_per_epoch=1000, anneal_strategy="linear", pct_start=0.25),
        lambda o: tl.OneCycleLR(
            o, max_lr=0.5, epochs=10, steps_per_epoch=1000, anneal_strategy="linear", pct_start=0.25
        ),
        10_000,
        True,
        True,
    ),
    (
        "OneCycleLR-three-phase",
        lambda: ls.OneCycleLR(max_lr=0.5, total_steps=LONG, three_phase=True, div_factor=10.0, final_div_factor=100.0),
        lambda o: tl.OneCycleLR(
            o, max_lr=0.5, total_steps=LONG, three_phase=True, div_factor=10.0, final_div_factor=100.0
        ),
        LONG,
        True,
        False,
    ),
    (
        "SequentialLR-warmup-cosine-restarts",
        lambda: ls.SequentialLR(
            [ls.LinearLR(0.01, 1.0, 100), ls.CosineAnnealingWarmRestarts(1000, T_mult=2, eta_min=1e-4)],
            milestones=[100],
        ),
        lambda o: tl.SequentialLR(
            o, [tl.LinearLR(o, 0.01, 1.0, 100), tl.CosineAnnealingWarmRestarts(o, 1000, T_mult=2, eta_min=1e-4)], [100]
        ),
        LONG,
        False,
        False,
    ),
    (
        "SequentialLR-three-pieces",
        lambda: ls.SequentialLR(
            [ls.ConstantLR(0.5, 10), ls.ExponentialLR(0.9999), ls.StepLR(1000, 0.5)], milestones=[50, 20_000]
        ),
        lambda o: tl.SequentialLR(
            o, [tl.ConstantLR(o, 0.5, 10), tl.ExponentialLR(o, 0.9999), tl.StepLR(o, 1000, 0.5)], [50, 20_000]
        ),
        LONG,
        False,
        False,
    ),
    (
        "SequentialLR-lambda-multiplicative",
        lambda: ls.SequentialLR([ls.LambdaLR(decay), ls.MultiplicativeLR(slow_decay)], milestones=[300]),
        lambda o: tl.SequentialLR(o, [tl.LambdaLR(o, decay), tl.MultiplicativeLR(o, slow_decay)], [300]),
        LONG,
        False,
        False,
    ),
    (
        "ChainedScheduler",
        lambda: ls.ChainedScheduler([ls.ConstantLR(0.5, 100), ls.ExponentialLR(0.99995)]),
        lambda o: tl.ChainedScheduler([tl.ConstantLR(o, 0.5, 100), tl.ExponentialLR(o, 0.99995)]),
        LONG,
        False,
        False,
    ),
    # Members that recompute from the current lr: the chain is torch's own, stepped, so equal bit for bit.
    (
        "ChainedScheduler-cosine-exponential",
        lambda: ls.ChainedScheduler([ls.CosineAnnealingLR(40, 0.001), ls.ExponentialLR(0.999)]),
        lambda o: tl.ChainedScheduler([tl.CosineAnnealingLR(o, 40, 0.001), tl.ExponentialLR(o, 0.999)]),
        3000,
        False,
        True,
    ),
    (
        "ChainedScheduler-cyclic-lambda-onecycle",
        lambda: ls.ChainedScheduler(
            [
                ls.CyclicLR(0.01, 0.1, step_size_up=7, mode="triangular2", cycle_momentum=False),
                ls.LambdaLR(decay),
                ls.OneCycleLR(0.5, total_steps=3000, cycle_momentum=False),
                ls.ChainedScheduler([ls.CosineAnnealingWarmRestarts(11, 2), ls.StepLR(100, 0.9)]),
            ]
        ),
        lambda o: tl.ChainedScheduler(
            [
                tl.CyclicLR(o, 0.01, 0.1, step_size_up=7, mode="triangular2", cycle_momentum=False),
                tl.LambdaLR(o, decay),
                tl.OneCycleLR(o, 0.5, total_steps=3000, cycle_momentum=False),
                tl.ChainedScheduler([tl.CosineAnnealingWarmRestarts(o, 11, 2), tl.StepLR(o, 100, 0.9)]),
            ]
        ),
        3000,
        False,
        True,
    ),
    (
        "ChainedScheduler-linear-step-multistep",
        lambda: ls.ChainedScheduler(
            [
                ls.LinearLR(0.2, 1.0, 300),
                ls.StepLR(5000, 0.7),
                ls.MultiStepLR([50, 70_000], 0.5),
                ls.PolynomialLR(90_000, 0.5),
            ]
        ),
        lambda o: tl.ChainedScheduler(
            [
                tl.LinearLR(o, 0.2, 1.0, 300),
                tl.StepLR(o, 5000, 0.7),
                tl.MultiStepLR(o, [50, 70_000], 0.5),
                tl.PolynomialLR(o, 90_000, 0.5),
            ]
        ),
        LONG,
        False,
        False,
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "n", "momentum", "exact"), CASES, ids=[c[0] for c in CASES])
def test_simulate_matches_torch(name: str, ours: Any, theirs: Any, n: int, momentum: bool, exact: bool) -> None:
    ref = torch_trace(theirs, n, momentum=momentum)
    got = ours().simulate(n, initial=LRS)
    if exact:
        np.testing.assert_array_equal(got.reshape(ref.shape), ref)
    else:
        assert_parity(got, ref)


def _exact_cosine(base: float, eta_min: float, t_max: int, t: int) -> float:
    with mpmath.workdps(40):
        return float(eta_min + (mpmath.mpf(base) - eta_min) * (1 + mpmath.cos(mpmath.pi * t / t_max)) / 2)


def test_cosine_annealing_matches_torch_and_is_closer_to_exact() -> None:
    t_max, eta_min = 1000, 1e-4
    ref = torch_trace(lambda o: tl.CosineAnnealingLR(o, t_max, eta_min), LONG)
    got = ls.CosineAnnealingLR(t_max, eta_min).simulate(LONG, initial=LRS)
    # torch's own closed form (what step(epoch) computes) agrees to 1e-12 relative everywhere.
    opt = make_optimizer(LRS)
    closed = tl.CosineAnnealingLR(opt, t_max, eta_min)
    for t in range(0, LONG, 997):
        closed.last_epoch = t
        assert_parity(got[t], np.array(closed._get_closed_form_lr()))
    # torch's recursive update (lr = ratio * (lr - eta_min) + eta_min each step) drifts: it agrees to
    # 1e-12 relative over the first cycle and to 1e-10 of the base lr after 100,000 steps.
    assert_parity(got[: 2 * t_max], ref[: 2 * t_max])
    assert np.max(np.abs(got - ref) / np.array(LRS)) < 1e-10
    sample = sorted({*range(0, 3 * t_max, 37), *range(LONG - 2 * t_max, LONG, 41), t_max - 1, t_max, LONG - 1})
    ours_err = torch_err = 0.0
    for t in sample:
        for j, base in enumerate(LRS):
            exact = _exact_cosine(base, eta_min, t_max, t)
            ours_err = max(ours_err, abs(got[t, j] - exact) / exact)
            torch_err = max(torch_err, abs(ref[t, j] - exact) / exact)
    assert ours_err < 1e-15
    assert torch_err > ours_err  # the closed form is the better number


def test_cosine_annealing_to_zero_hits_zero_at_troughs() -> None:
    got = ls.CosineAnnealingLR(T_max=10).simulate(41, initial=[0.1])
    assert got[10] == 0.0 and got[30] == 0.0
    assert got[20] == 0.1 and got[40] == 0.1
    ref = torch_trace(lambda o: tl.CosineAnnealingLR(o, 10), 41, lrs=[0.1])[:, 0]
    assert np.all(np.abs(got - ref) <= 1e-12 * 0.1)


# ------------------------------------------------------------------ inside a real Trainer.fit
import lightning.pytorch as pl  # noqa: E402
from _helpers import Crash, Probe, TinyModule, make_trainer  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


def lr_and_momentum(trainer: pl.Trainer, module: pl.LightningModule) -> list[float]:
    groups = trainer.optimizers[0].param_groups
    lrs = [float(g["lr"]) for g in groups]
    moms = [float(g["betas"][0]) if "betas" in g else float(g.get("momentum", math.nan)) for g in groups]
    return lrs + moms


def _compare_fit(probe: Probe, ref: np.ndarray, clock: str, groups: int, with_momentum: bool, exact: bool) -> None:
    assert probe.rows
    for step, epoch, values in probe.rows:
        t = step if clock == "step" else epoch
        got = np.array(values if with_momentum else values[:groups])
        want = ref[t] if with_momentum else ref[t, :groups]
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            assert_parity(got, want)


FIT_CASES = [
    (
        "CyclicLR",
        lambda: ls.CyclicLR(0.01, 0.1, step_size_up=5, step_size_down=3, mode="triangular2"),
        lambda o: tl.CyclicLR(o, 0.01, 0.1, step_size_up=5, step_size_down=3, mode="triangular2"),
        "step",
        True,
        True,
    ),
    (
        "OneCycleLR-from-trainer",
        lambda: ls.OneCycleLR(max_lr=0.5, three_phase=True),
        lambda o: tl.OneCycleLR(o, max_lr=0.5, total_steps=48, three_phase=True),
        "step",
        True,
        False,
    ),
    (
        "CosineAnnealingWarmRestarts-step",
        lambda: ls.CosineAnnealingWarmRestarts(4, T_mult=2, interval="step"),
        lambda o: tl.CosineAnnealingWarmRestarts(o, 4, T_mult=2),
        "step",
        False,
        False,
    ),
    (
        "SequentialLR-step",
        lambda: ls.SequentialLR(
            [ls.LinearLR(0.1, total_iters=5), ls.CosineAnnealingLR(40, 1e-3)], milestones=[5], interval="step"
        ),
        lambda o: tl.SequentialLR(o, [tl.LinearLR(o, 0.1, total_iters=5), tl.CosineAnnealingLR(o, 40, 1e-3)], [5]),
        "step",
        False,
        False,
    ),
    ("StepLR-epoch", lambda: ls.StepLR(1, gamma=0.5), lambda o: tl.StepLR(o, 1, gamma=0.5), "epoch", False, False),
    ("LambdaLR-epoch", lambda: ls.LambdaLR(decay), lambda o: tl.LambdaLR(o, decay), "epoch", False, True),
    (
        "ChainedScheduler-epoch",
        lambda: ls.ChainedScheduler([ls.ConstantLR(0.5, 2), ls.ExponentialLR(0.8)]),
        lambda o: tl.ChainedScheduler([tl.ConstantLR(o, 0.5, 2), tl.ExponentialLR(o, 0.8)]),
        "epoch",
        False,
        False,
    ),
]


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize(
    ("name", "ours", "theirs", "clock", "momentum", "exact"), FIT_CASES, ids=[c[0] for c in FIT_CASES]
)
def test_fit_applies_what_torch_applies(
    name: str, ours: Any, theirs: Any, clock: str, momentum: bool, exact: bool, groups: int
) -> None:
    lrs = LRS[:groups]
    cb = ours()
    probe = Probe(lr_and_momentum)
    module = TinyModule(groups=groups, lr=lrs, optimizer_kwargs={"momentum": 0.9})
    make_trainer([cb, probe], max_epochs=3).fit(module)  # 16 steps an epoch, 48 in all
    ref = torch_trace(theirs, 48, lrs=lrs, momentum=True)
    _compare_fit(probe, ref, clock, groups, momentum, exact)


def test_gradient_accumulation_and_trainer_total_for_one_cycle() -> None:
    cb = ls.OneCycleLR(max_lr=1.0)
    probe = Probe(lr_and_momentum)
    module = TinyModule(groups=3, lr=LRS, optimizer_kwargs={"momentum": 0.9})
    make_trainer([cb, probe], max_epochs=3, accumulate_grad_batches=4).fit(module)
    assert cb._total == 12  # estimated_stepping_batches: 3 epochs x 16 batches / 4
    assert [s for s, _, _ in probe.rows] == [s for s in range(12) for _ in range(4)]
    ref = torch_trace(lambda o: tl.OneCycleLR(o, max_lr=1.0, total_steps=12), 12, lrs=LRS, momentum=True)
    _compare_fit(probe, ref, "step", 3, True, True)


def test_one_cycle_holds_the_last_value_past_the_end_and_warns_once() -> None:
    cb = ls.OneCycleLR(max_lr=1.0, total_steps=5, cycle_momentum=False, save_history=True)
    with pytest.warns(UserWarning, match="past the end of the schedule") as record:
        make_trainer([cb], max_epochs=1).fit(TinyModule())
    assert sum("past the end" in str(w.message) for w in record) == 1
    last = torch_trace(lambda o: tl.OneCycleLR(o, max_lr=1.0, total_steps=5), 5, lrs=[0.1])[4, 0]
    assert [h["lr-SGD"] for h in cb.history[5:]] == [last] * 11  # steps 5..15


def test_param_group_index_name_and_log_names() -> None:
    cb = ls.StepLR(1, 0.5, param_group_index=1, save_history=True)
    make_trainer([cb], max_epochs=3).fit(TinyModule(groups=3, lr=LRS))
    assert [h["lr-SGD/pg2"] for h in cb.history] == [0.05, 0.025, 0.0125]  # one row per epoch that trained
    cyc = ls.CyclicLR(0.01, 0.1, step_size_up=2, save_history=True)
    make_trainer([cyc], max_epochs=1).fit(TinyModule(optimizer_kwargs={"momentum": 0.9}))
    assert set(cyc.history[0]) == {"step", "epoch", "lr-SGD", "lr-SGD-momentum"}
    named = ls.ExponentialLR(0.5, name="decay", save_history=True)
    make_trainer([named], max_epochs=2).fit(TinyModule(groups=2))
    assert set(named.history[0]) == {"step", "epoch", "decay/pg1", "decay/pg2"}


def test_cycle_momentum_on_an_optimizer_without_momentum_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"CyclicLR\(cycle_momentum=True\) needs .* Adagrad has neither"):
        make_trainer([ls.CyclicLR(0.01, 0.1)], max_epochs=1).fit(TinyModule(optimizer="Adagrad"))
    with pytest.raises(ValueError, match=r"OneCycleLR\(cycle_momentum=True\) needs .* Rprop has neither"):
        make_trainer([ls.OneCycleLR(0.1)], max_epochs=1).fit(TinyModule(optimizer="Rprop"))


def test_per_group_argument_length_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"`max_lr` has 2 values but the optimizer has 3 param group\(s\)"):
        make_trainer([ls.OneCycleLR([0.1, 0.2], cycle_momentum=False)], max_epochs=1).fit(TinyModule(groups=3))
    with pytest.raises(ValueError, match=r"`lr_lambda` has 2 values but the optimizer has 1 param group\(s\)"):
        make_trainer([ls.LambdaLR([decay, decay])], max_epochs=1).fit(TinyModule())


@pytest.mark.parametrize(
    "make",
    [
        lambda: ls.ExponentialLR(0.97, interval="step"),
        lambda: ls.OneCycleLR(max_lr=0.5),
        lambda: ls.MultiplicativeLR(slow_decay, interval="step"),
        lambda: ls.CosineAnnealingLR(T_max=2, interval="epoch"),
    ],
    ids=["ExponentialLR", "OneCycleLR", "MultiplicativeLR", "CosineAnnealingLR-epoch"],
)
def test_resume_mid_epoch_equals_uninterrupted(tmp_path: Any, make: Callable[[], Any]) -> None:
    full = Probe(lr_and_momentum)
    make_trainer([make(), full], max_epochs=3).fit(
        TinyModule(groups=2, lr=[0.1, 0.2], optimizer_kwargs={"momentum": 0.9})
    )
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=21, save_top_k=-1)
    first = make()
    with pytest.raises(RuntimeError, match="simulated crash"):
        make_trainer([first, ckpt, Crash(at_step=21)], max_epochs=3, enable_checkpointing=True).fit(
            TinyModule(groups=2, lr=[0.1, 0.2], optimizer_kwargs={"momentum": 0.9})
        )
    path = next(tmp_path.glob("*.ckpt"))
    assert torch.load(path, weights_only=True)["callbacks"][first.state_key]["bases"][0] == [0.1, 0.2]
    resumed = Probe(lr_and_momentum)
    make_trainer([make(), resumed], max_epochs=3).fit(
        TinyModule(groups=2, lr=[0.1, 0.2], optimizer_kwargs={"momentum": 0.9}), ckpt_path=path
    )
    assert resumed.rows[0][0] == 21
    by_step = {s: v for s, _, v in full.rows}
    for step, _, values in resumed.rows:
        np.testing.assert_array_equal(values, by_step[step])


# ------------------------------------------------------------------ every torch.optim optimizer
class SparseModule(TinyModule):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layers = nn.ModuleList([nn.Embedding(8, 1, sparse=True) for _ in range(self.groups)])
        self.idx = torch.arange(self.n_samples) % 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(layer(x.long()).squeeze(-1) for layer in self.layers)  # type: ignore[return-value]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        idx, y = batch
        return nn.functional.mse_loss(self(idx), y.squeeze(-1))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.idx, self.y), batch_size=self.batch_size)


OPTIMIZERS = [
    "SGD",
    "Adam",
    "AdamW",
    "Adadelta",
    "Adagrad",
    "Adamax",
    "ASGD",
    "RMSprop",
    "Rprop",
    "NAdam",
    "RAdam",
    "SparseAdam",
    "LBFGS",
]
MOMENTUM_KWARGS = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.9}}


# LBFGS supports a single param group only.
@pytest.mark.parametrize(
    ("optimizer", "groups"), [(o, g) for o in OPTIMIZERS for g in (1, 2) if not (o == "LBFGS" and g == 2)]
)
def test_every_torch_optimizer(optimizer: str, groups: int) -> None:
    kwargs = MOMENTUM_KWARGS.get(optimizer, {})
    cls = getattr(torch.optim, optimizer)
    probe_opt = make_optimizer(LRS[:groups], cls, **kwargs)
    cycles = any("momentum" in g or "betas" in g for g in probe_opt.param_groups)
    cb = ls.OneCycleLR(max_lr=[0.5, 0.25][:groups], total_steps=12, cycle_momentum=cycles)
    probe = Probe(lr_and_momentum)
    module_cls = SparseModule if optimizer == "SparseAdam" else TinyModule
    module = module_cls(optimizer=optimizer, groups=groups, lr=LRS[:groups], optimizer_kwargs=kwargs, n_samples=24)
    make_trainer([cb, probe], max_epochs=2).fit(module)  # 6 batches an epoch, 12 steps
    assert [s for s, _, _ in probe.rows] == list(range(12))
    ref = torch_trace(
        lambda o: tl.OneCycleLR(o, max_lr=[0.5, 0.25][:groups], total_steps=12, cycle_momentum=cycles),
        12,
        lrs=LRS[:groups],
        momentum=cycles,
        cls=cls,
        opt_kwargs=kwargs,
    )
    _compare_fit(probe, ref, "step", groups, cycles, True)


# ------------------------------------------------------------------ bad input at construction
BAD = [
    (lambda: ls.StepLR(0), ValueError, r"`step_size` must be >= 1, got 0"),
    (lambda: ls.StepLR(2, gamma=0.0), ValueError, r"`gamma` must be > 0, got 0.0"),
    (lambda: ls.MultiStepLR([3, -1]), ValueError, r"`milestones\[1\]` must be >= 0, got -1"),
    (lambda: ls.MultiStepLR([]), ValueError, r"`milestones` must not be empty"),
    (lambda: ls.ConstantLR(factor=1.5), ValueError, r"`factor` must be in \[0, 1\], got 1.5"),
    (lambda: ls.ConstantLR(total_iters=0), ValueError, r"`total_iters` must be >= 1, got 0"),
    (lambda: ls.LinearLR(start_factor=0.0), ValueError, r"`start_factor` must be in \(0, 1\], got 0.0"),
    (lambda: ls.LinearLR(end_factor=1.2), ValueError, r"`end_factor` must be in \[0, 1\], got 1.2"),
    (lambda: ls.ExponentialLR(-0.5), ValueError, r"`gamma` must be > 0, got -0.5"),
    (lambda: ls.PolynomialLR(power=0), ValueError, r"`power` must be > 0, got 0"),
    (lambda: ls.CosineAnnealingLR(T_max=0), ValueError, r"`T_max` must be >= 1, got 0"),
    (lambda: ls.CosineAnnealingLR(T_max=10, eta_min=float("nan")), ValueError, r"`eta_min` must be finite, got nan"),
    (lambda: ls.CosineAnnealingWarmRestarts(T_0=0), ValueError, r"`T_0` must be >= 1, got 0"),
    (lambda: ls.CosineAnnealingWarmRestarts(T_0=2.5), ValueError, r"`T_0` must be an int number of events or a frac"),
    (lambda: ls.CosineAnnealingWarmRestarts(T_0=2, T_mult=0), ValueError, r"`T_mult` must be >= 1, got 0"),
    (lambda: ls.CosineAnnealingWarmRestarts(T_0=2, T_mult=1.5), TypeError, r"`T_mult` must be an int, got 1.5"),
    (lambda: ls.CyclicLR(0.1, 1.0, mode="triangle"), ValueError, r"`mode` must be one of .* got 'triangle'"),
    (lambda: ls.CyclicLR(0.1, 1.0, step_size_up=0), ValueError, r"`step_size_up` must be >= 1, got 0"),
    (lambda: ls.CyclicLR(0.1, 1.0, scale_mode="epoch"), ValueError, r"`scale_mode` must be one of .* got 'epoch'"),
    (lambda: ls.CyclicLR(0.1, 1.0, scale_fn=3), TypeError, r"`scale_fn` must be callable or None, got 3"),
    (lambda: ls.CyclicLR([0.1, "x"], 1.0), TypeError, r"`base_lr\[1\]` must be a real number, got 'x'"),
    (lambda: ls.OneCycleLR(1.0, pct_start=1.0), ValueError, r"`pct_start` must be in \(0, 1\), got 1.0"),
    (lambda: ls.OneCycleLR(1.0, total_steps=0), ValueError, r"`total_steps` must be >= 1, got 0"),
    (lambda: ls.OneCycleLR(1.0, epochs=3), ValueError, r"give `epochs` and `steps_per_epoch` together"),
    (lambda: ls.OneCycleLR(1.0, anneal_strategy="cosine"), ValueError, r"`anneal_strategy` must be one of .* 'cosine'"),
    (lambda: ls.OneCycleLR(1.0, div_factor=0), ValueError, r"`div_factor` must be > 0, got 0"),
    (lambda: ls.OneCycleLR(-1.0), ValueError, r"`max_lr` must be > 0, got -1.0"),
    (lambda: ls.OneCycleLR(1.0, total_steps=2, pct_start=0.5), ValueError, r"phase 1 .* zero length"),
    (lambda: ls.LambdaLR(3), TypeError, r"`lr_lambda` must be a callable or a list of callables, got 3"),
    (lambda: ls.LambdaLR([decay, 3]), TypeError, r"`lr_lambda\[1\]` must be callable, got 3"),
    (lambda: ls.StepLR(2, interval="batch"), ValueError, r"`interval` must be one of \('step', 'epoch'\), got 'batch'"),
    (lambda: ls.StepLR(2, optimizer=-1), ValueError, r"`optimizer` must be >= 0, got -1"),
    (
        lambda: ls.SequentialLR([ls.StepLR(2), ls.StepLR(3)], milestones=[]),
        ValueError,
        r"`milestones` must have .* 1 entries, got 0",
    ),
    (
        lambda: ls.SequentialLR([ls.StepLR(2), ls.StepLR(3), ls.StepLR(4)], milestones=[5, 5]),
        ValueError,
        r"strictly increasing",
    ),
    (
        lambda: ls.SequentialLR([ls.StepLR(2), ls.StepLR(3)], milestones=[0]),
        ValueError,
        r"`milestones\[0\]` must be >= 1, got 0",
    ),
    (lambda: ls.SequentialLR([ls.StepLR(2), "x"], milestones=[3]), TypeError, r"`schedulers\[1\]` must be one of"),
    (
        lambda: ls.SequentialLR([ls.StepLR(2), ls.StepLR(3, optimizer=1)], milestones=[3]),
        ValueError,
        r"`schedulers\[1\]` targets optimizer=1",
    ),
    (lambda: ls.SequentialLR([ls.StepLR(2), ls.CyclicLR(0.1, 1.0)], milestones=[3]), ValueError, r"cycles momentum"),
    (lambda: ls.ChainedScheduler([]), ValueError, r"`schedulers` must not be empty"),
]


@pytest.mark.parametrize(("make", "error", "match"), BAD)
def test_bad_arguments_fail_at_construction(make: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_simulate_without_a_known_total_previews_a_fit_that_long() -> None:
    ours = ls.OneCycleLR(max_lr=1.0, cycle_momentum=False).simulate(100, initial=[0.1])
    ref = torch_trace(lambda o: tl.OneCycleLR(o, max_lr=1.0, total_steps=100), 100, lrs=[0.1])[:, 0]
    np.testing.assert_array_equal(ours, ref)


def test_callbacks_pickle_with_module_level_functions() -> None:
    import pickle

    for cb in (
        ls.LambdaLR(decay),
        ls.MultiplicativeLR(slow_decay),
        ls.CyclicLR(0.1, 1.0, scale_fn=scale_cycle),
        ls.SequentialLR([ls.LinearLR(), ls.StepLR(3)], milestones=[5]),
    ):
        clone = pickle.loads(pickle.dumps(cb))
        np.testing.assert_array_equal(clone.simulate(50, initial=[0.1]), cb.simulate(50, initial=[0.1]))
        assert repr(clone) == repr(cb)
