"""A param group chosen by its name (its ``"name"`` entry, as LearningRateMonitor reads it) is the group of that index.

For every family class that takes ``param_group_index``, two real fits on an optimizer with three
named groups: one with ``param_group_index=1``, one with ``param_group_index="b"`` (group 1's
name). A probe reads every group's ``lr``, ``momentum`` and ``weight_decay`` at every batch:
the two fits' rows must be the same, the chosen group must have been scheduled and the other two
must keep their values.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from _helpers import Probe, make_trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers import presets
from lightning_schedulers.callbacks.greedy import GreedyLR
from lightning_schedulers.schedules import Cosine, Linear

NAMES = ("a", "b", "c")
LRS = (0.1, 0.2, 0.3)


class NamedGroups(pl.LightningModule):
    """Three linear layers, one param group each, named ``a``, ``b``, ``c``; a scripted ``val_loss``."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 1) for _ in NAMES)
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(24, 4, generator=g), torch.randn(24, 1, generator=g)
        self.validations = 0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(sum(layer(x) for layer in self.layers), y)  # type: ignore[arg-type]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        # Improves twice, then stalls, then improves: plateau and greedy callbacks act on it.
        script = [1.0, 0.5, 0.5, 0.5, 0.5, 0.2, 0.1, 0.1, 0.1, 0.1]
        self.log("val_loss", script[min(self.validations, len(script) - 1)])

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.validations += 1

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=4)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x[:4], self.y[:4]), batch_size=4)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = [
            {"params": layer.parameters(), "lr": lr, "name": name}
            for layer, lr, name in zip(self.layers, LRS, NAMES, strict=True)
        ]
        return torch.optim.SGD(groups, momentum=0.9, weight_decay=0.01)


def read(trainer: pl.Trainer, module: pl.LightningModule) -> list[float]:
    return [float(g[k]) for g in trainer.optimizers[0].param_groups for k in ("lr", "momentum", "weight_decay")]


def decay(epoch: int) -> float:
    return 0.9**epoch


Make = Callable[[int | str], Any]

