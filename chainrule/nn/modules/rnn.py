"""Recurrent layers: RNN, LSTM, GRU (multi-layer, bidirectional) and their cells.

Parameter names, shapes, gate orders, initialisation and outputs are torch's. Each layer and
direction runs as ONE fused node (``ops/nn/rnn``): the whole sequence forward and its backward
through time, so a 64-step LSTM is one node, not hundreds.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..._random import rng
from ..._tensor import Tensor
from ...ops.nn import rnn as _rnn
from ..parameter import Parameter
from .conv import _np_dtype
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _F() -> Any:
    from .. import functional

    return functional


def _run_packed(module: Any, packed: Any, hx: Any) -> Any:
    # PackedSequence input (nn.utils.rnn): each equal-length group runs as one plain batch
    from ..utils.rnn import run_packed

    return run_packed(module, packed, hx)


def _cat(tensors: list, dim: int) -> Tensor:
    from ... import cat

    return cat(tensors, dim=dim)


def _stack(tensors: list) -> Tensor:
    from ... import stack

    return stack(tensors, dim=0)


def _check_dtype(x: Tensor, w: Tensor, name: str, exc: type[Exception] = RuntimeError) -> None:
    if x.dtype != w.dtype:
        raise exc(
            f"{name}: input must have the type {w.dtype} of the layer's weights, got {x.dtype}"
        )


def _uniform_reset(module: Module) -> None:
    """Every parameter of a recurrent layer/cell from U(−1/√hidden_size, 1/√hidden_size)."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0.0
    for w in module.parameters():
        w._data[...] = rng(None).uniform(-stdv, stdv, w.shape)


