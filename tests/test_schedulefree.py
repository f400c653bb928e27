"""ScheduleFree: schedule-free optimizers in a Trainer, against the package's README loop.

The reference is the loop the ``schedulefree`` README prescribes, written out here: ``train()``
next to ``model.train()``, ``eval()`` next to ``model.eval()``. Modules are float64; the stated
tolerance is 1e-12 relative. What a plain Trainer gets wrong is shown first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import schedulefree  # a dev extra (pip install schedulefree): missing, this file fails rather than skips
import torch
from _helpers import Crash, assert_parity, make_trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.callbacks.schedulefree import ScheduleFree

KINDS = ["AdamWScheduleFree", "SGDScheduleFree", "RAdamScheduleFree", "ScheduleFreeWrapper"]
KWARGS: dict[str, dict[str, Any]] = {
    "AdamWScheduleFree": {"lr": 0.02, "weight_decay": 0.01, "warmup_steps": 3},
    "SGDScheduleFree": {"lr": 0.2, "momentum": 0.8, "warmup_steps": 2},
    "RAdamScheduleFree": {"lr": 0.02, "betas": (0.85, 0.99)},
    "ScheduleFreeWrapper": {"momentum": 0.9, "weight_decay_at_y": 0.01},
}


def make_optimizer(kind: str, params: Any, **overrides: Any) -> Any:
    kwargs = {**KWARGS[kind], **overrides}
    if kind == "ScheduleFreeWrapper":
        # schedulefree 1.4.1's wrapper puts z in the base's state before its first step: a base that
        # fills an empty state (torch's Adam, RMSprop) then fails with a KeyError; SGD does not.
        return ScheduleFree.wrap(torch.optim.SGD(params, lr=0.2), **kwargs)
    return getattr(schedulefree, kind)(params, **kwargs)


def train_mode(optimizer: Any) -> bool:
    """The optimizer's own flag: on the wrapper, or in every param group (all equal here)."""
    if hasattr(optimizer, "train_mode"):
        return bool(optimizer.train_mode)
    modes = {bool(g["train_mode"]) for g in optimizer.param_groups}
    assert len(modes) == 1
    return modes.pop()


def data(n: int, seed: int, same_batches: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rows = 4 if same_batches else n
    x = torch.randn(rows, 4, generator=g, dtype=torch.float64).repeat(n // rows, 1)
    y = torch.randn(rows, 1, generator=g, dtype=torch.float64).repeat(n // rows, 1)
    return x, y


def new_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1)).double()


class SFModule(pl.LightningModule):
    """Records the optimizer's mode in every step method and the validation losses."""

    def __init__(self, kind: str = "AdamWScheduleFree", same_batches: bool = False, **overrides: Any) -> None:
        super().__init__()
        self.net = new_net()
        self.kind, self.overrides = kind, overrides
        self.train_data, self.val_data = data(32, 1, same_batches), data(16, 2)
        self.modes: list[tuple[str, bool]] = []
        self.val_losses: list[float] = []

    def _mode(self, where: str) -> None:
        optimizers = self.trainer.optimizers
        if optimizers:
            self.modes.append((where, train_mode(optimizers[0])))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self._mode("training_step")
        return nn.functional.mse_loss(self.net(batch[0]), batch[1])

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("validation_step")
        self.val_losses.append(float(nn.functional.mse_loss(self.net(batch[0]), batch[1])))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("test_step")

    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        self._mode("predict_step")
        return self.net(batch[0])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*self.train_data), batch_size=4)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*self.val_data), batch_size=16)

    test_dataloader = predict_dataloader = val_dataloader

    def configure_optimizers(self) -> Any:
        return make_optimizer(self.kind, self.parameters(), **self.overrides)


def readme_loop(kind: str, epochs: int, **overrides: Any) -> tuple[nn.Module, Any, list[float]]:
    """The README's loop: optimizer.train() with model.train(), optimizer.eval() with model.eval(); validate."""
    net = new_net()
    optimizer = make_optimizer(kind, net.parameters(), **overrides)
    (x, y), (vx, vy) = data(32, 1), data(16, 2)
    losses = []
    for _ in range(epochs):
        net.train()
        optimizer.train()
        for i in range(0, 32, 4):
            optimizer.zero_grad()
            nn.functional.mse_loss(net(x[i : i + 4]), y[i : i + 4]).backward()
            optimizer.step()
        net.eval()
        optimizer.eval()
        with torch.no_grad():
            losses.append(float(nn.functional.mse_loss(net(vx), vy)))
    return net, optimizer, losses


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])