# Every family class that takes param_group_index (its param_group_index given by the test).
FACTORIES: dict[str, Make] = {
    # torch
    "StepLR": lambda g: ls.StepLR(3, 0.5, interval="step", param_group_index=g),
    "MultiStepLR": lambda g: ls.MultiStepLR([2, 5], 0.5, interval="step", param_group_index=g),
    "ConstantLR": lambda g: ls.ConstantLR(0.3, 5, interval="step", param_group_index=g),
    "LinearLR": lambda g: ls.LinearLR(0.1, 1.0, 8, interval="step", param_group_index=g),
    "ExponentialLR": lambda g: ls.ExponentialLR(0.9, interval="step", param_group_index=g),
    "PolynomialLR": lambda g: ls.PolynomialLR(10, 2.0, interval="step", param_group_index=g),
    "CosineAnnealingLR": lambda g: ls.CosineAnnealingLR(7, 0.001, interval="step", param_group_index=g),
    "CosineAnnealingWarmRestarts": lambda g: ls.CosineAnnealingWarmRestarts(
        3, 2, 0.001, interval="step", param_group_index=g
    ),
    "CyclicLR": lambda g: ls.CyclicLR(0.01, 0.1, step_size_up=3, param_group_index=g),
    "OneCycleLR": lambda g: ls.OneCycleLR(0.5, param_group_index=g),
    "LambdaLR": lambda g: ls.LambdaLR(decay, interval="step", param_group_index=g),
    "MultiplicativeLR": lambda g: ls.MultiplicativeLR(lambda t: 0.95, interval="step", param_group_index=g),
    "SWALR": lambda g: ls.SWALR(0.05, anneal_epochs=5, interval="step", param_group_index=g),
    "SequentialLR": lambda g: ls.SequentialLR(
        [ls.LinearLR(0.1, total_iters=4, param_group_index=g), ls.ExponentialLR(0.9, param_group_index=g)],
        milestones=[4],
        interval="step",
        param_group_index=g,
    ),
    "ChainedScheduler": lambda g: ls.ChainedScheduler(
        [ls.ConstantLR(0.5, 6, param_group_index=g), ls.StepLR(4, 0.7, param_group_index=g)],
        interval="step",
        param_group_index=g,
    ),
    # ignite
    "CosineAnnealingScheduler": lambda g: ls.CosineAnnealingScheduler("momentum", 0.95, 0.8, 6, param_group_index=g),
    "LinearCyclicalScheduler": lambda g: ls.LinearCyclicalScheduler("lr", 0.01, 0.1, 5, param_group_index=g),
    "PiecewiseLinear": lambda g: ls.PiecewiseLinear("weight_decay", [(0, 0.0), (10, 0.1)], param_group_index=g),
    "ConcatScheduler": lambda g: ls.ConcatScheduler(
        [
            ls.PiecewiseLinear("lr", [(0, 0.0), (6, 0.1)], param_group_index=g),
            ls.CosineAnnealingScheduler("lr", 0.1, 0.0, 8, param_group_index=g),
        ],
        [6],
    ),
    "create_lr_scheduler_with_warmup": lambda g: ls.create_lr_scheduler_with_warmup(
        ls.CosineAnnealingLR(10, param_group_index=g), warmup_start_value=0.0, warmup_duration=5
    ),
    # optax, modern, timm, transformers, DeepSpeed, bolts, poutyne
    "ExponentialDecayLR": lambda g: ls.ExponentialDecayLR(decay_steps=4, decay_rate=0.5, param_group_index=g),
    "WarmupCosineLR": lambda g: ls.WarmupCosineLR(warmup_steps=4, min_factor=0.05, param_group_index=g),
    "WarmupStableDecayLR": lambda g: ls.WarmupStableDecayLR(4, decay_steps=6, param_group_index=g),
    "InverseSqrtLR": lambda g: ls.InverseSqrtLR(5, param_group_index=g),
    "PolynomialDecayLR": lambda g: ls.PolynomialDecayLR(power=0.5, warmup_steps=3, param_group_index=g),
    "CosineCyclesLR": lambda g: ls.CosineCyclesLR(5, cycle_mult=1.5, param_group_index=g),
    "CosineLRScheduler": lambda g: ls.CosineLRScheduler(10, warmup_t=2, t_in_epochs=False, param_group_index=g),
    "TanhLRScheduler": lambda g: ls.TanhLRScheduler(10, t_in_epochs=False, param_group_index=g),
    "PolyLRScheduler": lambda g: ls.PolyLRScheduler(10, t_in_epochs=False, param_group_index=g),
    "StepLRScheduler": lambda g: ls.StepLRScheduler(3, decay_rate=0.5, t_in_epochs=False, param_group_index=g),
    "MultiStepLRScheduler": lambda g: ls.MultiStepLRScheduler(
        [2, 6], decay_rate=0.5, t_in_epochs=False, param_group_index=g
    ),
    "TransformersLR": lambda g: ls.get_scheduler("cosine", warmup_steps=3, param_group_index=g),
    "WarmupLR": lambda g: ls.WarmupLR(warmup_num_steps=6, param_group_index=g),
    "WarmupDecayLR": lambda g: ls.WarmupDecayLR(12, warmup_max_lr=0.05, warmup_num_steps=4, param_group_index=g),
    "LRRangeTest": lambda g: ls.LRRangeTest(lr_range_test_step_size=3, param_group_index=g),
    "LinearWarmupCosineAnnealingLR": lambda g: ls.LinearWarmupCosineAnnealingLR(
        3, 12, interval="step", param_group_index=g
    ),
    "LinearWarmupDecayLR": lambda g: ls.LinearWarmupDecayLR(3, param_group_index=g),
    "OptimizerPolicy": lambda g: ls.OptimizerPolicy(presets.one_cycle_phases(12), param_group_index=g),
    # the plateau callbacks
    "ReduceLROnPlateau": lambda g: ls.ReduceLROnPlateau("val_loss", patience=0, param_group_index=g),
    "GreedyLR": lambda g: GreedyLR("val_loss", patience=0, param_group_index=g),
    "PlateauLRScheduler": lambda g: ls.PlateauLRScheduler(
        "val_loss", mode="min", warmup_t=1, warmup_lr_init=0.01, param_group_index=g
    ),
}


def fit(make: Make, group: int | str) -> list[list[float]]:
    probe = Probe(read)
    trainer = make_trainer([make(group), probe], max_epochs=2, val_check_interval=2)
    trainer.fit(NamedGroups())
    return [values for _, _, values in probe.rows]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_group_name_selects_the_group_of_that_index_in_a_fit(name: str) -> None:
    by_index = fit(FACTORIES[name], 1)
    by_name = fit(FACTORIES[name], "b")
    assert len(by_index) == 12
    assert by_name == by_index
    columns = list(zip(*by_name, strict=True))  # lr, momentum, weight_decay of groups a, b, c
    start = [v for lr in LRS for v in (lr, 0.9, 0.01)]
    for j, column in enumerate(columns):
        if j // 3 != 1:  # groups a and c: untouched
            assert set(column) == {start[j]}, (name, j, column)
    assert any(len(set(columns[j])) > 1 for j in (3, 4, 5)), f"{name} scheduled nothing in group b"


