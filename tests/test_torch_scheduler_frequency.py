"""``TorchScheduler(frequency=k, step=...)``: Lightning's ``"frequency"`` and ``lr_scheduler_step`` override,
compared batch by batch with Lightning's own ``configure_optimizers`` path in real fits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from _helpers import Probe, TinyModule, group_values, make_trainer
from _references import timm_scheduler
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.optim import lr_scheduler as tl

import lightning_schedulers as ls

STEP_LR = functools.partial(tl.StepLR, step_size=2, gamma=0.5)
EPOCH_LR = functools.partial(tl.MultiStepLR, milestones=[1, 3, 4], gamma=0.5)


def timm_cosine(optimizer: torch.optim.Optimizer) -> Any:
    # timm's CosineLRScheduler in epochs, with a warmup (its first values are warmup_lr_init).
    cosine = timm_scheduler("cosine_lr").CosineLRScheduler
    return cosine(optimizer, t_initial=6, lr_min=1e-3, warmup_t=2, warmup_lr_init=1e-4, t_in_epochs=True)


def timm_cosine_updates(optimizer: torch.optim.Optimizer) -> Any:
    cosine = timm_scheduler("cosine_lr").CosineLRScheduler
    return cosine(optimizer, t_initial=20, lr_min=1e-3, warmup_t=3, warmup_lr_init=1e-4, t_in_epochs=False)


def timm_epoch_step(scheduler: Any, t: int) -> None:
    scheduler.step(epoch=t)  # Lightning's documented recipe: scheduler.step(epoch=self.current_epoch)


def timm_update_step(scheduler: Any, t: int) -> None:
    scheduler.step_update(num_updates=t)  # the override's scheduler.step_update(num_updates=self.global_step)


class Lightning(TinyModule):
    """The reference: the factory's scheduler in configure_optimizers, stepped by Lightning (and ``step``)."""

    def __init__(
        self,
        factory: Callable[[torch.optim.Optimizer], Any] | None = None,
        config: dict[str, Any] | None = None,
        step: Callable[[Any, int], None] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("n_samples", 20)  # 5 batches an epoch
        super().__init__(groups=2, lr=[0.1, 0.2], **kwargs)
        self.factory, self.config, self.step = factory, config or {}, step

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        if self.factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.factory(optimizer), **self.config}}

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        if self.step is None:
            scheduler.step()
        elif self.config.get("interval", "epoch") == "epoch":
            self.step(scheduler, self.current_epoch)
        else:
            self.step(scheduler, self.global_step)


def lrs(module: Lightning, callbacks: list[Any], **kwargs: Any) -> list[list[float]]:
    probe = Probe(group_values())
    kwargs.setdefault("max_epochs", 6)
    make_trainer([*callbacks, probe], **kwargs).fit(module)
    return [values for _, _, values in probe.rows]


def both(
    factory: Any, interval: str, frequency: int, step: Any = None, **kwargs: Any
) -> tuple[list[list[float]], list[list[float]], ls.TorchScheduler]:
    cb = ls.TorchScheduler(factory, interval=interval, frequency=frequency, step=step)
    ours = lrs(Lightning(), [cb], **kwargs)
    config = {"interval": interval, "frequency": frequency}
    lightning = lrs(Lightning(factory, config, step), [], **kwargs)
    return ours, lightning, cb


@pytest.mark.parametrize("frequency", [1, 2, 3])
@pytest.mark.parametrize("accumulate", [1, 2])
def test_step_frequency_counts_the_batches_of_each_epoch_as_lightning(frequency: int, accumulate: int) -> None:
    # 5 batches an epoch: frequency 2 and 3 restart their count every epoch; batches that accumulate do not step.
    ours, lightning, _ = both(STEP_LR, "step", frequency, accumulate_grad_batches=accumulate)
    assert ours == lightning  # bit for bit: the same scheduler, stepped as often
    # accumulate=2: the optimizer steps after batches 1, 3 and 4 of each epoch, none of which ends a
    # multiple of 3 batches, so with frequency=3 Lightning never steps the scheduler.
    values = {tuple(v) for v in lightning}
    assert len(values) == 1 if (accumulate, frequency) == (2, 3) else len(values) > 2


