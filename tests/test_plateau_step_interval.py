"""Plateau decisions where Lightning steps a plateau scheduler of ``configure_optimizers`` returned
with ``{"interval": "step" | "epoch", "frequency": k}``: ``ReduceLROnPlateau(interval=..., frequency=k)``
compared batch by batch with Lightning's own path in real fits."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls

# One value per batch (and per validation run): a descent, then a noisy plateau, so that some
# decisions improve and many do not (patience=1 reduces often).
_rng = np.random.default_rng(0)
SCRIPT = [float(v) for v in np.round(np.maximum(5.0 * 0.7 ** np.arange(80), 2.0) + _rng.uniform(0, 1.0, 80), 4)]
EPOCH_SCRIPT = [5.0, 4.0, 4.2, 4.1, 4.3, 4.4, 3.0, 3.5, 3.6, 3.7]
KWARGS = dict(factor=0.5, patience=1, threshold=0.01)
EPOCHS = 4


class StepMetric(TinyModule):
    """Logs ``train_metric`` in ``training_step`` (``on_step`` and ``on_epoch``: at an epoch's end the
    plain name holds the epoch's mean, not what Lightning's step path read) and ``val_loss`` in
    validation. ``lightning`` returns torch's ReduceLROnPlateau with that scheduler config instead."""

    def __init__(self, lightning: dict[str, Any] | None = None, monitor: str = "train_metric", **kwargs: Any) -> None:
        kwargs.setdefault("n_samples", 20)  # 5 batches an epoch
        kwargs.setdefault("batch_size", 4)
        super().__init__(**kwargs)
        self.lightning, self.monitor = lightning, monitor
        self.validations = 0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        # Indexed by the batches seen (one value per batch, accumulation or not), resumable.
        seen = int(self.trainer.fit_loop.epoch_loop.batch_progress.total.ready) - 1
        self.log("train_metric", torch.tensor(SCRIPT[seen], dtype=torch.float64), on_step=True, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("epoch_metric", torch.tensor(EPOCH_SCRIPT[self.current_epoch], dtype=torch.float64))

    def val_dataloader(self) -> Any:
        return DataLoader(TensorDataset(self.x[:4], self.y[:4]), batch_size=4)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", torch.tensor(SCRIPT[self.global_step], dtype=torch.float64))

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        if self.lightning is None:
            return optimizer
        config = dict(self.lightning)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, **{k: v for k, v in config.items() if k in KWARGS}
        )
        rest = {k: v for k, v in config.items() if k not in KWARGS}
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor, **rest}}


class NoValidation(StepMetric):
    val_dataloader = None  # type: ignore[assignment]
    validation_step = None  # type: ignore[assignment]


def per_batch_lrs(module: StepMetric, callbacks: list[Any], **kwargs: Any) -> list[float]:
    probe = Probe(group_values())
    kwargs.setdefault("max_epochs", EPOCHS)
    make_trainer([*callbacks, probe], **kwargs).fit(module)
    return [values[0] for _, _, values in probe.rows]


def both(
    module: type[StepMetric], interval: str, frequency: int, monitor: str = "train_metric", **kwargs: Any
) -> tuple[list[float], list[float], ls.ReduceLROnPlateau]:
    strict = kwargs.pop("strict", True)
    cb = ls.ReduceLROnPlateau(monitor, interval=interval, frequency=frequency, strict=strict, **KWARGS)
    ours = per_batch_lrs(module(monitor=monitor), [cb], **kwargs)
    config = dict(KWARGS, interval=interval, frequency=frequency, strict=strict)
    lightning = per_batch_lrs(module(lightning=config, monitor=monitor), [], **kwargs)
    return ours, lightning, cb