def fit(callbacks: list[pl.Callback], module: SFModule, **kwargs: Any) -> SFModule:
    make_trainer(callbacks, **kwargs).fit(module)
    return module


# ----------------------------------------------------------------- what breaks without it


def test_a_plain_trainer_fails_at_the_first_step() -> None:
    with pytest.raises(Exception, match="not in train mode"):
        fit([], SFModule(), max_epochs=1)


class TrainOnce(pl.Callback):
    """The usual partial fix: optimizer.train() once, when training starts, and nothing else."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.optimizers[0].train()


def test_train_mode_alone_validates_and_ends_on_the_wrong_point() -> None:
    """Without eval(), validation and the final weights are y, not the README's x."""
    _, _, expected = readme_loop("AdamWScheduleFree", 3)
    module = fit([TrainOnce()], SFModule(), max_epochs=3)
    assert len(module.val_losses) == 3
    for got, want in zip(module.val_losses[1:], expected[1:], strict=True):
        assert abs(got - want) > 1e-4 * abs(want)
    assert train_mode(module.trainer.optimizers[0])  # the module ends the fit on y


# ----------------------------------------------------------------- with it: the README's numbers


@pytest.mark.parametrize("kind", KINDS)
def test_validation_and_final_weights_are_the_readme_loops(kind: str) -> None:
    """Validation on x after each epoch, the fit ending on x in eval mode: the README loop's values."""
    net, optimizer, expected = readme_loop(kind, 3)
    module = fit([ScheduleFree()], SFModule(kind), max_epochs=3)
    assert_parity(module.val_losses, expected)
    assert_parity(flat(module).numpy(), flat(net).numpy())
    assert not train_mode(module.trainer.optimizers[0])
    z_ours = [module.trainer.optimizers[0].state[p]["z"] for p in module.parameters()]
    z_ref = [optimizer.state[p]["z"] for p in net.parameters()]
    assert_parity(torch.cat([z.reshape(-1) for z in z_ours]).numpy(), torch.cat([z.reshape(-1) for z in z_ref]).numpy())


# ----------------------------------------------------------------- modes at every hook


class ModeProbe(pl.Callback):
    """Placed after ScheduleFree: the modes every hook sees, and what each checkpoint holds."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[bool, ...]]] = []
        self.checkpoints: list[dict[str, Any]] = []

    def _record(self, trainer: pl.Trainer, where: str) -> None:
        sf = [opt for opt in trainer.optimizers if hasattr(opt, "eval")]
        if sf:
            self.seen.append((where, tuple(train_mode(opt) for opt in sf)))

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self._record(trainer, "on_train_batch_start")

    def on_validation_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self._record(trainer, "on_validation_start")

    def on_validation_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self._record(trainer, "on_validation_end")

    def on_train_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self._record(trainer, "on_train_end")

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._record(trainer, "on_save_checkpoint")
        optimizer = trainer.optimizers[-1]
        params = list(optimizer.param_groups[0]["params"])
        y = torch.cat([p.detach().reshape(-1) for p in params])
        z = torch.cat([optimizer.state[p]["z"].reshape(-1) for p in params])
        beta = optimizer.param_groups[0]["momentum"]
        names = {id(p): n for n, p in pl_module.named_parameters()}
        saved = torch.cat([checkpoint["state_dict"][names[id(p)]].reshape(-1) for p in params])
        self.checkpoints.append(
            {
                "x": (y - (1 - beta) * z) / beta,  # y = (1 - beta) z + beta x, the README's interpolation
                "saved": saved,
                "modes": [g.get("train_mode") for s in checkpoint["optimizer_states"] for g in s["param_groups"]],
            }
        )


class TwoOptimizers(SFModule):
    """Manual optimization: a torch SGD on the first layer, SGDScheduleFree on the last (the one managed)."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> None:
        self._mode("training_step")
        for optimizer in self.optimizers():  # type: ignore[union-attr]
            optimizer.zero_grad()
        self.manual_backward(nn.functional.mse_loss(self.net(batch[0]), batch[1]))
        for optimizer in self.optimizers():  # type: ignore[union-attr]
            optimizer.step()

    def _mode(self, where: str) -> None:
        optimizers = self.trainer.optimizers
        if optimizers:
            self.modes.append((where, train_mode(optimizers[1])))

    def configure_optimizers(self) -> Any:
        first = torch.optim.SGD(self.net[0].parameters(), lr=0.05)
        return [first, schedulefree.SGDScheduleFree(self.net[2].parameters(), lr=0.2, momentum=0.8)]