@pytest.mark.parametrize("frequency", [2, 3])
def test_epoch_frequency_as_lightning(frequency: int) -> None:
    ours, lightning, cb = both(EPOCH_LR, "epoch", frequency, max_epochs=9)
    assert ours == lightning
    assert len({tuple(v) for v in lightning}) > 1
    assert cb.simulate(9, initial=[0.1, 0.2])[:, 0].tolist() == [v[0] for v in lightning[::5]]


@pytest.mark.parametrize("frequency", [1, 2])
def test_timm_cosine_in_epochs_with_lightnings_documented_recipe(frequency: int) -> None:
    # lr_scheduler_step calling scheduler.step(epoch=self.current_epoch), interval "epoch".
    ours, lightning, cb = both(timm_cosine, "epoch", frequency, step=timm_epoch_step, max_epochs=8)
    assert ours == lightning
    assert len({tuple(v) for v in lightning}) > 3
    assert cb.simulate(8, initial=[0.1, 0.2]).tolist() == [v for v in lightning[::5]]  # the preview is the fit
    with pytest.raises(TypeError):  # without step=, timm's step() needs the epoch
        ls.TorchScheduler(timm_cosine, interval="epoch").simulate(3)


@pytest.mark.parametrize("frequency", [1, 3])
def test_timm_cosine_in_updates_with_a_step_update_override(frequency: int) -> None:
    ours, lightning, _ = both(timm_cosine_updates, "step", frequency, step=timm_update_step, max_epochs=4)
    assert ours == lightning
    assert len({tuple(v) for v in lightning}) > 3


def test_resume_mid_epoch_with_a_frequency(tmp_path: Path) -> None:
    def cb() -> ls.TorchScheduler:
        return ls.TorchScheduler(STEP_LR, frequency=3)

    full = lrs(Lightning(), [cb()])
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=7, save_top_k=-1)
    lrs(Lightning(), [cb(), checkpoint], enable_checkpointing=True)
    probe = Probe(group_values())
    with pytest.warns(UserWarning, match="resuming from a checkpoint that ended before the epoch ended"):
        make_trainer([cb(), probe], max_epochs=6).fit(Lightning(), ckpt_path=next(tmp_path.glob("*step=7.ckpt")))
    assert [values for _, _, values in probe.rows] == full[7:]


def test_arguments_and_fingerprint() -> None:
    with pytest.raises(ValueError, match=r"`frequency` must be >= 1, got 0"):
        ls.TorchScheduler(STEP_LR, frequency=0)
    with pytest.raises(TypeError, match=r"`frequency` must be an int, got '2' \(str\)"):
        ls.TorchScheduler(STEP_LR, frequency="2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`step` must be callable, got 'step' \(str\)"):
        ls.TorchScheduler(STEP_LR, step="step")  # type: ignore[arg-type]
    assert "frequency" not in repr(ls.TorchScheduler(STEP_LR))  # earlier checkpoints still match
    described = repr(ls.TorchScheduler(timm_cosine, interval="epoch", frequency=2, step=timm_epoch_step))
    assert ", frequency=2, step=" in described and described.endswith(".timm_epoch_step)")
    # simulate counts every optimizer step as a batch: frequency 2 steps every 2 steps.
    assert ls.TorchScheduler(STEP_LR, frequency=2).simulate(9, initial=1.0).tolist() == [
        1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25
    ]  # fmt: skip


def test_one_cycle_with_interval_epoch_warns_as_lightning_does() -> None:
    with pytest.warns(RuntimeWarning, match=r"OneCycleLR is used with interval='epoch'.*didn't mean interval='step'"):
        ls.OneCycleLR(max_lr=1.0, total_steps=10, interval="epoch")
    one_cycle = functools.partial(tl.OneCycleLR, max_lr=1.0, total_steps=10)
    with pytest.warns(RuntimeWarning, match=r"a `OneCycleLR` scheduler is stepped with interval='epoch'"):
        lrs(Lightning(), [ls.TorchScheduler(one_cycle, interval="epoch")], max_epochs=2)
