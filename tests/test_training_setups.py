"""Real training setups, each a real ``Trainer.fit`` whose probe reads what the optimizer or module holds.

Several optimizers under manual optimization (a GAN, a WGAN whose generator steps every k
batches), param groups added by ``BaseFinetuning``, an optimizer recreated mid-fit, an attribute
whose parent is replaced, and tiny fits (``fast_dev_run``, ``max_steps=1``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from _helpers import Probe, TinyModule, assert_parity, group_values, make_trainer
from lightning.pytorch.callbacks import BackboneFinetuning, BaseFinetuning, Callback
from test_resume import FACTORIES, ResumeModule
from torch import nn

import lightning_schedulers as ls
from lightning_schedulers.schedules import Linear


# ------------------------------------------------------------------ manual optimization, several optimizers
class GAN(TinyModule):
    """Two optimizers under manual optimization; the second steps every ``every`` batches (WGAN's ratio)."""

    def __init__(self, every: int = 1, n_samples: int = 64) -> None:
        super().__init__(groups=2, n_samples=n_samples)
        self.automatic_optimization = False
        self.every = every

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        critic, generator = self.optimizers()  # type: ignore[misc]
        steps = [critic] + ([generator] if batch_idx % self.every == 0 else [])
        for opt in steps:
            opt.zero_grad()
            self.manual_backward(nn.functional.mse_loss(self(x), y))
            opt.step()

    def configure_optimizers(self) -> Any:
        return [
            torch.optim.SGD(self.layers[0].parameters(), lr=0.1, momentum=0.9),
            torch.optim.Adam(self.layers[1].parameters(), lr=0.01),
        ]


def torch_one_cycle(optimizer_cls: Any, max_lr: float, total: int, **kwargs: Any) -> list[float]:
    """The lr torch's OneCycleLR gives after 0 .. total - 1 steps (one scheduler step per optimizer step)."""
    param = nn.Parameter(torch.zeros(1))
    opt = optimizer_cls([param], lr=1.0, **kwargs)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return out


def both_lrs(trainer: Any, module: Any) -> list[float]:
    return [float(o.param_groups[0]["lr"]) for o in trainer.optimizers]


def test_gan_one_cycle_per_optimizer_equals_torch_stepped_once_per_batch() -> None:
    critic, generator = ls.OneCycleLR(max_lr=0.5, optimizer=0), ls.OneCycleLR(max_lr=0.05, optimizer=1)
    probe = Probe(both_lrs)
    make_trainer([critic, generator, probe], max_epochs=2).fit(GAN())
    batches = 32  # 2 epochs of 16 batches; global_step advances by 2 a batch
    assert [row[0] for row in probe.rows] == list(range(0, 2 * batches, 2))
    assert critic._total == generator._total == batches  # sized to the fit's end, not to global_step
    expected_critic = torch_one_cycle(torch.optim.SGD, 0.5, batches, momentum=0.9)
    expected_generator = torch_one_cycle(torch.optim.Adam, 0.05, batches)
    assert_parity([r[2][0] for r in probe.rows], expected_critic)
    assert_parity([r[2][1] for r in probe.rows], expected_generator)


def test_wgan_generator_stepping_every_k_batches_follows_its_own_steps() -> None:
    # The generator steps every 4th batch: 8 steps in 32 batches. Its schedule counts its steps.
    generator = ls.OneCycleLR(max_lr=0.05, total_steps=8, optimizer=1)
    critic = ls.OneCycleLR(max_lr=0.5, optimizer=0)
    probe = Probe(both_lrs)
    make_trainer([critic, generator, probe], max_epochs=2).fit(GAN(every=4))
    expected = torch_one_cycle(torch.optim.Adam, 0.05, 8)
    # At batch b the generator has stepped ceil(b / 4) times.
    seen = [r[2][1] for r in probe.rows]
    assert_parity(seen, [expected[min(-(-b // 4), 7)] for b in range(32)])
    assert critic._total == 32
    assert_parity([r[2][0] for r in probe.rows], torch_one_cycle(torch.optim.SGD, 0.5, 32, momentum=0.9))


def test_wgan_length_from_the_trainer_warns_and_batch_clock_ends_with_the_fit() -> None:
    generator = ls.OneCycleLR(max_lr=0.05, optimizer=1)
    with pytest.warns(UserWarning, match=r"took 1 step\(s\) in the first 2 batch\(es\).*clock='batch'"):
        make_trainer([generator], max_epochs=2).fit(GAN(every=4))
    by_batch = ls.OneCycleLR(max_lr=0.05, optimizer=1, clock="batch")
    probe = Probe(both_lrs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no rate warning: batches are what it counts
        make_trainer([by_batch, probe], max_epochs=2).fit(GAN(every=4))
    assert_parity([r[2][1] for r in probe.rows], torch_one_cycle(torch.optim.Adam, 0.05, 32))


def test_manual_optimization_max_steps_counts_every_optimizer() -> None:
    # max_steps counts both optimizers' steps: 20 steps are 10 batches.
    critic = ls.OneCycleLR(max_lr=0.5, optimizer=0)
    make_trainer([critic], max_epochs=5, max_steps=20).fit(GAN())
    assert critic._total == 10


def test_attribute_only_callback_under_several_optimizers_needs_a_clock() -> None:
    class Weighted(GAN):
        def __init__(self) -> None:
            super().__init__()
            self.kl_weight = 0.0

    with pytest.raises(ValueError, match=r"has no optimizer target; .*pass clock='batch'"):
        make_trainer([ls.ScheduleCallback({ls.Attribute("kl_weight"): Linear(0, 1, 10)})], max_epochs=1).fit(Weighted())
    cb = ls.ScheduleCallback({ls.Attribute("kl_weight"): Linear(0, 1, 10)}, clock="batch")
    probe = Probe(lambda trainer, module: [module.kl_weight])
    make_trainer([cb, probe], max_epochs=1).fit(Weighted())
    assert [r[2][0] for r in probe.rows] == [min(b / 10, 1.0) for b in range(16)]


def test_batch_clock_under_accumulation_counts_batches() -> None:
    cb = ls.ScheduleCallback(Linear(0.0, 1.0, 32), clock="batch")
    probe = Probe(group_values())
    make_trainer([cb, probe], max_epochs=2, accumulate_grad_batches=4).fit(TinyModule())
    assert [r[2][0] for r in probe.rows] == [b / 32 for b in range(32)]
    with pytest.raises(
        ValueError, match=r"`clock` must be one of \('optimizer', 'batch', 'samples', 'tokens'\), got 'wall'"
    ):
        ls.StepLR(3, clock="wall")


# ------------------------------------------------------------------ param groups added during the fit
class Finetune(TinyModule):
    """Layer 0 is the head, trained from the start; layer 1 is a backbone that BaseFinetuning unfreezes."""

    def __init__(self, scheduler: Any = None) -> None:
        super().__init__(groups=2)
        self.scheduler = scheduler

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(filter(lambda p: p.requires_grad, self.parameters()), lr=0.1, momentum=0.9)
        if self.scheduler is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.scheduler(opt), "interval": self.interval}}

    interval = "epoch"


class Unfreeze(BaseFinetuning):
    def __init__(self, at_epoch: int = 1, lr: float | None = 0.03) -> None:
        super().__init__()
        self.at_epoch, self.lr = at_epoch, lr

    def freeze_before_training(self, pl_module: Any) -> None:
        self.freeze(pl_module.layers[1])

    def finetune_function(self, pl_module: Any, epoch: int, optimizer: Any) -> None:
        if epoch == self.at_epoch:
            self.unfreeze_and_add_param_group(pl_module.layers[1], optimizer, lr=self.lr)


def all_groups(trainer: Any, module: Any) -> list[float]:
    return [float(g["lr"]) for g in trainer.optimizers[0].param_groups]


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_groups_added_by_base_finetuning_follow_torch_step_lr(interval: str) -> None:
    # Reference: Lightning's own scheduler path with torch's StepLR, which multiplies every group's
    # current lr, the added one included, from the moment it is added.
    step_size = 1 if interval == "epoch" else 6
    ours, theirs = Probe(all_groups), Probe(all_groups)
    make_trainer([ls.StepLR(step_size, 0.5, interval=interval), Unfreeze(), ours], max_epochs=4).fit(Finetune())
    module = Finetune(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size, 0.5))
    module.interval = interval
    make_trainer([Unfreeze(), theirs], max_epochs=4).fit(module)
    assert [len(r[2]) for r in ours.rows] == [1] * 16 + [2] * 48
    for mine, torch_row in zip(ours.rows, theirs.rows, strict=True):
        assert mine[2] == pytest.approx(torch_row[2], rel=1e-12)
    assert ours.rows[16][2][1] == 0.03  # the added group starts from the lr it was added with


def test_added_group_is_anchored_for_every_family_and_checkpointed(tmp_path: Path) -> None:
    cb = ls.WarmupCosineLR(warmup_steps=4)
    probe = Probe(all_groups)
    make_trainer([cb, Unfreeze(at_epoch=1), probe], max_epochs=3).fit(Finetune())
    factor = cb.simulate(48, initial=1.0)
    for step, _, values in probe.rows:
        assert values[0] == pytest.approx(0.1 * factor[step], rel=1e-12)
        if step >= 16:  # added at step 16 with lr 0.03: it follows the same shape from there
            assert values[1] == pytest.approx(0.03 * factor[step] / factor[16], rel=1e-12)
    bases = cb.state_dict()["bases"][0]
    assert bases[0] == 0.1 and bases[1] == pytest.approx(0.03 / factor[16], rel=1e-12)


def test_plateau_reduces_groups_added_during_the_fit() -> None:
    class Plateau(Finetune):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", 1.0)  # never improves

        def val_dataloader(self) -> Any:
            return self.train_dataloader()

    cb = ls.ReduceLROnPlateau("val_loss", factor=0.5, patience=0)
    probe = Probe(all_groups)
    make_trainer([cb, Unfreeze(at_epoch=2), probe], max_epochs=4, limit_val_batches=1).fit(Plateau())
    firsts = {r[1]: r[2] for r in probe.rows if r[0] % 16 == 0}
    # Validation 0 sets best, each later one reduces: head 0.1, 0.1, 0.05, 0.025; the backbone joins
    # at epoch 2 with 0.03 and is reduced from then on.
    assert firsts[0] == [0.1] and firsts[1] == [0.1]
    assert firsts[2] == pytest.approx([0.05, 0.03]) and firsts[3] == pytest.approx([0.025, 0.015])


def test_per_group_list_says_what_happens_to_an_added_group() -> None:
    cb = ls.LambdaLR([lambda e: 0.5**e], interval="epoch")
    probe = Probe(all_groups)
    with pytest.warns(UserWarning, match=r"per-group list of 1; group\(s\) \[1\] are not scheduled and keep"):
        make_trainer([cb, Unfreeze(at_epoch=1), probe], max_epochs=3).fit(Finetune())
    assert {tuple(r[2]) for r in probe.rows if r[1] == 2} == {(0.025, 0.03)}


# ------------------------------------------------------------------ an optimizer recreated mid-fit
class Recreate(Callback):
    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == 1:
            self.old = trainer.optimizers[0]
            trainer.strategy.setup_optimizers(trainer)


def test_recreated_optimizer_keeps_being_scheduled() -> None:
    cb = ls.CosineAnnealingLR(T_max=32, interval="step")
    probe, recreate = Probe(group_values()), Recreate()
    make_trainer([recreate, cb, probe], max_epochs=2).fit(TinyModule())
    expected = cb.simulate(32, initial=0.1)
    assert [r[2][0] for r in probe.rows] == pytest.approx(expected.tolist(), rel=1e-12)
    assert recreate.old is not None and recreate.old.param_groups[0]["lr"] == pytest.approx(expected[16])


# ------------------------------------------------------------------ attributes
class WithHead(TinyModule):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Dropout(0.1)


class Replace(Callback):
    def __init__(self, make: Any, at_epoch: int = 1) -> None:
        self.make, self.at_epoch = make, at_epoch

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == self.at_epoch:
            pl_module.head = self.make()


def test_attribute_whose_parent_is_replaced_keeps_being_scheduled() -> None:
    cb = ls.ScheduleCallback({ls.Attribute("head.p"): Linear(0.0, 0.5, 32)})
    probe = Probe(lambda trainer, module: [module.head.p])
    make_trainer([Replace(lambda: nn.Dropout(0.0)), cb, probe], max_epochs=2).fit(WithHead())
    assert [r[2][0] for r in probe.rows] == [0.5 * s / 32 for s in range(32)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda: "half", r"attribute 'head' holds 'half' \(str\)"),
        (lambda: None, r"attribute 'head' holds None"),
        (lambda: torch.tensor(1), r"attribute 'head' is a torch.int64 tensor.*would truncate"),
        (lambda: torch.ones(3), r"attribute 'head' is a tensor of shape \(3,\)"),
    ],
)
def test_attribute_that_stops_being_a_number_is_an_error(value: Any, message: str) -> None:
    class Scalar(TinyModule):
        def __init__(self) -> None:
            super().__init__()
            self.head = 1.0

    cb = ls.ScheduleCallback({ls.Attribute("head"): Linear(0.0, 0.5, 32)})
    with pytest.raises(TypeError, match=message):
        make_trainer([Replace(value), cb], max_epochs=2).fit(Scalar())


# ------------------------------------------------------------------ tiny fits
@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("fit", ["fast_dev_run", "max_steps=1"])
def test_every_class_runs_in_a_tiny_fit(name: str, fit: str) -> None:
    kwargs: dict[str, Any] = {"fast_dev_run": True} if fit == "fast_dev_run" else {"max_steps": 1}
    probe = Probe(lambda trainer, module: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*(shrinking|past the end|fast_dev_run).*")
        make_trainer([FACTORIES[name](), probe], **kwargs).fit(ResumeModule())
    assert len(probe.rows) == 1


def test_a_warmup_longer_than_the_fit_is_shrunk_with_one_warning() -> None:
    cb = ls.WarmupCosineLR(warmup_steps=100)
    with pytest.warns(UserWarning, match=r"only 1 step\(s\) long; shrinking `warmup_steps`=100 -> 0"):
        make_trainer([cb], fast_dev_run=True).fit(TinyModule())
    wsd = ls.WarmupStableDecayLR(warmup_steps=30, decay_steps=30)
    with pytest.warns(UserWarning, match=r"`warmup_steps`=30 -> 0, `decay_steps`=30 -> 20"):
        make_trainer([wsd], max_steps=20).fit(TinyModule())
    with pytest.raises(ValueError, match=r"`warmup_steps` must be < `total_steps`"):
        ls.WarmupCosineLR(warmup_steps=100, total_steps=50)  # lengths the user gave that contradict


def test_preview_refuses_a_batch_clock_under_accumulation() -> None:
    plan = ls.FitPlan(max_epochs=1, batches_per_epoch=8, accumulate_grad_batches=2)
    with pytest.raises(ValueError, match=r"counts batches \(clock='batch'\).*simulate"):
        ls.preview([ls.StepLR(2, interval="step", clock="batch")], plan)
    plan1 = ls.FitPlan(max_epochs=1, batches_per_epoch=8)
    values = ls.preview([ls.StepLR(2, 0.5, interval="step", clock="batch")], plan1, initial=1.0).values
    assert next(iter(values.values())).tolist() == [0.5 ** (b // 2) for b in range(8)]


class SwitchOptimizer(Callback):
    """At epoch 1, another optimizer with another lr (SGD 0.1 -> Adam 0.003), as optimizer switching does."""

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == 1:
            trainer.strategy.optimizers = [torch.optim.Adam(pl_module.parameters(), lr=0.003)]


def test_a_recreated_optimizer_with_other_values_is_warned_about() -> None:
    cb = ls.CosineAnnealingLR(T_max=32, interval="step")
    probe = Probe(group_values())
    match = r"optimizer was replaced .*lr@optimizer0 values \[0.003\] are neither .* \[0.1\] nor .* \[0.0500\d*\]"
    with pytest.warns(UserWarning, match=match):
        make_trainer([SwitchOptimizer(), cb, probe], max_epochs=2).fit(TinyModule())
    assert [r[2][0] for r in probe.rows] == pytest.approx(cb.simulate(32, initial=0.1).tolist(), rel=1e-12)


def test_a_recreated_optimizer_from_configure_optimizers_is_not_warned_about(recwarn: Any) -> None:
    make_trainer([Recreate(), ls.CosineAnnealingLR(T_max=32, interval="step")], max_epochs=2).fit(TinyModule())
    assert not [w for w in recwarn if "optimizer was replaced" in str(w.message)]


# ------------------------------------------------------------------ Lightning's BackboneFinetuning
class WithBackbone(TinyModule):
    """``backbone`` and ``head``, as BackboneFinetuning expects; the optimizer starts with the head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone, self.head = nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(filter(lambda p: p.requires_grad, self.parameters()), lr=0.1)


def test_backbone_finetuning_and_a_schedule_on_every_group_are_refused() -> None:
    with pytest.raises(ValueError, match=r"BackboneFinetuning sets the lr of the backbone group .*param_group_index=0"):
        make_trainer([BackboneFinetuning(2), ls.StepLR(1, 0.5)], max_epochs=4).fit(WithBackbone())


def test_backbone_finetuning_follows_a_schedule_on_the_head() -> None:
    # The head's lr is the schedule's; the backbone's is BackboneFinetuning's, derived from it each
    # epoch: 0.1 x the head's lr at unfreezing, then x2 an epoch, never above the head's.
    cb = ls.StepLR(1, 0.8, param_group_index=0)
    probe = Probe(lambda trainer, m: [float(g["lr"]) for g in trainer.optimizers[0].param_groups])
    make_trainer([BackboneFinetuning(2), cb, probe], max_epochs=6).fit(WithBackbone())
    backbone = None
    for epoch in range(6):
        rows = [values for _, e, values in probe.rows if e == epoch]
        head = 0.1 * 0.8**epoch
        if epoch == 2:
            backbone = head * 0.1
        elif epoch > 2:
            assert backbone is not None
            backbone = min(backbone * 2.0, head)  # its default lambda_func, multiplicative
        expected = [head] if backbone is None else [head, backbone]
        for values in rows:
            assert values == pytest.approx(expected, rel=1e-12)