class RNNBase(Module):
    """Shared parameters, checks and the layer/direction loop of RNN, LSTM and GRU."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not (0 <= dropout <= 1)
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(input_size, int) or input_size <= 0:
            raise ValueError(f"input_size must be greater than zero, got input_size={input_size}")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_dir = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        npdt = _np_dtype(dtype)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(num_dir):
                layer_in = input_size if layer == 0 else real_hidden * num_dir
                suffix = "_reverse" if direction == 1 else ""
                shapes = [
                    (f"weight_ih_l{layer}{suffix}", (gate_size, layer_in)),
                    (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden)),
                ]
                if bias:
                    shapes += [
                        (f"bias_ih_l{layer}{suffix}", (gate_size,)),
                        (f"bias_hh_l{layer}{suffix}", (gate_size,)),
                    ]
                if proj_size > 0:
                    shapes.append((f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name, Parameter(np.zeros(shape, npdt)))
                names = [n for n, _ in shapes]
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(−1/√hidden_size, 1/√hidden_size), as torch."""
        _uniform_reset(self)

    def flatten_parameters(self) -> None:
        """No-op (torch compacts cuDNN weights here; NumPy needs nothing)."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Parameters per layer and direction, in torch's order."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------------------ forward

    def _prepare(self, input: Tensor) -> tuple[Tensor, bool]:
        name = type(self).__name__
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.shape[-1]}"
            )
        _check_dtype(input, self.weight_ih_l0, name, ValueError)  # torch: ValueError for RNNs
        batched = input.dim() == 3
        if input.shape[1 if batched and self.batch_first else 0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        return input, batched

    def _initial(self, hx: Any, batched: bool, bsz: int, size: int, dtype: np.dtype, which: str):
        """Per layer-direction initial states: arrays of zeros, or slices of ``hx``."""
        num_dir = 2 if self.bidirectional else 1
        expected = (self.num_layers * num_dir, bsz, size)
        if hx is None:
            z = np.zeros((bsz, size), dtype)
            return [z] * (self.num_layers * num_dir)
        if not isinstance(hx, Tensor):
            raise TypeError(f"{type(self).__name__}: hx must be a Tensor, got {type(hx).__name__}")
        if batched and hx.dim() != 3:
            raise RuntimeError(
                f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor"
            )
        if not batched:
            if hx.dim() != 2:
                raise RuntimeError(
                    f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor"
                )
            hx = hx.unsqueeze(1)
        if tuple(hx.shape) != expected:
            shown = expected if batched else (expected[0], expected[2])
            got = list(hx.shape) if batched else [hx.shape[0], hx.shape[2]]
            raise RuntimeError(f"Expected {which} size {shown}, got {got}")
        if hx.dtype != self.weight_ih_l0.dtype:
            raise RuntimeError(
                f"{type(self).__name__}: hidden state must have the type "
                f"{self.weight_ih_l0.dtype} of the layer's weights, got {hx.dtype}"
            )
        return list(hx.unbind(0))

    def _run(self, x: Tensor, h0s: list, c0s: list | None) -> tuple[Tensor, list, list]:
        num_dir = 2 if self.bidirectional else 1
        hs: list = []
        cs: list = []
        F = _F()
        for layer in range(self.num_layers):
            outs = []
            for d in range(num_dir):
                idx = layer * num_dir + d
                names = self._all_weights[idx]
                w = [getattr(self, n) for n in names]
                w_ih, w_hh = w[0], w[1]
                b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
                rev = d == 1
                if self.mode == "LSTM":
                    w_hr = w[-1] if self.proj_size > 0 else None
                    y, h, c = _rnn.lstm_layer(
                        x, h0s[idx], c0s[idx], w_ih, w_hh, b_ih, b_hh, w_hr, reverse=rev
                    )
                    cs.append(c)
                elif self.mode == "GRU":
                    y, h = _rnn.gru_layer(x, h0s[idx], w_ih, w_hh, b_ih, b_hh, reverse=rev)
                else:
                    nl = "tanh" if self.mode == "RNN_TANH" else "relu"
                    y, h = _rnn.rnn_layer(
                        x, h0s[idx], w_ih, w_hh, b_ih, b_hh, nonlinearity=nl, reverse=rev
                    )
                outs.append(y)
                hs.append(h)
            x = outs[0] if num_dir == 1 else _cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, hs, cs

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run the sequence; returns (output, h_n) (RNN and GRU; LSTM adds the cell state)."""
        if isinstance(input, tuple):  # a PackedSequence
            return _run_packed(self, input, hx)
        x, batched = self._prepare(input)
        h0s = self._initial(hx, batched, x.shape[1], self.hidden_size, x._data.dtype, "hidden")
        out, hs, _ = self._run(x, h0s, None)
        return self._finish(out, hs, batched)

    @staticmethod
    def _stack_states(states: list, batched: bool) -> Tensor:
        n = _stack(states) if len(states) > 1 else states[0].unsqueeze(0)
        return n if batched else n.squeeze(1)

    def _finish(self, out: Tensor, states: list, batched: bool) -> tuple[Tensor, Tensor]:
        n = self._stack_states(states, batched)
        if not batched:
            return out.squeeze(1), n
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, n


