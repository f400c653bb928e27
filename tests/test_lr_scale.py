"""timm's ``lr_scale`` (layer-wise lr decay): ``lr = value * lr_scale``, and the groups that carry it.

* Real fits on a small ViT-like model whose groups come from timm's ``param_groups_layer_decay``:
  timm's own ``CosineLRScheduler`` (stepped per update as timm's ``train.py`` does), this
  package's ``CosineLRScheduler`` (groups from :func:`ls.param_groups_layer_decay`) and
  ``CosineAnnealingLR`` / a relative ``ScheduleCallback`` against their closed forms times
  ``lr_scale``: every group, every batch, to 1e-12 relative.
* ``ls.param_groups_layer_decay`` against timm's (loaded without torchvision): the same groups,
  the same parameters in them, the same ``lr_scale`` and ``weight_decay``.
"""

from __future__ import annotations

import math
import types
from typing import Any, ClassVar

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import Probe, RecordingLogger, assert_parity, make_trainer
from _references import _load, _package_dir, timm_scheduler
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.families.timm import CosineLRScheduler
from lightning_schedulers.layer_decay import param_groups_layer_decay
from lightning_schedulers.schedules import Cosine, Linear

_TIMM: dict[str, Any] = {}


def timm_param_groups_layer_decay() -> Any:
    """``timm.optim._param_groups.param_groups_layer_decay``, loaded with stubs instead of ``timm.layers``.

    Its module imports ``timm.models.group_parameters`` (``timm/models/_manipulate.py``), which
    imports only ``use_reentrant_ckpt`` from ``timm.layers``; importing ``timm`` itself would
    import torchvision.
    """
    if "fn" not in _TIMM:
        root = _package_dir("timm")
        timm = types.ModuleType("timm")
        timm.__path__ = []
        layers = types.ModuleType("timm.layers")
        layers.use_reentrant_ckpt = lambda: False  # type: ignore[attr-defined]
        manipulate = _load(
            "_ref_timm_manipulate", root / "models" / "_manipulate.py", {"timm": timm, "timm.layers": layers}
        )
        models = types.ModuleType("timm.models")
        models.__path__ = []
        models.group_parameters = manipulate.group_parameters  # type: ignore[attr-defined]
        groups = _load(
            "_ref_timm_param_groups", root / "optim" / "_param_groups.py", {"timm": timm, "timm.models": models}
        )
        _TIMM["fn"] = groups.param_groups_layer_decay
    return _TIMM["fn"]


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc(self.norm(x))


class TinyViT(pl.LightningModule):
    """A ViT's parameter layout: tokens, a patch embedding, blocks, a final norm, a head."""

    matcher: ClassVar[dict[str, Any]] = {
        "stem": r"^cls_token|^pos_embed|^patch_embed",
        "blocks": [(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],  # timm's ViT: the norm joins the last block
    }

    def __init__(self, depth: int = 3, groups: str = "timm", layer_decay: float = 0.65) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 4))
        self.pos_embed = nn.Parameter(torch.zeros(1, 4))
        self.patch_embed = nn.Linear(4, 4)
        self.blocks = nn.ModuleList(Block() for _ in range(depth))
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 1)
        self.groups, self.layer_decay = groups, layer_decay
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(self.matcher)

    def no_weight_decay(self) -> set[str]:
        return {"cls_token", "pos_embed"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x) + self.pos_embed + self.cls_token
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))  # type: ignore[no-any-return]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=4)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.groups == "timm":
            groups = timm_param_groups_layer_decay()(
                self, weight_decay=0.05, no_weight_decay_list=self.no_weight_decay(), layer_decay=self.layer_decay
            )
        else:
            groups = param_groups_layer_decay(self, weight_decay=0.05, layer_decay=self.layer_decay)
        return torch.optim.AdamW(groups, lr=0.01)


def lrs(trainer: pl.Trainer, module: pl.LightningModule) -> list[float]:
    return [float(g["lr"]) for g in trainer.optimizers[0].param_groups]


def scales(module: TinyViT) -> list[float]:
    return [g["lr_scale"] for g in module.configure_optimizers().param_groups]


