"""Plateau decisions at the end of training epochs: what Lightning does with a plateau scheduler of
``configure_optimizers`` (``"monitor": "train_loss"``), compared with Lightning itself in real fits."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import Probe, TinyModule, close_process_group, group_values, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls

# One value per epoch: improves, stalls, improves, stalls long (reductions with patience=1).
SCRIPT = [5.0, 4.0, 4.2, 4.1, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9]
EPOCHS = len(SCRIPT)


class EpochMetric(TinyModule):
    """Logs ``train_metric`` (the epoch's scripted value) from ``training_step`` or ``on_train_epoch_end``.

    ``lightning`` returns torch's ReduceLROnPlateau from ``configure_optimizers`` instead: the
    reference.
    """

    def __init__(
        self, where: str = "step", lightning: dict[str, Any] | None = None, skip: tuple[int, ...] = (), **kwargs: Any
    ) -> None:
        kwargs.setdefault("n_samples", 16)
        kwargs.setdefault("batch_size", 4)
        super().__init__(**kwargs)
        self.where, self.lightning, self.skip = where, lightning, skip

    def _value(self) -> torch.Tensor:
        return torch.tensor(SCRIPT[self.current_epoch], dtype=torch.float64)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        if self.where == "step" and self.current_epoch not in self.skip:
            self.log("train_metric", self._value(), on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        if self.where == "epoch_end" and self.current_epoch not in self.skip:
            self.log("train_metric", self._value())

    def configure_optimizers(self) -> Any:
        optimizer = super().configure_optimizers()
        if self.lightning is None:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **self.lightning)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor}}

    monitor = "train_metric"


class WithValidation(EpochMetric):
    def val_dataloader(self) -> Any:
        return DataLoader(TensorDataset(self.x[:4], self.y[:4]), batch_size=4)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", torch.tensor(1.0))


def per_batch_lrs(module: EpochMetric, callbacks: list[Any], **kwargs: Any) -> list[float]:
    probe = Probe(group_values())
    make_trainer([*callbacks, probe], max_epochs=EPOCHS, **kwargs).fit(module)
    return [values[0] for _, _, values in probe.rows]


KWARGS = dict(factor=0.5, patience=1, threshold=0.01)


@pytest.mark.parametrize("where", ["step", "epoch_end"])
def test_without_validation_decisions_follow_lightnings_own_plateau_scheduler(where: str) -> None:
    ours = per_batch_lrs(EpochMetric(where), [ls.ReduceLROnPlateau("train_metric", **KWARGS)])
    lightning = per_batch_lrs(EpochMetric(where, lightning=KWARGS), [])
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert min(lightning) < 0.1 / 4  # the script makes several reductions


def test_with_validation_a_training_metric_needs_check_on_train_epoch_end() -> None:
    with pytest.raises(KeyError, match=r"after a validation run, .*pass check_on_train_epoch_end=True"):
        per_batch_lrs(WithValidation(), [ls.ReduceLROnPlateau("train_metric", **KWARGS)])
    cb = ls.ReduceLROnPlateau("train_metric", check_on_train_epoch_end=True, **KWARGS)
    ours = per_batch_lrs(WithValidation("epoch_end"), [cb])
    lightning = per_batch_lrs(WithValidation("epoch_end", lightning=KWARGS), [])
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert cb.state.decisions == EPOCHS


def test_a_validation_metric_decided_at_the_end_of_each_epoch() -> None:
    # val_check_interval=0.5: two validations an epoch, one decision (on the epoch's last one).
    class Validated(WithValidation):
        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self._value())

    cb = ls.ReduceLROnPlateau("val_loss", check_on_train_epoch_end=True, **KWARGS)
    ours = per_batch_lrs(Validated(where="none"), [cb], val_check_interval=0.5)
    lightning = per_batch_lrs(EpochMetric(lightning=KWARGS), [])  # the same per-epoch values
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert cb.state.decisions == EPOCHS


def test_several_validations_an_epoch_decide_as_lightning_does_at_the_epoch_end() -> None:
    # Two validations an epoch, each logging its own value; Lightning's plateau scheduler
    # (interval "epoch") decides once an epoch, on the last one.
    class TwoAnEpoch(WithValidation):
        monitor = "val_loss"

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            run = self.global_step // 2  # 4 batches an epoch, a validation every 2
            self.log("val_loss", torch.tensor(SCRIPT[run % EPOCHS] + 0.01 * run, dtype=torch.float64))

    cb = ls.ReduceLROnPlateau("val_loss", check_on_train_epoch_end=True, **KWARGS)
    ours = per_batch_lrs(TwoAnEpoch(where="none"), [cb], val_check_interval=0.5)
    lightning = per_batch_lrs(TwoAnEpoch(where="none", lightning=KWARGS), [], val_check_interval=0.5)
    np.testing.assert_allclose(ours, lightning, rtol=1e-12, atol=0)
    assert min(lightning) < 0.1 / 2
    each = per_batch_lrs(TwoAnEpoch(where="none"), [ls.ReduceLROnPlateau("val_loss", **KWARGS)], val_check_interval=0.5)
    assert each != lightning  # the default decides after each validation: twice as often


def test_an_epoch_interval_base_is_reduced_from_the_next_epoch() -> None:
    # StepLR halves every 3 epochs; a reduction at the end of epoch e scales epoch e + 1 on.
    cb = ls.ReduceLROnPlateau("train_metric", base=ls.StepLR(3, gamma=0.5), **KWARGS)
    ours = per_batch_lrs(EpochMetric("epoch_end"), [cb])
    reductions = per_batch_lrs(EpochMetric("epoch_end", lightning=KWARGS), [])
    per_epoch_reduction = np.array(reductions[::4]) / 0.1
    expected = [0.1 * 0.5 ** (e // 3) * per_epoch_reduction[e] for e in range(EPOCHS)]
    np.testing.assert_allclose(ours[::4], expected, rtol=1e-12, atol=0)
    assert len(set(np.round(per_epoch_reduction, 12))) >= 3


def test_a_step_interval_base_is_reduced_from_the_next_step() -> None:
    warmup = ls.LinearLR(start_factor=0.1, total_iters=6, interval="step")
    cb = ls.ReduceLROnPlateau("train_metric", base=warmup, **KWARGS)
    ours = per_batch_lrs(EpochMetric("step"), [cb])
    reductions = np.repeat(np.array(per_batch_lrs(EpochMetric("step", lightning=KWARGS), [])[::4]) / 0.1, 4)
    warm = [0.1 * (0.1 + 0.9 * min(t, 6) / 6) for t in range(len(ours))]
    np.testing.assert_allclose(ours, np.array(warm) * reductions, rtol=1e-12, atol=0)


def test_an_epoch_without_a_new_value_decides_nothing() -> None:
    cb = ls.ReduceLROnPlateau("train_metric", **KWARGS)
    with pytest.warns(UserWarning, match="a training epoch ended without a new value of 'train_metric'"):
        per_batch_lrs(EpochMetric("epoch_end", skip=(2, 3, 5)), [cb])
    assert cb.state.decisions == EPOCHS - 3


def test_a_metric_never_logged_is_an_error_naming_what_exists() -> None:
    with pytest.raises(KeyError, match=r"at the end of a training epoch, monitor 'train_metrc' .*'train_metric'"):
        per_batch_lrs(EpochMetric("epoch_end"), [ls.ReduceLROnPlateau("train_metrc")])


def test_explicit_validation_decisions_without_a_validation_loop_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"this fit runs no validation .*check_on_train_epoch_end=None.*strict=False"):
        per_batch_lrs(EpochMetric(), [ls.ReduceLROnPlateau("train_metric", check_on_train_epoch_end=False)])
    cb = ls.ReduceLROnPlateau("train_metric", check_on_train_epoch_end=False, strict=False)
    with pytest.warns(UserWarning, match="no reduction will happen") as record:
        assert set(per_batch_lrs(EpochMetric(), [cb])) == {0.1}
    assert not [w for w in record if "no validation ran" in str(w.message)]  # said once, at the start


def test_bad_value_and_fingerprint() -> None:
    with pytest.raises(TypeError, match=r"`check_on_train_epoch_end` must be a bool or None, got 'yes' \(str\)"):
        ls.ReduceLROnPlateau("v", check_on_train_epoch_end="yes")  # type: ignore[arg-type]
    assert "check_on_train_epoch_end" not in repr(ls.ReduceLROnPlateau("v"))  # 0.2.0 checkpoints still match
    assert repr(ls.ReduceAttributeOnPlateau("v", "w", check_on_train_epoch_end=True)).endswith(
        "check_on_train_epoch_end=True)"
    )


def test_verbose_says_epochs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    per_batch_lrs(EpochMetric("epoch_end"), [ls.ReduceLROnPlateau("train_metric", verbose=True, **KWARGS)])
    messages = [r.message for r in caplog.records if "has not improved" in r.message]
    assert messages and "for 2 epoch(s)" in messages[0]


# ------------------------------------------------------------------ resume
def full_and_resumed(tmp_path: Path, checkpoint: ModelCheckpoint, pick: str, **kwargs: Any) -> tuple[Any, ...]:
    def cb() -> ls.ReduceLROnPlateau:
        return ls.ReduceLROnPlateau("train_metric", **KWARGS)

    full = per_batch_lrs(EpochMetric("epoch_end"), [cb()])
    per_batch_lrs(EpochMetric("epoch_end"), [cb(), checkpoint], enable_checkpointing=True, **kwargs)
    path = next(tmp_path.glob(pick))
    state = torch.load(path, weights_only=True)["callbacks"]
    resumed_cb = cb()
    probe = Probe(group_values())
    make_trainer([resumed_cb, probe], max_epochs=EPOCHS).fit(EpochMetric("epoch_end"), ckpt_path=path)
    return full, [values[0] for _, _, values in probe.rows], next(iter(state.values())), resumed_cb


def test_resume_from_an_epoch_end_checkpoint_takes_the_waiting_decision(tmp_path: Path) -> None:
    # Saved at the end of epoch 3 (after the module logged the metric, before this callback read
    # it at the next epoch's start): the decision travels in the checkpoint.
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_on_train_epoch_end=True, save_top_k=-1)
    full, resumed, state, cb = full_and_resumed(tmp_path, checkpoint, "epoch=3-*.ckpt")
    assert state["extra"]["epoch_metric"] == SCRIPT[3]
    assert resumed == full[4 * 4 :]
    assert cb.state.decisions == EPOCHS


def test_resume_from_the_last_batch_of_an_epoch_warns_that_its_decision_is_lost(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=12, save_top_k=-1)
    with pytest.warns(UserWarning, match=r"last training batch of an epoch, before the epoch's end; .*decision 3"):
        _, _, state, cb = full_and_resumed(tmp_path, checkpoint, "*step=12.ckpt")
    assert state["extra"]["pending_epoch_end"] is True
    assert cb.state.decisions == EPOCHS - 1


def test_a_fit_in_which_no_validation_will_run_decides_at_epoch_ends_or_says_so_at_once() -> None:
    class EmptyValidation(WithValidation):
        def val_dataloader(self) -> Any:
            return DataLoader(TensorDataset(self.x[:0], self.y[:0]), batch_size=4)

    # An empty val dataloader: said at the end of the first epoch, then decided there (tests in
    # test_lightning_timing.py compare the values with Lightning's path).
    cb = ls.ReduceLROnPlateau("val_loss", **KWARGS)
    with (
        pytest.raises(KeyError, match=r"at the end of a training epoch, monitor 'val_loss' is not among"),
        pytest.warns(UserWarning, match=r"its dataloader has no batches, so no validation runs"),
    ):
        per_batch_lrs(EmptyValidation(), [cb])
    # No epoch validates (check_val_every_n_epoch beyond the fit): decided at each epoch's end, so a
    # monitor that only validation logs is an error at the first one.
    with pytest.raises(KeyError, match=r"at the end of a training epoch, monitor 'val_loss' is not among"):
        per_batch_lrs(WithValidation(), [ls.ReduceLROnPlateau("val_loss")], check_val_every_n_epoch=EPOCHS + 1)


# ------------------------------------------------------------------ DDP
class RankEpochMetric(EpochMetric):
    """Logs the monitor in on_train_epoch_end; rank 1 improves every epoch (no sync_dist)."""

    def _value(self) -> torch.Tensor:
        return torch.tensor(SCRIPT[self.current_epoch] - 10.0 * self.global_rank * self.current_epoch)


class EpochLrs(pl.Callback):
    """Writes, per rank, the lr each epoch trained with."""

    def __init__(self, folder: str) -> None:
        self.folder, self.rows = folder, []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rows.append(float(trainer.optimizers[0].param_groups[0]["lr"]))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        Path(self.folder, f"rank{trainer.global_rank}.json").write_text(json.dumps(self.rows))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        close_process_group()


@pytest.mark.slow
def test_ddp_ranks_decide_together_on_a_metric_from_on_train_epoch_end(tmp_path: Path) -> None:
    # The decision waits for the next epoch's start on every rank, and follows rank zero's value.
    cb = ls.ReduceLROnPlateau("train_metric", **KWARGS)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        max_epochs=EPOCHS,
        callbacks=[cb, EpochLrs(str(tmp_path))],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(RankEpochMetric("epoch_end"))
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert rank0 == rank1
    single = per_batch_lrs(EpochMetric("epoch_end", lightning=KWARGS), [])[::4]  # one process: rank zero's values
    np.testing.assert_allclose(rank0, single, rtol=1e-12, atol=0)
    assert min(rank0) < 0.1 / 4