@pytest.mark.filterwarnings("ignore:.*ModelCheckpoint with manual optimization.*")
def test_every_hook_sees_the_right_mode_and_checkpoints_hold_x(tmp_path: Path) -> None:
    module = TwoOptimizers()
    probe = ModeProbe()
    ckpt = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=3, save_top_k=-1)
    trainer = make_trainer(
        [ScheduleFree(), probe, ckpt], max_epochs=2, num_sanity_val_steps=1, enable_checkpointing=True
    )
    trainer.fit(module)
    by_hook: dict[str, set[tuple[bool, ...]]] = {}
    for where, modes in probe.seen:
        by_hook.setdefault(where, set()).add(modes)
    assert by_hook["on_train_batch_start"] == {(True,)}
    assert by_hook["on_validation_start"] == {(False,)}  # the sanity check and both epochs
    assert by_hook["on_train_end"] == {(False,)}
    assert by_hook["on_save_checkpoint"] == {(True,)}  # saved mid-epoch: the hook runs in train mode
    assert {m for w, m in module.modes if w == "training_step"} == {True}
    assert {m for w, m in module.modes if w == "validation_step"} == {False}
    assert len(probe.checkpoints) == 16 // 3
    for saved in probe.checkpoints:
        assert_parity(saved["saved"].numpy(), saved["x"].numpy(), rtol=1e-12)
        assert saved["modes"] == [None, False]  # the torch SGD has none; SGDScheduleFree says eval
    assert isinstance(trainer.optimizers[0], torch.optim.SGD)  # untouched
    module.modes.clear()
    trainer.test(module, verbose=False)
    trainer.predict(module)
    assert module.modes == [("test_step", False), ("predict_step", False)]


def test_an_index_selects_the_optimizers_and_a_wrong_one_is_named() -> None:
    module = fit([ScheduleFree(optimizers=[1])], TwoOptimizers(), max_epochs=1)
    assert {m for w, m in module.modes if w == "training_step"} == {True}
    with pytest.raises(ValueError, match=r"optimizer 0 \(SGD\) has no train\(\)/eval\(\)"):
        fit([ScheduleFree(optimizers=0)], TwoOptimizers(), max_epochs=1)
    with pytest.raises(ValueError, match=r"names optimizer 2, but the trainer has 2: \['SGD', 'SGDScheduleFree'\]"):
        fit([ScheduleFree(optimizers=[1, 2])], TwoOptimizers(), max_epochs=1)


# ----------------------------------------------------------------- resume


def optimizer_state(optimizer: Any) -> list[Any]:
    state = optimizer.state_dict()
    tensors = [v for s in state["state"].values() for v in s.values() if isinstance(v, torch.Tensor)]
    groups = [{k: v for k, v in g.items() if k != "params"} for g in state["param_groups"]]
    return [*tensors, groups]