class TimmDriver(pl.Callback):
    """timm's scheduler stepped as timm's train.py steps it: ``step_update(num_updates)`` after each update."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.scheduler: Any = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        cls = timm_scheduler("cosine_lr").CosineLRScheduler
        self.scheduler = cls(trainer.optimizers[0], t_in_epochs=False, **self.kwargs)

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step >= 1:
            self.scheduler.step_update(trainer.global_step)


COSINE = {"t_initial": 9, "lr_min": 1e-4, "warmup_t": 2, "warmup_lr_init": 1e-3}


def rows(callback: pl.Callback, module: TinyViT, max_epochs: int = 3) -> np.ndarray:
    probe = Probe(lrs)
    make_trainer([callback, probe], max_epochs=max_epochs).fit(module)
    return np.array([values for _, _, values in probe.rows])


def test_timm_cosine_with_layer_decay_equals_timms_own_scheduler_every_batch() -> None:
    reference = rows(TimmDriver(**COSINE), TinyViT(groups="timm"))
    ours = rows(CosineLRScheduler(**COSINE, t_in_epochs=False), TinyViT(groups="ours"))
    assert reference.shape == (12, 10)  # 12 updates; 5 depths (stem, 3 blocks, head) x (decay, no decay)
    assert len(set(scales(TinyViT()))) == 5  # the depths really differ
    assert_parity(ours, reference)


def test_torch_cosine_and_a_relative_schedule_write_value_times_lr_scale() -> None:
    module = TinyViT(groups="ours")
    factor = np.array(scales(module))
    t = np.arange(12.0)[:, None]
    ours = rows(ls.CosineAnnealingLR(T_max=20, eta_min=1e-4, interval="step"), module)
    # torch's closed form from each group's initial lr (the optimizer's 0.01), then lr_scale.
    assert_parity(ours, factor * (1e-4 + (0.01 - 1e-4) * (1 + np.cos(np.pi * t / 20)) / 2))
    relative = rows(
        ls.ScheduleCallback(Cosine(1.0, 0.1, 12), target=ls.ParamGroup("lr", relative=True)), TinyViT(groups="ours")
    )
    cosine = 0.1 + 0.9 * np.cos(np.pi * t / 12 / 2) ** 2
    assert_parity(relative, factor * 0.01 * cosine)
    absolute = rows(ls.ScheduleCallback(Linear(0.0, 0.02, 8), target="lr"), TinyViT(groups="ours"))
    assert_parity(absolute, factor * np.minimum(0.02 * t / 8, 0.02))


def test_one_group_by_name_and_keys_other_than_lr_are_not_scaled() -> None:
    module = TinyViT(groups="ours")
    named = module.configure_optimizers().param_groups
    depth1 = next(i for i, g in enumerate(named) if g["name"] == "layer_1_decay")
    probe = Probe(
        lambda trainer, m: [float(g[k]) for g in trainer.optimizers[0].param_groups for k in ("lr", "weight_decay")]
    )
    callbacks = [
        ls.StepLR(4, 0.5, interval="step", param_group_index="layer_1_decay"),
        ls.ScheduleCallback(Linear(0.05, 0.0, 12), target="weight_decay"),
        probe,
    ]
    make_trainer(callbacks, max_epochs=3).fit(module)
    scale = named[depth1]["lr_scale"]
    for step, _, values in probe.rows:
        assert math.isclose(values[2 * depth1], scale * 0.01 * 0.5 ** (step // 4), rel_tol=1e-12)
        assert all(math.isclose(v, 0.05 * (1 - step / 12), rel_tol=1e-12, abs_tol=1e-15) for v in values[1::2])
        others = [values[2 * j] for j in range(len(named)) if j != depth1]
        assert others == [0.01] * len(others)  # not scheduled: the optimizer's lr, never scaled by us


def test_the_logged_lr_is_the_scaled_lr_the_groups_hold() -> None:
    logger = RecordingLogger()
    probe = Probe(lrs)
    make_trainer(
        [ls.CosineAnnealingLR(T_max=12, interval="step"), probe], max_epochs=1, logger=logger, log_every_n_steps=1
    ).fit(TinyViT(groups="ours"))
    labels = ls.CosineAnnealingLR(T_max=12).labels([TinyViT(groups="ours").configure_optimizers()])
    assert labels[:2] == ["lr-AdamW/layer_0_no_decay", "lr-AdamW/layer_0_decay"]  # the groups' names
    logged = {step: row for step, row in logger.rows if labels[0] in row}
    for step, _, values in probe.rows:
        assert [logged[step][label] for label in labels] == values


def test_a_change_of_lr_scale_during_the_fit_is_reported_once() -> None:
    class Changes(pl.Callback):
        def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
            if trainer.global_step == 3:
                trainer.optimizers[0].param_groups[2]["lr_scale"] = 0.5

    with pytest.warns(
        UserWarning, match=r"the lr_scale of \['lr-AdamW/layer_1_no_decay'\] changed during the fit"
    ) as caught:
        make_trainer(
            [ls.CosineAnnealingLR(T_max=12, interval="step"), Changes()],
            max_epochs=3,
            logger=RecordingLogger(),
            log_every_n_steps=2,
        ).fit(TinyViT(groups="ours"))
    assert sum("lr_scale" in str(w.message) for w in caught) == 1


def test_an_lr_scale_that_cannot_scale_is_an_error_naming_the_group() -> None:
    class Bad(TinyViT):
        def configure_optimizers(self) -> torch.optim.Optimizer:
            optimizer = super().configure_optimizers()
            optimizer.param_groups[1]["lr_scale"] = -0.5
            return optimizer

    with pytest.raises(ValueError, match=r"param group 1 of AdamW holds lr_scale=-0.5, which cannot scale its lr"):
        make_trainer([ls.CosineAnnealingLR(T_max=12, interval="step")], max_epochs=1).fit(Bad(groups="ours"))


# ------------------------------------------------------------------ the groups themselves
def same_groups(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert [id(p) for p in a["params"]] == [id(p) for p in b["params"]]
        assert math.isclose(a["lr_scale"], b["lr_scale"], rel_tol=1e-12)
        assert a["weight_decay"] == b["weight_decay"]
        assert set(a) - set(b) == {"name"}  # ours also names each group


@pytest.mark.parametrize("layer_decay", [0.65, 0.9])
@pytest.mark.parametrize("depth", [1, 4])
def test_groups_equal_timms_with_the_models_group_matcher(layer_decay: float, depth: int) -> None:
    model = TinyViT(depth=depth)
    theirs = timm_param_groups_layer_decay()(
        model, weight_decay=0.05, no_weight_decay_list=model.no_weight_decay(), layer_decay=layer_decay
    )
    same_groups(param_groups_layer_decay(model, weight_decay=0.05, layer_decay=layer_decay), theirs)
    # The norm joins the last block: depth + 2 depths (stem, blocks, head), the head at lr_scale 1.
    assert {g["lr_scale"] for g in theirs} == {layer_decay ** (depth + 1 - d) for d in range(depth + 2)}


def test_blocks_rule_equals_timm_with_beits_matcher_and_options() -> None:
    class Beit(TinyViT):
        matcher: ClassVar[dict[str, Any]] = {"stem": r"^cls_token|^pos_embed|^patch_embed", "blocks": r"^blocks\.(\d+)"}

    model = Beit(depth=5)
    model.patch_embed.weight.requires_grad_(False)  # frozen parameters are left out
    options = {"weight_decay": 0.1, "layer_decay": 0.5, "min_scale": 0.1}
    theirs = timm_param_groups_layer_decay()(model, no_weight_decay_list=["head.*", "cls_token"], **options)
    ours = param_groups_layer_decay(model, blocks="blocks", no_weight_decay_list=["head.*", "cls_token"], **options)
    same_groups(ours, theirs)
    assert min(g["lr_scale"] for g in ours) == 0.1  # min_scale clamps the deepest decay
    with_lr = param_groups_layer_decay(model, blocks="blocks", lr=0.003, **options)
    assert {g["lr"] for g in with_lr} == {0.003}


def test_bad_arguments_name_the_argument() -> None:
    plain = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"`model` must be a torch nn.Module, got 3"):
        param_groups_layer_decay(3)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"`blocks`=None takes the depths from the model's group_matcher\(\), and Sequential has none"
    ):
        param_groups_layer_decay(plain)
    with pytest.raises(ValueError, match=r"`blocks`='layers' does not resolve on Sequential: no 'layers'"):
        param_groups_layer_decay(plain, blocks="layers")
    with pytest.raises(ValueError, match=r"`blocks`='0' must name a module holding the blocks as children"):
        param_groups_layer_decay(plain, blocks="0")
    with pytest.raises(ValueError, match=r"`layer_decay` must be > 0, got 0.0"):
        param_groups_layer_decay(TinyViT(), layer_decay=0.0)
    with pytest.raises(ValueError, match=r"`weight_decay` must be >= 0, got -1"):
        param_groups_layer_decay(TinyViT(), weight_decay=-1)
    with pytest.raises(TypeError, match=r"`no_weight_decay_list` must be a collection .* got 'head'"):
        param_groups_layer_decay(TinyViT(), no_weight_decay_list="head")
    with pytest.raises(ValueError, match=r"`layer_decay`=1e\+300 overflows float64 over 4 depths"):
        param_groups_layer_decay(TinyViT(), layer_decay=1e300)