@pytest.mark.parametrize("frequency", [1, 2, 3])
def test_a_training_metric_every_k_steps_as_lightning(frequency: int) -> None:
    # 5 batches an epoch: frequency 2 and 3 count the batches of each epoch, as Lightning does.
    ours, lightning, cb = both(NoValidation, "step", frequency)
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert cb.state.decisions == EPOCHS * (5 // frequency)
    assert min(lightning) < 0.1  # reductions happen


@pytest.mark.parametrize(("frequency", "strict"), [(2, True), (1, False)])
def test_a_validation_metric_after_the_batchs_validation_as_lightning(frequency: int, strict: bool) -> None:
    # A validation every 2 batches; with frequency=1 the first decision finds no val_loss yet
    # (strict=False: skipped, as Lightning skips it), later ones read the last validation's value again.
    ours, lightning, _ = both(StepMetric, "step", frequency, "val_loss", val_check_interval=2, strict=strict)
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert min(lightning) < 0.1 / 2


@pytest.mark.parametrize(("accumulate", "frequency"), [(2, 1), (2, 2), (3, 1)])
def test_no_decision_while_gradients_accumulate(accumulate: int, frequency: int) -> None:
    ours, lightning, cb = both(NoValidation, "step", frequency, accumulate_grad_batches=accumulate)
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert 0 < cb.state.decisions < EPOCHS * 5
    assert min(lightning) < 0.1


@pytest.mark.parametrize("frequency", [1, 2])
def test_epoch_interval_every_k_epochs_as_lightning(frequency: int) -> None:
    # A metric logged in on_train_epoch_end (after this callback's hook): read when the next epoch starts.
    ours, lightning, cb = both(NoValidation, "epoch", frequency, "epoch_metric", max_epochs=10)
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert cb.state.decisions == 10 // frequency
    assert len(set(lightning)) > 1


def test_a_step_base_is_reduced_from_the_next_batch() -> None:
    warmup = ls.LinearLR(start_factor=0.1, total_iters=6, interval="step")
    cb = ls.ReduceLROnPlateau("train_metric", base=warmup, interval="step", **KWARGS)
    ours = per_batch_lrs(NoValidation(), [cb])
    reductions = np.array(per_batch_lrs(NoValidation(lightning=dict(KWARGS, interval="step")), [])) / 0.1
    warm = [0.1 * (0.1 + 0.9 * min(t, 6) / 6) for t in range(len(ours))]
    np.testing.assert_allclose(ours, np.array(warm) * reductions, rtol=1e-12, atol=0)
    assert cb.interval == "step"


def test_a_missing_metric_is_an_error_after_the_batch() -> None:
    with pytest.raises(KeyError, match=r"after a training batch, monitor 'train_metrc' .*'train_metric'"):
        per_batch_lrs(NoValidation(), [ls.ReduceLROnPlateau("train_metrc", interval="step")])


def test_arguments_and_fingerprint() -> None:
    with pytest.raises(ValueError, match=r"`frequency`=2 counts steps or epochs: give `interval`"):
        ls.ReduceLROnPlateau("v", frequency=2)
    with pytest.raises(ValueError, match=r"`frequency` must be >= 1, got 0"):
        ls.ReduceAttributeOnPlateau("v", "w", interval="step", frequency=0)
    with pytest.raises(TypeError, match=r"`frequency` must be an int, got 2.0 \(float\)"):
        ls.ReduceLROnPlateau("v", interval="step", frequency=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`interval` must be one of \('step', 'epoch'\), got 'steps'"):
        ls.ReduceLROnPlateau("v", interval="steps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"give `interval` \('epoch'\) or `check_on_train_epoch_end` \(True\)"):
        ls.ReduceLROnPlateau("v", interval="epoch", check_on_train_epoch_end=True)
    plain = repr(ls.ReduceLROnPlateau("v"))
    assert "interval" not in plain and "frequency" not in plain  # earlier checkpoints still match
    assert repr(ls.ReduceLROnPlateau("v", interval="step", frequency=3)).endswith("interval='step', frequency=3)")
    assert repr(ls.ReduceAttributeOnPlateau("v", "w", interval="epoch")).endswith("interval='epoch')")
    assert ls.ReduceLROnPlateau("v", interval="step").interval == "step"
    assert ls.ReduceLROnPlateau("v", interval="step", base=ls.StepLR(2)).interval == "epoch"  # the base's clock


# ------------------------------------------------------------------ resume
@pytest.mark.parametrize(("frequency", "at"), [(1, 7), (2, 7), (1, 10)])
def test_a_mid_epoch_checkpoint_resumes_exactly(tmp_path: Path, frequency: int, at: int) -> None:
    # Saved at a batch's end (step 7: mid-epoch; step 10: an epoch's last batch), before that
    # batch's decision: its metric travels in the checkpoint and the decision is taken on resume.
    def cb() -> ls.ReduceLROnPlateau:
        return ls.ReduceLROnPlateau("train_metric", interval="step", frequency=frequency, **KWARGS)

    full = per_batch_lrs(NoValidation(), [cb()])
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=at, save_top_k=-1)
    per_batch_lrs(NoValidation(), [cb(), checkpoint], enable_checkpointing=True)
    path = next(tmp_path.glob(f"*step={at}.ckpt"))
    extra = next(iter(torch.load(path, weights_only=True)["callbacks"].values()))["extra"]
    due = ((at - 1) % 5 + 1) % frequency == 0
    assert extra["step_metric"] == (SCRIPT[at - 1] if due else None)
    resumed_cb = cb()
    probe = Probe(group_values())
    with (
        pytest.warns(UserWarning, match="resuming from a checkpoint that ended before the epoch ended")
        if at % 5
        else contextlib.nullcontext()
    ):
        make_trainer([resumed_cb, probe], max_epochs=EPOCHS).fit(NoValidation(), ckpt_path=path)
    assert [values[0] for _, _, values in probe.rows] == full[at:]
    assert resumed_cb.state.decisions == EPOCHS * (5 // frequency)
