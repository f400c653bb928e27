"""Schedule-free optimizers (the ``schedulefree`` package) made correct in a Lightning Trainer.

A schedule-free optimizer (``AdamWScheduleFree``, ``SGDScheduleFree``, ``RAdamScheduleFree``,
``ScheduleFreeWrapper``) keeps two points: the parameters hold ``y`` (where gradients are taken)
in train mode and ``x`` (the average, the weights to evaluate and keep) in eval mode;
``optimizer.train()`` and ``optimizer.eval()`` move them between the two. The package's README
asks for ``optimizer.train()`` where the model goes to train mode, ``optimizer.eval()`` where it
goes to eval mode, and eval mode when a checkpoint is stored.

A plain Trainer calls neither: the first ``step()`` raises ("Optimizer was not in train mode"),
and a module that only calls ``train()`` once validates, checkpoints and ends on ``y``. The
LightningModule has ``on_validation_model_eval``/``..._train`` hooks for this, callbacks do not
(Lightning issue #20441): :class:`ScheduleFree` does it from the callback hooks that sit at the
same places.

The callback imports nothing from ``schedulefree``: it recognises an optimizer by its
``train()``/``eval()`` methods (so other schedule-free implementations work too), and
constructing it works whether the package is installed or not. Only :meth:`ScheduleFree.wrap`
needs it, and says ``pip install schedulefree`` when it is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn

from lightning_schedulers._validation import check_int, check_sequence

__all__ = ["ScheduleFree"]

_INSTALL = "pip install schedulefree"


def is_schedule_free(optimizer: Any) -> bool:
    """Whether ``optimizer`` switches its parameters between two points with ``train()`` and ``eval()``."""
    return callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))


def in_train_mode(optimizer: Any) -> bool:
    """Whether any parameter of ``optimizer`` holds the train point ``y``.

    ``ScheduleFreeWrapper`` keeps its mode on itself; the package's own optimizers keep it in each
    param group (``train_mode``), where a group added later starts in eval mode.
    """
    flag = getattr(optimizer, "train_mode", None)
    if isinstance(flag, bool):
        return flag
    return any(bool(group.get("train_mode", False)) for group in optimizer.param_groups)


def _check_indices(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return (check_int("optimizers", value, minimum=0),)
    if isinstance(value, bool) or not isinstance(value, Sequence) or isinstance(value, str):
        raise TypeError(f"`optimizers` must be None, an optimizer index or a sequence of them, got {value!r}")
    items = check_sequence("optimizers", value)
    indices = tuple(check_int(f"optimizers[{i}]", item, minimum=0) for i, item in enumerate(items))
    if len(set(indices)) != len(indices):
        raise ValueError(f"`optimizers` must not repeat an index, got {value!r}")
    return indices


class ScheduleFree(Callback):
    """Puts schedule-free optimizers in train mode for training steps and in eval mode everywhere else.

    * before each training batch: ``optimizer.train()`` (the parameters hold ``y``);
    * at the start of validation (the sanity check included), test and predict, and at the end
      of the fit: ``optimizer.eval()`` (they hold ``x``), so metrics are computed on ``x`` and
      the module ends the fit holding ``x``;
    * when a checkpoint is saved during training, it is stored in eval mode, as the package asks:
      its weights are ``x`` and its optimizer state says eval mode. The optimizer goes to eval
      mode and back, so the fit that saved continues from exactly what a fit resumed from the
      checkpoint continues from (``train()`` on ``x``): a resumed fit is bit for bit the fit that
      was not interrupted, and it needs nothing else (the callback's first training batch switches
      it to train mode).

    Learning-rate callbacks next to it write ``lr`` in the param groups as usual; the schedule-free
    optimizers read it at every step (see the documentation page "Beyond the optimizer" for what
    a warmup callback does with ``warmup_steps=0``).

    BatchNorm statistics are computed at ``y`` during training; the package's README suggests
    recomputing them at ``x`` before evaluating (not done here).

    Args:
        optimizers: which of the trainer's optimizers to switch: ``None`` (default) for every one
            that has ``train()`` and ``eval()``, or an index or sequence of indices into
            ``trainer.optimizers``.

    Examples:
        >>> import torch
        >>> from lightning_schedulers.callbacks.schedulefree import ScheduleFree
        >>> callback = ScheduleFree()  # Trainer(callbacks=[callback]); no schedulefree import needed here
        >>> wrapped = ScheduleFree.wrap(torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1), momentum=0.9)
        >>> type(wrapped).__name__, wrapped.defaults["lr"]
        ('ScheduleFreeWrapper', 0.1)
    """

    def __init__(self, optimizers: int | Sequence[int] | None = None) -> None:
        self.optimizers = _check_indices(optimizers)
        self._source: list[Any] | None = None  # the trainer's optimizer list the managed ones come from
        self._managed: list[Any] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(optimizers={self.optimizers!r})"

    @staticmethod
    def wrap(base: torch.optim.Optimizer, **kwargs: Any) -> Any:
        """``schedulefree.ScheduleFreeWrapper(base, **kwargs)``, in a form ``configure_optimizers`` may return.

        The wrapper is no ``torch.optim.Optimizer`` and lacks the ``defaults`` that Lightning's
        optimizer check asks for; the one returned is the package's wrapper with ``defaults``
        (the base optimizer's) set. Return it from ``configure_optimizers``. The base optimizer
        updates ``z``: switch off its own momentum (``momentum=0``), as the package suggests.

        Raises:
            ModuleNotFoundError: ``schedulefree`` is not installed.
        """
        try:
            package = importlib.import_module("schedulefree")
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                f"ScheduleFree.wrap needs the schedulefree package, which is not installed: {_INSTALL}"
            ) from None
        wrapper = package.ScheduleFreeWrapper(base, **kwargs)
        wrapper.defaults = base.defaults
        return wrapper

    # ----------------------------------------------------------------- which optimizers
    def _select(self, trainer: pl.Trainer) -> list[Any]:
        """The managed optimizers, picked again when the trainer's optimizer list is a new one (recreated)."""
        current = trainer.optimizers
        if current is self._source:
            return self._managed
        if self.optimizers is None:
            managed = [opt for opt in current if is_schedule_free(opt)]
        else:
            managed = []
            for index in self.optimizers:
                if index >= len(current):
                    raise ValueError(
                        f"ScheduleFree: `optimizers` names optimizer {index}, but the trainer has {len(current)}: "
                        f"{[type(opt).__name__ for opt in current]}"
                    )
                if not is_schedule_free(current[index]):
                    raise ValueError(
                        f"ScheduleFree: optimizer {index} ({type(current[index]).__name__}) has no train()/eval(); "
                        "it is not a schedule-free optimizer"
                    )
                managed.append(current[index])
        self._source, self._managed = current, managed
        return managed

    # ----------------------------------------------------------------- Lightning hooks
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._select(trainer):
            found = [type(opt).__name__ for opt in trainer.optimizers]
            raise ValueError(
                f"ScheduleFree: none of the trainer's optimizers {found} has train() and eval(). Return a schedule-"
                f"free optimizer from configure_optimizers (schedulefree.AdamWScheduleFree, SGDScheduleFree, "
                f"RAdamScheduleFree, or ScheduleFree.wrap(base); {_INSTALL}), or remove this callback (the "
                "package's *Closure optimizers need no train()/eval() and no callback)"
            )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # train() is a no-op in train mode (a loop over the param groups): cheap enough for every batch.
        for optimizer in self._select(trainer):
            optimizer.train()

    def _to_eval(self, trainer: pl.Trainer) -> None:
        for optimizer in self._select(trainer):
            optimizer.eval()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._to_eval(trainer)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._to_eval(trainer)

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._to_eval(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._to_eval(trainer)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        managed = self._select(trainer)
        training = [opt for opt in managed if in_train_mode(opt)]
        if training:
            self._store_eval_weights(training, checkpoint)
        # The optimizer state was taken as it was: it says eval mode now, as the weights do.
        states = checkpoint.get("optimizer_states")
        if states is not None:
            for optimizer, state in zip(trainer.optimizers, states, strict=False):
                if any(optimizer is opt for opt in managed) and isinstance(state, dict):
                    for group in state.get("param_groups", ()):
                        if "train_mode" in group:
                            group["train_mode"] = False

    def _store_eval_weights(self, training: list[Any], checkpoint: dict[str, Any]) -> None:
        """Put ``x`` into the checkpoint's weights, then return to train mode.

        The checkpoint's model state was taken before this hook as tensors that share the
        parameters' memory (a single device, DDP). Those of the switched optimizers' parameters
        are replaced by copies of ``x``; tied weights share the memory, so they are found too,
        under ``state_dict`` or where another callback moved the training weights
        (``WeightAveraging``'s ``current_model_state``).
        """
        for optimizer in training:
            optimizer.eval()
        try:
            params = {p.data_ptr(): p for opt in training for g in opt.param_groups for p in g["params"] if p.numel()}
            placed: set[int] = set()
            for key in ("state_dict", "current_model_state"):
                weights = checkpoint.get(key)
                if not isinstance(weights, dict):
                    continue
                for name, tensor in weights.items():
                    param = params.get(tensor.data_ptr()) if isinstance(tensor, torch.Tensor) else None
                    if param is not None and tensor.shape == param.shape and tensor.dtype == param.dtype:
                        weights[name] = param.detach().clone()
                        placed.add(param.data_ptr())
            if len(placed) < len(params):
                rank_zero_warn(
                    f"ScheduleFree: {len(params) - len(placed)} parameter(s) of the schedule-free optimizers were not "
                    "found in the checkpoint's state_dict (a strategy that copies the weights when saving); those are "
                    "stored at the training point y, not the evaluation point x"
                )
        finally:
            for optimizer in training:
                optimizer.train()
