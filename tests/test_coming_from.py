"""Each port of the documentation's "Coming from" page (docs/coming-from.md), tested against the original:
the library itself where it runs on CPU, else its formula written out here from its source. Values are
compared event by event with a stated tolerance (closed forms against recursive or differently
rounded originals: 1e-12 relative, with an absolute floor where a cosine ends at zero)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from _bolts_reference import LinearWarmupCosineAnnealingLR as BoltsWarmupCosine
from _references import deepspeed_lr_schedules, timm_scheduler
from torch.optim import lr_scheduler as tl

import lightning_schedulers as ls
from lightning_schedulers.families import bolts as ls_bolts
from lightning_schedulers.families import deepspeed as ls_deepspeed
from lightning_schedulers.schedules.presets import warmup_cosine

LRS = [0.1, 0.05]  # two param groups with different lrs: absolute arguments and factors part ways
RTOL = 1e-12


def trace(scheduler: Any, optimizer: torch.optim.Optimizer, n: int, step: Callable[[Any, int], Any]) -> np.ndarray:
    """Each event's lrs as a training loop leaves them: read, train (optimizer.step), then ``step(scheduler, e)``."""
    rows = []
    for e in range(n):
        rows.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        step(scheduler, e)
    return np.array(rows)


def sgd(lrs: list[float] = LRS) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])


def plain_step(scheduler: Any, e: int) -> None:
    scheduler.step()


# ------------------------------------------------------------------ timm
TIMM = dict(t_initial=10, lr_min=1e-3, warmup_t=3, warmup_lr_init=1e-4)


def timm_cosine(optimizer: torch.optim.Optimizer) -> Any:
    return timm_scheduler("cosine_lr").CosineLRScheduler(optimizer, **TIMM)


def lightning_recipe_step(scheduler: Any, t: int) -> None:
    scheduler.step(epoch=t)  # Lightning's docs: lr_scheduler_step -> scheduler.step(epoch=self.current_epoch)


def test_timm_cosine_lr_min_is_absolute_the_factor_port_only_fits_one_lr() -> None:
    # timm's own train.py: lr_scheduler.step(epoch + 1) after each epoch: epoch e trains with f(e).
    script = trace(timm_cosine(opt := sgd()), opt, 14, lambda s, e: s.step(epoch=e + 1))
    ours = ls.CosineLRScheduler(**TIMM).simulate(14, initial=LRS)
    np.testing.assert_allclose(ours, script, rtol=RTOL, atol=0)
    # CosineCyclesLR takes factors of each group's lr: exact for the group whose lr they were computed from.
    factors = ls.CosineCyclesLR(
        cycle_steps=10, min_factor=1e-3 / LRS[0], warmup_steps=3, warmup_start_factor=1e-4 / LRS[0], interval="epoch"
    ).simulate(14, initial=LRS)
    np.testing.assert_allclose(factors[:, 0], script[:, 0], rtol=RTOL, atol=0)
    assert factors[-1, 1] == pytest.approx(LRS[1] * 1e-3 / LRS[0]) != script[-1, 1]  # group 1: half timm's floor


def test_lightnings_timm_recipe_lags_one_epoch_behind_timms_script() -> None:
    recipe = trace(timm_cosine(opt := sgd()), opt, 14, lightning_recipe_step)
    script = ls.CosineLRScheduler(**TIMM).simulate(14, initial=LRS)
    np.testing.assert_allclose(recipe[1:], script[:-1], rtol=RTOL, atol=0)  # epoch e trains with f(e - 1)
    np.testing.assert_array_equal(recipe[0], script[0])
    # The recipe's values exactly (tests/test_torch_scheduler_frequency.py runs it against Lightning's path).
    hosted = ls.TorchScheduler(timm_cosine, interval="epoch", step=lightning_recipe_step).simulate(14, initial=LRS)
    np.testing.assert_array_equal(hosted, recipe)


# ------------------------------------------------------------------ lightning-bolts
def test_bolts_linear_warmup_cosine_annealing() -> None:
    args = dict(warmup_epochs=3, max_epochs=10, warmup_start_lr=1e-3, eta_min=1e-4)
    bolts = trace(BoltsWarmupCosine(opt := sgd(), **args), opt, 14, plain_step)  # stepped once an epoch
    ours = ls_bolts.LinearWarmupCosineAnnealingLR(**args).simulate(14, initial=LRS)
    np.testing.assert_allclose(ours, bolts, rtol=1e-10, atol=0)  # bolts recurses epoch to epoch
    # The look-alike ls.WarmupCosineLR reaches the lr one epoch later (bolts: at warmup_epochs - 1).
    look_alike = ls.WarmupCosineLR(3, total_steps=10, interval="epoch").simulate(3, initial=1.0)
    zero_start = trace(BoltsWarmupCosine(opt := sgd([1.0]), 3, 10), opt, 3, plain_step)[:, 0]
    assert zero_start[1] == pytest.approx(0.5) and look_alike[1] == pytest.approx(1 / 3)  # 33% off