def assert_same(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y


@pytest.mark.parametrize("kind", ["AdamWScheduleFree", "ScheduleFreeWrapper"])
@pytest.mark.filterwarnings(
    "ignore:.*callbacks used to create the checkpoint.*", "ignore:.*not resumable.*", "ignore:.*dirpath has changed.*"
)
def test_a_fit_killed_mid_epoch_and_resumed_is_bit_for_bit_the_uninterrupted_one(tmp_path: Path, kind: str) -> None:
    """Checkpoint at step 5 (mid-epoch, epochs of 8 steps), crash at 7, resume: weights, optimizer state, metrics."""

    def run(folder: Path, crash: bool = False, ckpt_path: Path | None = None) -> SFModule:
        module = SFModule(kind, same_batches=True)  # a resumed epoch restarts its dataloader: all batches alike
        callbacks: list[pl.Callback] = [ScheduleFree(), ModelCheckpoint(dirpath=folder, every_n_train_steps=5)]
        if crash:
            callbacks.append(Crash(7))
        make_trainer(callbacks, max_epochs=3, enable_checkpointing=True).fit(module, ckpt_path=ckpt_path)
        return module

    full = run(tmp_path / "full")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(tmp_path / "killed", crash=True)
    path = tmp_path / "killed" / "epoch=0-step=5.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    assert all(not g.get("train_mode", False) for g in checkpoint["optimizer_states"][0]["param_groups"])
    resumed = run(tmp_path / "resumed", ckpt_path=path)
    assert torch.equal(flat(resumed), flat(full))
    assert_same(optimizer_state(resumed.trainer.optimizers[0]), optimizer_state(full.trainer.optimizers[0]))
    assert resumed.val_losses == full.val_losses  # the three end-of-epoch validations (on x)
    assert len(full.val_losses) == 3
    # A fit that saves no checkpoint never goes to eval mode and back mid-epoch: rounding apart, the same fit.
    never_saved = fit([ScheduleFree()], SFModule(kind, same_batches=True), max_epochs=3)
    assert_parity(flat(never_saved).numpy(), flat(full).numpy())


# ----------------------------------------------------------------- an lr warmup callback next to it


class UsedLR(pl.Callback):
    """The lr each step used: what the optimizer wrote to ``scheduled_lr`` during its step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.lrs.append(float(trainer.optimizers[0].param_groups[0]["scheduled_lr"]))


def test_a_linear_lr_warmup_callback_is_the_optimizers_own_warmup() -> None:
    """ls.LinearLR(1/W, 1, W-1) with warmup_steps=0 trains as AdamWScheduleFree(warmup_steps=W): lr (k+1)/W * lr."""
    w, base = 5, 0.02
    own, callback = UsedLR(), UsedLR()
    a = fit([ScheduleFree(), own], SFModule(warmup_steps=w), max_epochs=2)
    warmup = ls.LinearLR(start_factor=1 / w, end_factor=1.0, total_iters=w - 1, interval="step")
    b = fit([ScheduleFree(), warmup, callback], SFModule(warmup_steps=0), max_epochs=2)
    expected = [base * min(k + 1, w) / w for k in range(16)]
    assert_parity(own.lrs, expected)
    assert_parity(callback.lrs, expected)
    assert_parity(b.val_losses, a.val_losses)
    assert_parity(flat(b).numpy(), flat(a).numpy())
    # Both warmups at once multiply: the optimizer scales the lr the callback wrote.
    both = UsedLR()
    fit([ScheduleFree(), ls.LinearLR(1 / w, 1.0, w - 1, interval="step"), both], SFModule(warmup_steps=w), max_epochs=1)
    assert_parity(both.lrs, [base * (min(k + 1, w) / w) ** 2 for k in range(8)])


# ----------------------------------------------------------------- without the package, bad arguments


WITHOUT_SCHEDULEFREE = """
import sys
sys.modules["schedulefree"] = None  # any import of it now fails, as when it is not installed
import torch
import lightning_schedulers
from lightning_schedulers.callbacks.schedulefree import ScheduleFree
print(repr(ScheduleFree()))
try:
    ScheduleFree.wrap(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
except ModuleNotFoundError as error:
    print(error)
"""


def test_without_schedulefree_the_package_imports_and_the_callback_builds() -> None:
    """A fresh interpreter where schedulefree cannot be imported: only wrap() needs it, and says how to install it."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_SCHEDULEFREE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ScheduleFree(optimizers=None)"
    assert "needs the schedulefree package, which is not installed: pip install schedulefree" in lines[1]


class PlainModule(SFModule):
    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters())


def test_a_fit_without_a_schedule_free_optimizer_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"none of the trainer's optimizers \['Adam'\].*pip install schedulefree"):
        fit([ScheduleFree()], PlainModule(), max_epochs=1)


@pytest.mark.parametrize(
    ("value", "error", "pattern"),
    [
        (-1, ValueError, r"`optimizers` must be >= 0, got -1"),
        (1.5, TypeError, r"`optimizers` must be None, an optimizer index or a sequence of them, got 1.5"),
        (True, TypeError, r"`optimizers` must be None, an optimizer index or a sequence of them, got True"),
        ("0", TypeError, r"`optimizers` must be None, an optimizer index or a sequence of them, got '0'"),
        ([], ValueError, r"`optimizers` must not be empty, got \[\]"),
        ([0, 0], ValueError, r"`optimizers` must not repeat an index, got \[0, 0\]"),
        ([0, "1"], TypeError, r"`optimizers\[1\]` must be an int, got '1'"),
    ],
)
def test_bad_arguments_are_refused_naming_them(value: Any, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        ScheduleFree(optimizers=value)