def _reject_proj_size(kwargs: dict) -> None:
    # torch's RNN/GRU refuse the keyword itself, even proj_size=0
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh) (or relu).

    Args: input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False.
    Shape: input (L, N, H_in) (or (N, L, H_in) with batch_first, or unbatched (L, H_in)),
    h_0 (D·num_layers, N, H_out) → output (L, N, D·H_out), h_n (D·num_layers, N, H_out).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _reject_proj_size(kwargs)
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(mode, *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, gate order (r, z, n), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).

    Args: input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False.
    Shape: as ``RNN``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _reject_proj_size(kwargs)
        super().__init__("GRU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory, torch's gate order (i, f, g, o); optional projection (proj_size).

    Args: input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0.
    Shape: input as ``RNN``; (h_0, c_0) → output, (h_n, c_n).
    Example: ``out, (h, c) = LSTM(64, 256)(x)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run the sequence; returns (output, (h_n, c_n))."""
        if isinstance(input, tuple):  # a PackedSequence
            return _run_packed(self, input, hx)
        x, batched = self._prepare(input)
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        bsz = x.shape[1]
        dt = x._data.dtype
        if hx is None:
            h0s = self._initial(None, batched, bsz, real_hidden, dt, "hidden[0]")
            c0s = self._initial(None, batched, bsz, self.hidden_size, dt, "hidden[1]")
        else:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0s = self._initial(hx[0], batched, bsz, real_hidden, dt, "hidden[0]")
            c0s = self._initial(hx[1], batched, bsz, self.hidden_size, dt, "hidden[1]")
        out, hs, cs = self._run(x, h0s, c0s)
        out, h_n = self._finish(out, hs, batched)
        return out, (h_n, self._stack_states(cs, batched))


# ------------------------------------------------------------------------------------ cells


class RNNCellBase(Module):
    """Shared parameters and checks of the single-step cells."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(input_size, int) or input_size <= 0:
            raise ValueError(f"input_size must be greater than zero, got input_size={input_size}")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(
                f"hidden_size must be greater than zero, got hidden_size={hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        npdt = _np_dtype(dtype)
        stdv = 1.0 / math.sqrt(hidden_size)

        def draw(shape: tuple) -> Parameter:
            return Parameter(rng(None).uniform(-stdv, stdv, shape).astype(npdt))

        self.weight_ih = draw((num_chunks * hidden_size, input_size))
        self.weight_hh = draw((num_chunks * hidden_size, hidden_size))
        if bias:
            self.bias_ih = draw((num_chunks * hidden_size,))
            self.bias_hh = draw((num_chunks * hidden_size,))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        """Every weight and bias from U(−1/√hidden_size, 1/√hidden_size), as torch."""
        _uniform_reset(self)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def _check(self, input: Tensor, hx: Any, name: str) -> tuple[Tensor, Any, bool]:
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} expected "
                f"{self.input_size}"
            )
        _check_dtype(input, self.weight_ih, name)
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        return x, hx, batched

    def _state(self, h: Any, x: Tensor, batched: bool, which: str) -> Any:
        bsz = x.shape[0]
        if h is None:
            return np.zeros((bsz, self.hidden_size), x._data.dtype)
        if h.dim() != (2 if batched else 1):
            raise RuntimeError(
                f"{type(self).__name__}: Expected {which} to be {2 if batched else 1}D, got "
                f"{h.dim()}D instead"
            )
        h2 = h if batched else h.unsqueeze(0)
        if h2.shape[0] != bsz:
            raise RuntimeError(
                f"Input batch size {bsz} doesn't match {which} batch size {h2.shape[0]}"
            )
        if h2.shape[1] != self.hidden_size:
            raise RuntimeError(
                f"{which} has inconsistent hidden_size: got {h2.shape[1]}, expected "
                f"{self.hidden_size}"
            )
        return h2


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step; returns h'."""
        x, hx, batched = self._check(input, hx, "RNNCell")
        h = self._state(hx, x, batched, "hidden0")
        (y,) = _rnn.rnn_cell(
            x,
            h,
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            nonlinearity=self.nonlinearity,
        )
        return y if batched else y.squeeze(0)


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step; returns h'."""
        x, hx, batched = self._check(input, hx, "GRUCell")
        h = self._state(hx, x, batched, "hidden0")
        (y,) = _rnn.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return y if batched else y.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o); returns (h', c')."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        """One step; returns (h', c')."""
        x, hx, batched = self._check(input, hx, "LSTMCell")
        if hx is None:
            h = c = self._state(None, x, batched, "hx[0]")
        else:
            h = self._state(hx[0], x, batched, "hx[0]")
            c = self._state(hx[1], x, batched, "hx[1]")
        h1, c1 = _rnn.lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if not batched:
            return h1.squeeze(0), c1.squeeze(0)
        return h1, c1