# ------------------------------------------------------------------ DeepSpeed
@pytest.mark.parametrize(
    "config",
    [
        {"type": "WarmupLR", "params": {"warmup_min_lr": 0.0, "warmup_max_lr": 1e-3, "warmup_num_steps": 10}},
        {
            "type": "WarmupDecayLR",
            "params": {"total_num_steps": 40, "warmup_max_lr": 1e-3, "warmup_num_steps": 10, "warmup_type": "linear"},
        },
    ],
)
def test_deepspeed_config(config: dict[str, Any]) -> None:
    # DeepSpeed's engine: the constructor writes step 0's lr, scheduler.step() after every optimizer step.
    reference = getattr(deepspeed_lr_schedules(), config["type"])
    deepspeed = trace(reference(opt := sgd(), **config["params"]), opt, 50, plain_step)
    ours = getattr(ls_deepspeed, config["type"])(**config["params"]).simulate(50, initial=LRS)
    np.testing.assert_allclose(ours, deepspeed, rtol=RTOL, atol=1e-18)


# ------------------------------------------------------------------ nanoGPT and litgpt
LR, MIN_LR, WARMUP, DECAY = 6e-4, 6e-5, 10, 60


def nanogpt_get_lr(it: int) -> float:
    """nanoGPT's train.py ``get_lr(it)``, written out: the lr set before iteration ``it``."""
    if it < WARMUP:  # linear warmup for warmup_iters steps
        return LR * (it + 1) / (WARMUP + 1)
    if it > DECAY:  # past lr_decay_iters: min_lr
        return MIN_LR
    decay_ratio = (it - WARMUP) / (DECAY - WARMUP)  # in between: cosine decay down to min_lr
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return MIN_LR + coeff * (LR - MIN_LR)


def litgpt_pretrain_get_lr(it: int) -> float:
    """litgpt's pretrain ``get_lr``: nanoGPT's, with the warmup from 0 (``learning_rate * it / warmup_iters``)."""
    if it < WARMUP:
        return LR * it / WARMUP
    return nanogpt_get_lr(it)


def test_nanogpt_get_lr() -> None:
    expected = [nanogpt_get_lr(t) for t in range(80)]
    # The class, in factors of the optimizer's lr (lr=6e-4)...
    cb = ls.WarmupCosineLR(WARMUP, total_steps=DECAY, warmup_start_factor=1 / (WARMUP + 1), min_factor=MIN_LR / LR)
    np.testing.assert_allclose(cb.simulate(80, initial=LR), expected, rtol=RTOL, atol=0)
    # ... or the preset, in absolute values.
    schedule = warmup_cosine(peak=LR, total_steps=DECAY, warmup_steps=WARMUP, start=LR / (WARMUP + 1), floor=MIN_LR)
    np.testing.assert_allclose(ls.ScheduleCallback(schedule, "lr").simulate(80), expected, rtol=RTOL, atol=0)


def litgpt_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int, max_steps: int) -> tl.LRScheduler:
    """litgpt's ``get_lr_scheduler``: LambdaLR warmup, then CosineAnnealingLR, in a SequentialLR."""
    scheduler1 = tl.LambdaLR(optimizer, lambda step: step / warmup_steps)
    scheduler2 = tl.CosineAnnealingLR(optimizer, T_max=(max_steps - warmup_steps))
    return tl.SequentialLR(optimizer, [scheduler1, scheduler2], milestones=[warmup_steps])


def test_litgpt_warmup_then_cosine() -> None:
    litgpt = trace(litgpt_scheduler(opt := sgd(), WARMUP, DECAY), opt, DECAY + 1, plain_step)  # step() per step
    ours = ls.WarmupCosineLR(WARMUP, total_steps=DECAY).simulate(DECAY + 1, initial=LRS)
    np.testing.assert_allclose(ours, litgpt, rtol=RTOL, atol=1e-15)  # the cosine ends at 0: an absolute floor
    hosted = ls.TorchScheduler(functools.partial(litgpt_scheduler, warmup_steps=WARMUP, max_steps=DECAY))
    np.testing.assert_array_equal(hosted.simulate(DECAY + 1, initial=LRS), litgpt)
    # pretrain's get_lr: warmup from 0, floor min_lr.
    pretrain = ls.WarmupCosineLR(WARMUP, total_steps=DECAY, min_factor=MIN_LR / LR)
    expected = [litgpt_pretrain_get_lr(t) for t in range(80)]
    np.testing.assert_allclose(pretrain.simulate(80, initial=LR), expected, rtol=RTOL, atol=0)
