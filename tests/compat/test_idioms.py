"""The idioms of API.md § "Running PyTorch scripts", one by one, with torch's semantics."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

# ------------------------------------------------------------------ devices


def test_device_objects(torch):
    d = cr.device("cpu")
    assert d.type == "cpu" and str(d) == "cpu" and repr(d) == repr(torch.device("cpu"))
    assert d == cr.device("cpu:0").type and d == "cpu" and cr.device(d) == d
    assert cr.device("cpu", 0).index == 0 and cr.device("cpu:0").index == 0
    assert {d: 1}[cr.device("cpu")] == 1
    dev = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    assert dev.type == "cpu"


def test_accelerator_queries_are_false():
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    assert cr.backends.mps.is_available() is False and cr.backends.mps.is_built() is False
    assert cr.accelerator.is_available() is False
    assert cr.accelerator.current_accelerator() is None
    cr.cuda.manual_seed(0)
    cr.cuda.manual_seed_all(0)
    cr.cuda.synchronize()
    cr.backends.cudnn.benchmark = True
    cr.backends.cudnn.deterministic = True


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps", "xpu"])
def test_gpu_requests_raise_naming_the_device(name):
    msg = f"'{name}'.*CPU"
    with pytest.raises(RuntimeError, match=msg):
        cr.device(name)
    x = cr.zeros(2)
    with pytest.raises(RuntimeError, match=msg):
        x.to(name)
    with pytest.raises(RuntimeError, match=msg):
        cr.zeros(2, device=name)
    with pytest.raises(RuntimeError, match=msg):
        cr.tensor([1.0], device=name)
    with pytest.raises(RuntimeError, match=msg):
        nn.Linear(2, 2).to(name)
    with pytest.raises(RuntimeError, match=msg):
        nn.Linear(2, 2, device=name)


def test_cuda_methods_raise():
    with pytest.raises(RuntimeError, match="cuda.*CPU"):
        cr.zeros(2).cuda()
    with pytest.raises(RuntimeError, match="cuda.*CPU"):
        nn.Linear(2, 2).cuda()


def test_to_in_all_forms():
    x = cr.randn(2, 3, requires_grad=True)
    assert x.to("cpu") is x and x.to(cr.device("cpu")) is x and x.to(device="cpu") is x
    assert x.cpu() is x and x.device == cr.device("cpu") and x.is_cuda is False
    y = x.to(cr.float64)
    assert y.dtype == cr.float64 and y.requires_grad and y.grad_fn is not None
    assert x.to("cpu", cr.float64).dtype == cr.float64
    assert x.to(dtype=cr.float16).dtype == cr.float16
    assert x.to(cr.zeros(1, dtype=cr.int64)).dtype == cr.int64
    assert x.to(cr.device("cpu"), non_blocking=True) is x
    assert x.to(cr.float32, copy=True) is not x
    y.sum().backward()
    assert x.grad.dtype == cr.float32  # the gradient comes back through the cast
    m = nn.Linear(2, 2)
    assert m.to("cpu") is m and m.to(cr.device("cpu")) is m and m.cpu() is m
    assert m.to(cr.float64).weight.dtype == cr.float64
    assert m.to("cpu", cr.float32).weight.dtype == cr.float32
    assert next(m.parameters()).device.type == "cpu"


# ------------------------------------------------------------------ .data


def test_data_shares_storage_and_is_not_tracked():
    p = nn.Parameter(cr.ones(3))
    d = p.data
    assert isinstance(d, cr.Tensor) and not d.requires_grad and d.grad_fn is None
    d.add_(1.0)  # in place on .data of a leaf that requires grad: no error
    assert p.tolist() == [2.0, 2.0, 2.0]
    (p * 3).sum().backward()
    p.data.add_(p.grad, alpha=-0.5)
    assert p.tolist() == [0.5, 0.5, 0.5] and p.requires_grad and p.grad_fn is None
    p.grad.data.zero_()
    assert p.grad.tolist() == [0, 0, 0]
    p.data.mul_(2).clamp_(max=0.75)
    p.data.copy_(cr.tensor([1.0, 2.0, 3.0]))
    p.data.uniform_(-1, 1)
    p.data.normal_(0, 0.01)
    p.data.fill_(4.0)
    assert p.tolist() == [4.0, 4.0, 4.0]


def test_data_of_a_non_leaf_and_assignment():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    y.data.mul_(10)  # changes y's values; the graph is untouched
    assert y.tolist() == [20.0, 20.0]
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    p = nn.Parameter(cr.zeros(2))
    p.data = cr.tensor([5.0, 6.0])
    assert p.tolist() == [5.0, 6.0] and p.requires_grad


def test_detach_shares_storage():
    x = cr.ones(3, requires_grad=True)
    d = x.detach()
    d[0] = 7.0
    assert x[0].item() == 7.0 and not d.requires_grad
    assert d.numpy().base is not None or np.shares_memory(d.numpy(), x.detach().numpy())


# ------------------------------------------------------------------ tensor idioms


def test_shape_idioms(torch):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    x, t = cr.tensor(a), torch.tensor(a)
    assert x.contiguous().tolist() == t.contiguous().tolist()
    assert x[0].t().contiguous().view(-1).tolist() == t[0].t().contiguous().view(-1).tolist()
    assert x.narrow(2, 1, 2).tolist() == t.narrow(2, 1, 2).tolist()
    assert x.narrow(0, 1, 1).shape == (1, 3, 4)
    assert x.view_as(cr.zeros(4, 6)).shape == (4, 6)
    assert x[0].mm(x[1].t()).tolist() == t[0].mm(t[1].t()).tolist()
    assert x.bmm(x.transpose(1, 2)).tolist() == t.bmm(t.transpose(1, 2)).tolist()
    assert cr.tensor([1.0, 2.0]).t().tolist() == [1.0, 2.0]
    assert cr.tensor(3.0).t().item() == 3.0
    with pytest.raises(RuntimeError, match="<= 2"):
        x.t()
    with pytest.raises(RuntimeError):
        x.narrow(2, 3, 2)


def test_type_and_constructors(torch):
    x = cr.tensor([[1.5, -2.0], [3.0, 4.0]])
    assert x.type(cr.int64).dtype == cr.int64 and x.type(cr.int64).tolist() == [[1, -2], [3, 4]]
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type("torch.DoubleTensor").dtype == cr.float64
    assert x.new_zeros(3).dtype == cr.float32 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(2, 2).tolist() == [[1, 1], [1, 1]]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_full((2,), 7).dtype == cr.float32
    assert x.new_tensor([1, 2]).dtype == cr.float32  # new_tensor takes self's dtype
    assert x.new_empty(4).shape == (4,)
    assert x.double().new_zeros(1).dtype == cr.float64
    assert cr.LongTensor([1, 2]).dtype == cr.int64 and cr.LongTensor(3).shape == (3,)
    assert cr.FloatTensor([[1, 2]]).dtype == cr.float32 and cr.FloatTensor(2, 3).shape == (2, 3)
    assert cr.Tensor([[1.0]]).dtype == cr.float32 and cr.Tensor(2, 3).shape == (2, 3)
    assert cr.Tensor([[3]]).long().dtype == cr.int64
    assert isinstance(x, cr.Tensor) and isinstance(nn.Parameter(x), cr.Tensor)
    assert cr.is_tensor(x) and not cr.is_tensor(np.zeros(1))
    assert cr.tensor([cr.tensor(1.0), cr.tensor(2.0)]).tolist() == [1.0, 2.0]
    assert x.dtype == cr.float and cr.long == cr.int64 and cr.double == cr.float64


def test_clone_split_unbind_len_iter():
    x = cr.arange(12.0).reshape(4, 3).requires_grad_()
    c = x.clone()
    assert c.requires_grad and c.grad_fn is not None
    parts = x.split(2)
    assert [p.shape for p in parts] == [(2, 3), (2, 3)]
    assert [p.shape for p in x.split([1, 2], dim=1)] == [(4, 1), (4, 2)]
    rows = x.unbind(0)
    assert len(rows) == 4 and rows[1].tolist() == [3.0, 4.0, 5.0]
    assert len(x) == 4 and [r.shape for r in x] == [(3,)] * 4
    total = sum(r.sum() for r in x)
    total.backward()
    assert x.grad.tolist() == [[1.0] * 3] * 4
    with pytest.raises(TypeError):
        len(cr.tensor(1.0))
    with pytest.raises(TypeError):
        iter(cr.tensor(1.0))


def test_format_of_0d_tensors(torch):
    for spec in ["+.2f", ".4f", "8.3f", ".2e", "", ".1%"]:
        assert format(cr.tensor(3.14159), spec) == format(torch.tensor(3.14159), spec)
    assert f"{cr.tensor(5):d}" == "5"
    assert f"{cr.tensor(2.5).item():.1f}" == "2.5"
    assert f"{cr.tensor([1.0, 2.0])}" == str(cr.tensor([1.0, 2.0]))
    with pytest.raises((TypeError, ValueError)):
        format(cr.tensor([1.0, 2.0]), ".2f")


def test_accuracy_idiom():
    out = cr.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = cr.tensor([1, 0, 0])
    assert out.argmax(dim=1).eq(y).sum().item() == 2
    assert (out.argmax(1) == y).float().mean().item() == pytest.approx(2 / 3)
    assert isinstance(out.argmax(dim=1).eq(y).sum().item(), int)
    assert isinstance(out.sum().item(), float)


# ------------------------------------------------------------------ save / load


@pytest.mark.parametrize("target", ["path", "str", "file", "bytesio"])
def test_save_load_targets(tmp_path, target):
    obj = {"w": cr.randn(2, 3), "epoch": 3, "nested": {"lr": 0.1, "ids": [cr.arange(3), 2]}}
    path = tmp_path / "x.pt"
    if target == "bytesio":
        buf = io.BytesIO()
        cr.save(obj, buf)
        buf.seek(0)
        back = cr.load(buf)
    elif target == "file":
        with open(path, "wb") as f:
            cr.save(obj, f)
        with open(path, "rb") as f:
            back = cr.load(f, weights_only=True, map_location="cpu")
    else:
        cr.save(obj, path if target == "path" else str(path))
        back = cr.load(path if target == "path" else str(path), map_location=cr.device("cpu"))
    assert back["epoch"] == 3 and back["nested"]["lr"] == 0.1
    assert cr.equal(back["w"], obj["w"]) and back["w"].dtype == cr.float32
    assert cr.equal(back["nested"]["ids"][0], cr.arange(3)) and back["nested"]["ids"][1] == 2


def test_save_load_tensor_and_lists(tmp_path):
    t = cr.randn(4, dtype=cr.float64)
    cr.save(t, tmp_path / "t.pt")
    back = cr.load(tmp_path / "t.pt")
    assert isinstance(back, cr.Tensor) and cr.equal(back, t) and back.dtype == cr.float64
    seq = [cr.ones(2), [cr.zeros(1), 3.5], {"k": True}]
    cr.save(seq, tmp_path / "s.pt")
    back = cr.load(tmp_path / "s.pt", map_location=lambda storage, loc: storage)
    assert cr.equal(back[0], cr.ones(2)) and back[1][1] == 3.5 and back[2]["k"] is True


def test_state_dict_round_trip_through_file_object():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LSTM(4, 2))
    buf = io.BytesIO()
    cr.save(model.state_dict(), buf)
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.LSTM(4, 2))
    buf.seek(0)
    other.load_state_dict(cr.load(buf))
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2 and cr.equal(a, b)


def test_save_module_says_state_dict(tmp_path):
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        cr.save(nn.Linear(2, 2), tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"state_dict\(\)"):
        cr.save({"model": nn.Linear(2, 2)}, io.BytesIO())
    assert not (tmp_path / "m.pt").exists()


def test_load_pickle_is_refused(tmp_path):
    path = tmp_path / "old.pt"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a safetensors file") as e:
        cr.load(path)
    assert "unpickle" in str(e.value)
    with pytest.raises(ValueError, match="not a safetensors file"):
        cr.load(io.BytesIO(pickle.dumps([1, 2])))


def test_load_torch_save_zip_is_refused(torch, tmp_path):
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="unpickle"):
        cr.load(path)


# ------------------------------------------------------------------ module paths


def test_module_paths_mirror_torch():
    import chainrule.nn.modules as M

    assert M.rnn.LSTM is nn.LSTM and M.rnn.GRU is nn.GRU and M.rnn.RNN is nn.RNN
    assert M.rnn.LSTMCell is nn.LSTMCell
    assert M.sparse.Embedding is nn.Embedding
    assert M.linear.Linear is nn.Linear and M.linear.Identity is nn.Identity
    assert M.conv.Conv2d is nn.Conv2d and M.conv.Conv1d is nn.Conv1d
    assert M.transformer.Transformer is nn.Transformer
    assert M.transformer.TransformerEncoderLayer is nn.TransformerEncoderLayer
    assert M.activation.MultiheadAttention is nn.MultiheadAttention
    assert M.activation.ReLU is nn.ReLU
    assert M.container.Sequential is nn.Sequential
    assert M.module.Module is nn.Module
    assert M.dropout.Dropout is nn.Dropout
    assert M.normalization.LayerNorm is nn.LayerNorm
    assert M.batchnorm.BatchNorm1d is nn.BatchNorm1d
    assert M.pooling.MaxPool2d is nn.MaxPool2d
    assert M.loss.CrossEntropyLoss is nn.CrossEntropyLoss
    assert M.flatten.Flatten is nn.Flatten
    assert cr.nn.parameter.Parameter is nn.Parameter
    from chainrule.nn.modules.rnn import LSTM  # noqa: F401
    from chainrule.nn.modules.sparse import Embedding  # noqa: F401


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_flatten_parameters_is_a_no_op(cls):
    m = cls(3, 4)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    assert m.flatten_parameters() is None
    assert all(cr.equal(before[k], v) for k, v in m.state_dict().items())


def test_autograd_variable_alias():
    from chainrule.autograd import Variable

    x = Variable(cr.ones(2), requires_grad=True)
    assert isinstance(x, cr.Tensor) and x.requires_grad
    assert isinstance(cr.zeros(1), Variable)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    v = Variable(cr.ones(1))
    assert not v.requires_grad


def test_cuda_housekeeping_calls():
    cr.cuda.empty_cache()
    cr.cuda.ipc_collect()
    cr.cuda.reset_peak_memory_stats()
    assert cr.cuda.memory_allocated() == 0 and cr.cuda.max_memory_allocated() == 0
    assert cr.cuda.is_initialized() is False
    for f in (
        cr.cuda.current_device,
        lambda: cr.cuda.get_device_name(0),
        lambda: cr.cuda.set_device(0),
    ):
        with pytest.raises(RuntimeError, match="cuda.*CPU"):
            f()
    cr.backends.cuda.matmul.allow_tf32 = True
    cr.backends.cudnn.allow_tf32 = True
    assert cr.backends.cudnn.enabled is True
    assert cr.get_default_device() == cr.device("cpu")
    cr.set_default_device("cpu")
    cr.set_default_device(None)
    with pytest.raises(RuntimeError, match="'cuda'"):
        cr.set_default_device("cuda")


def test_where_one_argument_any_dtype(torch):
    for data in ([0, 2, 0, 3], [[0.0, 1.5], [2.0, 0.0]], [True, False]):
        ours = [t.tolist() for t in cr.where(cr.tensor(data))]
        ref = [t.tolist() for t in torch.where(torch.tensor(data))]
        assert ours == ref
    with pytest.raises(TypeError):
        cr.where(cr.tensor([1, 0]), cr.ones(2), cr.zeros(2))