def test_every_family_class_that_takes_param_group_index_is_covered() -> None:
    public = {n: getattr(ls, n) for n in ls.__all__}
    takes = {
        n
        for n, c in public.items()
        if inspect.isclass(c)
        and issubclass(c, ls.SchedulerCallback)
        and "param_group_index" in inspect.signature(c).parameters
        and not getattr(c, "_state", False)  # ignite's state schedulers write an attribute
    }
    takes |= {"ConcatScheduler", "create_lr_scheduler_with_warmup"}  # the group of their members
    assert takes <= set(FACTORIES), sorted(takes - set(FACTORIES))


def test_a_simulated_preview_and_the_log_names_use_the_group_name() -> None:
    opt = NamedGroups().configure_optimizers()
    cb = ls.StepLR(2, 0.5, param_group_index="c")
    assert cb.labels() == ["lr-optimizer0/c"]
    assert cb.labels([opt]) == ["lr-SGD/c"]
    # With the optimizer the start value is group c's lr.
    assert cb.simulate(3, optimizers=[opt]).tolist() == [0.3, 0.3, 0.15]
    cb = ls.ScheduleCallback(Linear(0.0, 1.0, 4), target=ls.ParamGroup("weight_decay", param_group_index="a"))
    assert cb.labels([opt]) == ["lr-SGD/a-weight_decay"]


def test_an_unknown_name_is_an_error_listing_the_names_at_the_start_of_the_fit() -> None:
    with pytest.raises(
        ValueError,
        match=r"`param_group_index`='head' names no param group of SGD; its groups are named \['a', 'b', 'c'\]",
    ):
        make_trainer([ls.StepLR(2, param_group_index="head")], max_epochs=1).fit(NamedGroups())


def test_unnamed_duplicate_and_bad_references_are_errors() -> None:
    p = [nn.Parameter(torch.zeros(1)) for _ in range(3)]
    unnamed = torch.optim.SGD([{"params": [q]} for q in p], lr=0.1)
    with pytest.raises(ValueError, match=r"`param_group_index`='b' names no param group: none of the 3 param"):
        ls.ParamGroup("lr", param_group_index="b").bind([unnamed])
    twice = torch.optim.SGD([{"params": [p[0]], "name": "x"}, {"params": [p[1]], "name": "x"}], lr=0.1)
    with pytest.raises(ValueError, match=r"`param_group_index`='x' names 2 param groups of SGD \(groups \[0, 1\]\)"):
        ls.ParamGroup("lr", param_group_index="x").bind([twice])
    some = torch.optim.SGD([{"params": [p[0]], "name": "x"}, {"params": [p[1]]}], lr=0.1)
    with pytest.raises(ValueError, match=r"its groups are named \['x'\]; group\(s\) \[1\] have no name"):
        ls.ParamGroup("lr", param_group_index="y").bind([some])
    with pytest.raises(ValueError, match=r"`param_group_index` must be a group's index or a non-empty group name"):
        ls.StepLR(2, param_group_index="")
    with pytest.raises(TypeError, match=r"`param_group_index` must be an int, got 1.5 \(float\); .* name"):
        ls.CosineAnnealingScheduler("lr", 1.0, 0.0, 4, param_group_index=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`param_group_index` must be an int, got True"):
        ls.OptimizerPolicy(presets.one_cycle_phases(12), param_group_index=True)


def test_a_name_and_its_index_are_the_same_target_for_conflicts() -> None:
    cbs = [
        ls.StepLR(2, param_group_index="b"),
        ls.ScheduleCallback(Cosine(0.1, 0.0, 5), target=ls.ParamGroup("lr", param_group_index=1)),
    ]
    with pytest.raises(ValueError, match=r"both drive lr of optimizer 0 param group 1"):
        make_trainer(cbs, max_epochs=1).fit(NamedGroups())


def test_a_named_group_is_found_again_when_groups_are_added() -> None:
    """The name is looked up at every binding: after a group is added mid-fit, the same group is scheduled."""

    class Inserted(NamedGroups):
        def on_train_epoch_start(self) -> None:
            if self.current_epoch == 1:
                extra = nn.Parameter(torch.zeros(1))
                opt = self.trainer.optimizers[0]
                opt.add_param_group({"params": [extra], "lr": 0.7, "name": "late"})

    probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    make_trainer([ls.StepLR(3, 0.5, interval="step", param_group_index="b"), probe], max_epochs=2).fit(Inserted())
    for step, _, lrs in probe.rows:
        assert lrs[:3] == [0.1, 0.2 * 0.5 ** (step // 3), 0.3]
        assert lrs[3:] in ([], [0.7])
    assert math.isclose(probe.rows[-1][2][1], 0.2 * 0.5**3)
