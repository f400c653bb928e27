"""Targets bound to real torch optimizers and modules (no Lightning involved)."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from lightning_schedulers import Attribute, ParamGroup


def _params(n: int = 1) -> list[nn.Parameter]:
    return [nn.Parameter(torch.zeros(2)) for _ in range(n)]


def test_param_group_writes_every_group_and_reads_back() -> None:
    opt = torch.optim.SGD([{"params": [p]} for p in _params(3)], lr=0.1, weight_decay=0.01)
    bound = ParamGroup("weight_decay").bind([opt])
    assert bound.read() == [0.01, 0.01, 0.01]
    bound.write([1.0, 2.0, 3.0])
    assert [g["weight_decay"] for g in opt.param_groups] == [1.0, 2.0, 3.0]
    assert bound.labels == ["lr-SGD/pg1-weight_decay", "lr-SGD/pg2-weight_decay", "lr-SGD/pg3-weight_decay"]


def test_param_group_index_selects_one_group_and_labels_it_like_lr_monitor() -> None:
    opt = torch.optim.SGD([{"params": [p]} for p in _params(3)], lr=0.1)
    bound = ParamGroup("lr", param_group_index=1).bind([opt])
    bound.write([0.5])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.1]
    assert bound.labels == ["lr-SGD/pg2"]


def test_named_groups_and_duplicate_optimizer_classes_are_labelled_like_lr_monitor() -> None:
    a = torch.optim.Adam([{"params": _params(), "name": "encoder"}, {"params": _params(), "name": "head"}])
    b = torch.optim.Adam(_params(), lr=1e-3)
    assert ParamGroup("lr", optimizer=0).bind([a, b]).labels == ["lr-Adam/encoder", "lr-Adam/head"]
    assert ParamGroup("lr", optimizer=1).bind([a, b]).labels == ["lr-Adam-1"]
    assert ParamGroup("lr", optimizer=1, name="my_lr").bind([a, b]).labels == ["my_lr"]


def test_momentum_means_betas0_on_adam_and_momentum_on_sgd() -> None:
    adam = torch.optim.AdamW(_params(), betas=(0.9, 0.999))
    bound = ParamGroup("momentum").bind([adam])
    assert bound.read() == [0.9]
    bound.write([0.85])
    assert adam.param_groups[0]["betas"] == (0.85, 0.999)
    assert bound.labels == ["lr-AdamW-momentum"]
    sgd = torch.optim.SGD(_params(), lr=0.1, momentum=0.9)
    ParamGroup("momentum").bind([sgd]).write([0.5])
    assert sgd.param_groups[0]["momentum"] == 0.5


def test_tensor_lr_and_tensor_betas_are_filled_in_place() -> None:
    lr = torch.tensor(0.01)
    beta1 = torch.tensor(0.9)
    opt = torch.optim.Adam(_params(), lr=lr, betas=(beta1, torch.tensor(0.999)))
    stored_lr = opt.param_groups[0]["lr"]
    stored_beta = opt.param_groups[0]["betas"][0]
    ParamGroup("lr").bind([opt]).write([0.5])
    ParamGroup("momentum").bind([opt]).write([0.7])
    assert opt.param_groups[0]["lr"] is stored_lr
    assert float(stored_lr) == 0.5
    assert opt.param_groups[0]["betas"][0] is stored_beta
    assert float(stored_beta) == pytest.approx(0.7)


def test_custom_key_that_exists_is_written() -> None:
    opt = torch.optim.SGD(_params(), lr=0.1)
    opt.param_groups[0]["my_coef"] = 3.0
    ParamGroup("my_coef").bind([opt]).write([4.0])
    assert opt.param_groups[0]["my_coef"] == 4.0


def test_missing_key_is_an_error_listing_the_keys() -> None:
    opt = torch.optim.Adam(_params())
    with pytest.raises(KeyError, match=r"no key 'weight_dekay'.*'lr'.*'weight_decay'"):
        ParamGroup("weight_dekay").bind([opt])
    with pytest.raises(KeyError, match=r"no key 'momentum'"):
        ParamGroup("momentum").bind([torch.optim.Adagrad(_params())])


def test_out_of_range_indices_name_what_exists() -> None:
    opt = torch.optim.SGD(_params(), lr=0.1)
    with pytest.raises(
        ValueError, match=r"`optimizer`=2 is out of range: the trainer has 1 optimizer\(s\) \['0: SGD'\]"
    ):
        ParamGroup("lr", optimizer=2).bind([opt])
    with pytest.raises(ValueError, match=r"`param_group_index`=1 is out of range: SGD has 1 param group"):
        ParamGroup("lr", param_group_index=1).bind([opt])


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: ParamGroup(""), TypeError, r"`key` must be a non-empty str, got ''"),
        (lambda: ParamGroup(3), TypeError, r"`key` must be a non-empty str, got 3"),  # type: ignore[arg-type]
        (lambda: ParamGroup("lr", optimizer=-1), ValueError, r"`optimizer` must be >= 0, got -1"),
        (lambda: ParamGroup("lr", param_group_index=1.0), TypeError, r"`param_group_index` must be an int, got 1.0"),
        (lambda: ParamGroup("lr", relative="yes"), TypeError, r"`relative` must be a bool, got 'yes'"),
        (lambda: Attribute("a..b"), ValueError, r"`path` has an empty segment: 'a..b'"),
        (lambda: Attribute(""), TypeError, r"`path` must be a non-empty dotted str, got ''"),
        (lambda: Attribute("a", create_new=1), TypeError, r"`create_new` must be a bool, got 1"),
        (lambda: Attribute("a", create_new=True, relative=True), ValueError, r"`relative=True`.*`create_new=True`"),
        (lambda: Attribute("a", name=""), TypeError, r"`name` must be a non-empty str or None, got ''"),
    ],
)
def test_bad_target_arguments(make, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        make()


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.kl_weight = 0.0
        self.loss_fn = nn.Module()
        self.loss_fn.temperature = 1.0  # type: ignore[assignment]
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)) for _ in range(4)])
        self.register_buffer("tau", torch.tensor(2.0))
        self.weights = [0.1, 0.2]
        self.name_str = "x"


def test_attribute_paths_plain_nested_indexed_and_list() -> None:
    net = Net()
    Attribute("kl_weight").bind(net).write([0.25])
    Attribute("loss_fn.temperature").bind(net).write([0.5])
    Attribute("blocks.3.1.p").bind(net).write([0.3])
    Attribute("weights.1").bind(net).write([0.9])
    assert net.kl_weight == 0.25
    assert net.loss_fn.temperature == 0.5
    assert net.blocks[3][1].p == 0.3
    assert net.weights == [0.1, 0.9]


def test_buffer_is_updated_in_place() -> None:
    net = Net()
    tau = net.tau
    bound = Attribute("tau").bind(net)
    assert bound.read() == [2.0]
    bound.write([0.75])
    assert net.tau is tau
    assert float(tau) == 0.75
    assert dict(net.named_buffers())["tau"] is tau


def test_missing_attribute_names_path_and_first_failing_segment() -> None:
    net = Net()
    with pytest.raises(
        AttributeError, match=r"'loss_fn.temprature.x' does not resolve: 'loss_fn' .* no attribute 'temprature'"
    ):
        Attribute("loss_fn.temprature.x").bind(net)
    with pytest.raises(AttributeError, match=r"'blocks.7.1.p' does not resolve: 'blocks' .* no attribute '7'"):
        Attribute("blocks.7.1.p").bind(net)
    with pytest.raises(AttributeError, match=r"'kl_wieght' does not resolve: segment 'kl_wieght' not found on Net"):
        Attribute("kl_wieght").bind(net)


def test_create_new_semantics() -> None:
    net = Net()
    bound = Attribute("beta", create_new=True).bind(net)
    bound.write([0.4])
    assert net.beta == 0.4  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"`create_new=True` but attribute 'kl_weight' already exists"):
        Attribute("kl_weight", create_new=True).bind(net)


def test_non_numeric_attribute_is_rejected() -> None:
    net = Net()
    with pytest.raises(TypeError, match=r"attribute 'name_str' holds 'x' \(str\)"):
        Attribute("name_str").bind(net)
    net.register_buffer("steps", torch.tensor(3))
    with pytest.raises(TypeError, match=r"'steps' is a torch.int64 tensor"):
        Attribute("steps").bind(net)


def test_targets_pickle_and_compare() -> None:
    for target in (ParamGroup("lr", param_group_index=2), Attribute("a.b", relative=True)):
        assert pickle.loads(pickle.dumps(target)) == target
