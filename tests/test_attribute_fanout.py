"""Many attributes at once: ``Attribute("blocks.*.drop_path.drop_prob")`` and its per-match scale; gradient clipping.

Real fits with a probe that reads every block's ``drop_prob`` at every batch start, against the
closed form written here: the schedule's value times each match's factor (stochastic depth's
``k / (n - 1)``, checked against timm's ``torch.linspace`` rule). Blocks replaced or added during
the fit hold the scheduled value from the next batch on. The clip value Lightning passes to
``configure_gradient_clipping`` follows a schedule on ``trainer.gradient_clip_val``.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from _helpers import Probe, RecordingLogger, assert_parity, make_trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lightning_schedulers as ls
from lightning_schedulers.schedules import Constant, Cosine, Linear

PATTERN = "blocks.*.drop_path.drop_prob"


class DropPath(nn.Module):
    """Stands for timm's DropPath: a module with a ``drop_prob`` float (its forward is the identity here)."""

    def __init__(self, drop_prob: float) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Block(nn.Module):
    def __init__(self, drop_prob: float = 0.5, identity: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        # timm's blocks hold an nn.Identity where the drop rate is 0.
        self.drop_path: nn.Module = nn.Identity() if identity else DropPath(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.fc(x))


class Deep(pl.LightningModule):
    def __init__(self, depth: int = 4, identity_first: bool = False, drop_probs: list[float] | None = None) -> None:
        super().__init__()
        probs = drop_probs or [0.5] * depth
        self.blocks = nn.ModuleList(Block(p, identity=identity_first and i == 0) for i, p in enumerate(probs[:depth]))
        self.head = nn.Linear(4, 1)
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(16, 4, generator=g), 100 * torch.randn(16, 1, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)  # type: ignore[no-any-return]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.x, self.y), batch_size=4)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=1e-4)


def drop_probs(trainer: pl.Trainer, module: Any) -> list[float]:
    return [float(getattr(b.drop_path, "drop_prob", math.nan)) for b in module.blocks]


def ramp(t: np.ndarray) -> np.ndarray:
    """Linear(0.0, 0.3, 10), written out."""
    return 0.3 * np.minimum(t, 10) / 10


def probe_rows(callbacks: list[pl.Callback], module: Deep, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    probe = Probe(drop_probs)
    make_trainer([*callbacks, probe], max_epochs=3, **kwargs).fit(module)
    steps = np.array([step for step, _, _ in probe.rows], dtype=np.float64)
    return steps, np.array([values for _, _, values in probe.rows])


def test_every_match_gets_the_value_times_its_depth_factor() -> None:
    cb = ls.ScheduleCallback(Linear(0.0, 0.3, 10), target=ls.Attribute(PATTERN, scale="depth"))
    steps, values = probe_rows([cb], Deep(depth=4))
    assert len(steps) == 12
    assert_parity(values, ramp(steps)[:, None] * np.array([0.0, 1 / 3, 2 / 3, 1.0]))


def test_a_block_replaced_mid_fit_holds_the_scheduled_value_from_the_next_batch_on() -> None:
    replaced: dict[str, Any] = {}

    class Swap(pl.Callback):
        def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
            if trainer.global_step == 5:
                replaced["old"] = pl_module.blocks[1]
                pl_module.blocks[1] = Block(drop_prob=0.77)  # the new block's own value until bound

    cb = ls.ScheduleCallback(Linear(0.0, 0.3, 10), target=ls.Attribute(PATTERN, scale="depth"))
    steps, values = probe_rows([cb, Swap()], Deep(depth=4))
    expected = ramp(steps)[:, None] * np.array([0.0, 1 / 3, 2 / 3, 1.0])
    assert_parity(values, expected)  # the batch after the swap included: never 0.77
    assert 0.77 not in values
    # The replaced block is no longer written: it keeps the value of step 5, written before the swap.
    assert math.isclose(replaced["old"].drop_path.drop_prob, 0.3 * 5 / 10 / 3, rel_tol=1e-12)


def test_blocks_added_mid_fit_are_matched_and_the_depth_rule_spreads_over_them() -> None:
    class Grow(pl.Callback):
        def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
            if trainer.global_step == 4:
                pl_module.blocks.append(Block(0.9))  # not in the forward's path yet: the values are the point

    cb = ls.ScheduleCallback(Constant(0.2), target=ls.Attribute(PATTERN, scale="depth"))
    probe = Probe(drop_probs)
    make_trainer([cb, Grow(), probe], max_epochs=2).fit(Deep(depth=3))
    for step, _, values in probe.rows:
        if step < 4:  # the blocks grow at the end of the batch that makes global_step 4
            assert values == pytest.approx([0.0, 0.1, 0.2], rel=1e-12)
        else:
            assert values == pytest.approx([0.0, 0.2 / 3, 0.4 / 3, 0.2], rel=1e-12)


def test_stochastic_depth_rule_equals_timms_linspace() -> None:
    """timm's ViT: ``dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth)]``, an Identity at rate 0."""
    depth, rate = 12, 0.1
    timm_dpr = [x.item() for x in torch.linspace(0, rate, depth)]  # float32, as timm computes it
    exact = torch.linspace(0, rate, depth, dtype=torch.float64).tolist()
    module = Deep(depth=depth, identity_first=True, drop_probs=timm_dpr)
    cb = ls.ScheduleCallback(Constant(rate), target=ls.Attribute(PATTERN, scale="depth"))
    _, values = probe_rows([cb], module)
    assert np.isnan(values[:, 0]).all()  # the Identity at depth 0 is skipped, the others keep their depth
    assert_parity(values[:, 1:], np.tile(exact[1:], (len(values), 1)))  # float64 linspace: 1e-12
    # timm's own float32 numbers: equal to float32's precision (2**-24 relative).
    assert np.allclose(values[:, 1:], np.tile(timm_dpr[1:], (len(values), 1)), rtol=2**-23, atol=0)


def test_depth_over_several_stars_runs_over_every_block_as_timms_hierarchical_models() -> None:
    """Swin/ConvNeXt: ``torch.linspace(0, drop_path_rate, sum(depths)).split(depths)``, stage after stage."""
    depths, rate = [2, 3, 1], 0.2
    net = nn.Module()
    net.stages = nn.ModuleList(nn.ModuleList(Block() for _ in range(d)) for d in depths)
    bound = ls.Attribute("stages.*.*.drop_path.drop_prob", scale="depth").bind(net)
    bound.write([rate * f for f in bound.factors])  # type: ignore[union-attr]
    exact = [x.tolist() for x in torch.linspace(0, rate, sum(depths), dtype=torch.float64).split(depths)]
    written = [[b.drop_path.drop_prob for b in stage] for stage in net.stages]  # type: ignore[union-attr]
    assert_parity([v for s in written for v in s], [v for s in exact for v in s])
    assert bound.named("dp")[:3] == ["dp/0.0", "dp/0.1", "dp/1.0"]


def test_sequence_and_function_scales_and_relative_matches() -> None:
    factors = [0.0, 0.5, 1.0, 2.0]
    cb = ls.ScheduleCallback(Linear(0.0, 0.3, 10), target=ls.Attribute(PATTERN, scale=factors))
    steps, values = probe_rows([cb], Deep(depth=4))
    assert_parity(values, ramp(steps)[:, None] * np.array(factors))

    cb = ls.ScheduleCallback(Linear(0.0, 0.3, 10), target=ls.Attribute(PATTERN, scale=lambda k, n: (n - k) / n))
    steps, values = probe_rows([cb], Deep(depth=4))
    assert_parity(values, ramp(steps)[:, None] * np.array([1.0, 0.75, 0.5, 0.25]))

    # relative: each match's own start value times the schedule (and its factor)
    start = [0.1, 0.2, 0.4]
    cb = ls.ScheduleCallback(Cosine(1.0, 0.0, 12), target=ls.Attribute(PATTERN, relative=True))
    steps, values = probe_rows([cb], Deep(depth=3, drop_probs=start))
    assert_parity(values, np.cos(np.pi * steps / 12 / 2)[:, None] ** 2 * np.array(start))


def test_each_match_is_logged_under_its_path_or_the_name_and_what_the_star_matched() -> None:
    logger = RecordingLogger()
    cb = ls.ScheduleCallback(Linear(0.0, 0.3, 10), target=ls.Attribute(PATTERN, scale="depth"))
    named = ls.ScheduleCallback(
        Constant(1.0), target=ls.Attribute("blocks.*.fc.weight.requires_grad", name="x")
    )  # not a number: refused below
    make_trainer([cb], max_epochs=1, logger=logger, log_every_n_steps=2).fit(Deep(depth=3))
    step, row = logger.rows[-1]
    assert set(row) == {f"blocks.{i}.drop_path.drop_prob" for i in range(3)}
    assert row["blocks.2.drop_path.drop_prob"] == pytest.approx(0.3 * step / 10, rel=1e-12)
    logger = RecordingLogger()
    cb = ls.ScheduleCallback(Linear(0.0, 0.3, 10), target=ls.Attribute(PATTERN, name="drop_path", scale="depth"))
    make_trainer([cb], max_epochs=1, logger=logger, log_every_n_steps=2).fit(Deep(depth=3))
    assert set(logger.rows[-1][1]) == {"drop_path/0", "drop_path/1", "drop_path/2"}
    with pytest.raises(TypeError, match=r"attribute 'blocks.0.fc.weight.requires_grad' holds True \(bool\)"):
        make_trainer([named], max_epochs=1).fit(Deep(depth=3))


def test_a_pattern_that_matches_nothing_is_an_error_naming_it() -> None:
    cb = ls.ScheduleCallback(Constant(0.1), target=ls.Attribute("blocks.*.dropout.p"))
    with pytest.raises(
        AttributeError,
        match=r"attribute pattern 'blocks.\*.dropout.p' matches nothing on Deep: no object reached by 'blocks.\*' "
        r"\(Block\) has an attribute 'dropout'",
    ):
        make_trainer([cb], max_epochs=1).fit(Deep(depth=2))
    with pytest.raises(AttributeError, match=r"'head.\*.p' matches nothing on Deep: 'head' \(Linear\) has no child"):
        ls.Attribute("head.*.p").bind(Deep())


def test_a_pattern_and_one_of_its_matches_are_the_same_target_for_conflicts() -> None:
    both = [
        ls.ScheduleCallback(Constant(0.1), target=ls.Attribute(PATTERN)),
        ls.ScheduleCallback(Constant(0.2), target=ls.Attribute("blocks.1.drop_path.drop_prob")),
    ]
    with pytest.raises(ValueError, match=r"both drive attribute 'blocks.1.drop_path.drop_prob'"):
        make_trainer(both, max_epochs=1).fit(Deep(depth=2))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ls.Attribute("block*.p"), ValueError, r"`path`='block\*.p': a wildcard is a whole segment"),
        (lambda: ls.Attribute("blocks.*"), ValueError, r"`path`='blocks.\*' ends with '\*'"),
        (lambda: ls.Attribute(PATTERN, create_new=True), ValueError, r"`create_new=True` creates one attribute"),
        (lambda: ls.Attribute("a.b", scale="depth"), ValueError, r"`scale`='depth' scales the matches of a pattern"),
        (lambda: ls.Attribute(PATTERN, scale="width"), ValueError, r"`scale` must be one of \('depth',\), got 'width'"),
        (lambda: ls.Attribute(PATTERN, scale=[]), TypeError, r"`scale` must be 'depth', a non-empty sequence"),
        (lambda: ls.Attribute(PATTERN, scale=[1.0, math.nan]), ValueError, r"`scale\[1\]` must be finite, got nan"),
        (lambda: ls.Attribute(PATTERN, scale=3), TypeError, r"`scale` must be 'depth'.*got 3 \(int\)"),
    ],
)
def test_bad_pattern_arguments(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_scales_that_do_not_fit_the_matches_are_errors_at_binding() -> None:
    with pytest.raises(ValueError, match=r"`scale` has 2 factors, but the pattern's last '\*' reaches 4 objects"):
        ls.Attribute(PATTERN, scale=[1.0, 2.0]).bind(Deep(depth=4))
    with pytest.raises(ValueError, match=r"returned nan for match 0 of 4; it must return a finite number"):
        ls.Attribute(PATTERN, scale=lambda k, n: math.nan).bind(Deep(depth=4))


def test_patterns_pickle_compare_and_keep_the_old_repr() -> None:
    target = ls.Attribute(PATTERN, scale=[0.0, 1.0])
    assert pickle.loads(pickle.dumps(target)) == target
    assert target.scale == (0.0, 1.0)
    assert repr(ls.Attribute("a.b")) == "Attribute(path='a.b', create_new=False, relative=False, name=None)"
    assert repr(target).endswith("name=None, scale=(0.0, 1.0))")


def test_plain_lists_and_dicts_are_one_level_for_a_star() -> None:
    class Holder:
        def __init__(self, v: float) -> None:
            self.v = v

    net = nn.Module()
    net.items = [Holder(1.0), Holder(2.0)]  # type: ignore[assignment]
    net.table = {"x": Holder(3.0)}  # type: ignore[assignment]
    bound = ls.Attribute("items.*.v").bind(net)
    bound.write([5.0, 6.0])
    assert [h.v for h in net.items] == [5.0, 6.0]  # type: ignore[attr-defined]
    assert ls.Attribute("table.*.v").bind(net).labels == ["table.x.v"]


# ------------------------------------------------------------------ gradient clipping on a schedule
class Clipped(Deep):
    """Records the clip value Lightning passes and the gradient norm after its clipping, per step."""

    def __init__(self) -> None:
        super().__init__(depth=2)
        self.clips: list[tuple[float, float, float]] = []

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None, **kwargs: Any) -> None:
        before = float(torch.nn.utils.get_total_norm([p.grad for p in self.parameters()]))
        super().configure_gradient_clipping(optimizer, gradient_clip_val, **kwargs)
        after = float(torch.nn.utils.get_total_norm([p.grad for p in self.parameters()]))
        self.clips.append((float(gradient_clip_val), before, after))


def test_gradient_clip_value_follows_a_schedule_in_a_fit() -> None:
    module = Clipped()
    cb = ls.ScheduleCallback(Linear(1.0, 0.1, 10), target=ls.Attribute("trainer.gradient_clip_val"))
    make_trainer([cb], max_epochs=3, gradient_clip_val=5.0).fit(module)
    assert len(module.clips) == 12
    for t, (clip, before, after) in enumerate(module.clips):
        assert math.isclose(clip, 1.0 - 0.9 * min(t, 10) / 10, rel_tol=1e-12)
        assert before > clip  # large targets: every step is clipped
        # torch clips to max_norm / (norm + 1e-6): the norm after is the clip value to ~1e-6 relative.
        assert math.isclose(after, clip, rel_tol=1e-5)
