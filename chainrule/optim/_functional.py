"""The update rules, once each, as pure functions over lists of ndarrays.

Every function updates ``params`` and the state arrays in place and reads like the algorithm.
The optimizer classes call them with one flat array per parameter group and dtype (all
parameters of a model in one buffer), so a whole-model step is a handful of NumPy calls; or
with one array per parameter when parameters are at different steps. ``scratch`` holds
preallocated work arrays of the same shapes (``[tmp, tmp2]`` per parameter) so a step
allocates nothing. The order of floating-point operations follows PyTorch's single-tensor
implementation, so float64 trajectories agree to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam"]

Arrays = Sequence[np.ndarray]


def _scratch(scratch: Sequence[Sequence[np.ndarray]] | None, i: int, p: np.ndarray) -> tuple:
    if scratch is not None:
        return scratch[i][0], scratch[i][1]
    return np.empty_like(p), np.empty_like(p)


def _decayed(g: np.ndarray, p: np.ndarray, weight_decay: float, out: np.ndarray) -> np.ndarray:
    """``g + weight_decay * p`` into ``out`` (never into ``g``: ``.grad`` stays the user's)."""
    np.multiply(p, weight_decay, out=out)
    out += g
    return out


def _lerp(m: np.ndarray, g: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """``m.lerp_(g, w)`` in place, with torch's two formulas (exact at w = 0 and w = 1)."""
    np.subtract(g, m, out=tmp)
    if abs(w) < 0.5:
        tmp *= w  # m + w·(g − m)
        m += tmp
    else:
        tmp *= 1 - w  # g − (1 − w)·(g − m)
        np.subtract(g, tmp, out=m)


def _second_moment(v: np.ndarray, g: np.ndarray, beta2: float, tmp: np.ndarray) -> None:
    """``v = β2·v + (1 − β2)·g²`` in place."""
    v *= beta2
    np.multiply(g, 1 - beta2, out=tmp)
    tmp *= g
    v += tmp


def sgd(
    params: Arrays,
    grads: Arrays,
    momentum_bufs: Arrays,
    *,
    first: bool,
    lr: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    weight_decay: float,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """Stochastic gradient descent with momentum; ``first`` marks the momentum buffers as new."""
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        if weight_decay != 0:
            g = _decayed(g, p, weight_decay, tmp2)  # g += λ·p
        if momentum != 0:
            buf = momentum_bufs[i]
            if first:
                np.copyto(buf, g)  # b = g on the first step (no dampening)
            else:
                buf *= momentum  # b = μ·b + (1 − τ)·g
                if dampening != 0:
                    np.multiply(g, 1 - dampening, out=tmp)
                    buf += tmp
                else:
                    buf += g
            if nesterov:
                np.multiply(buf, momentum, out=tmp)  # g = g + μ·b
                tmp += g
                g = tmp
            else:
                g = buf
        np.multiply(g, lr, out=tmp)  # p −= η·g
        p -= tmp


def adam(
    params: Arrays,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    max_exp_avg_sqs: Arrays | None,
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    decoupled_weight_decay: bool,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """Adam (and AdamW when ``decoupled_weight_decay``); ``steps`` are already incremented."""
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        step = steps[i]
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= 1 - lr * weight_decay  # AdamW: p −= η·λ·p, outside the adaptive scaling
            else:
                g = _decayed(g, p, weight_decay, tmp2)
        # m += (1 − β1)·(g − m)
        np.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        # v = β2·v + (1 − β2)·g²
        v *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        v += tmp
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if amsgrad:
            vmax = max_exp_avg_sqs[i]  # type: ignore[index]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        # p −= η/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
        np.sqrt(v, out=tmp)
        tmp /= bias_correction2_sqrt
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / bias_correction1
        p -= tmp


def rmsprop(
    params: Arrays,
    grads: Arrays,
    square_avgs: Arrays,
    grad_avgs: Arrays | None,
    momentum_bufs: Arrays | None,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """RMSprop, optionally centered and with momentum."""
    for i, (p, g, sq) in enumerate(zip(params, grads, square_avgs, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        if weight_decay != 0:
            g = _decayed(g, p, weight_decay, tmp2)
        # s = α·s + (1 − α)·g²
        sq *= alpha
        np.multiply(g, 1 - alpha, out=tmp)
        tmp *= g
        sq += tmp
        if centered:
            ga = grad_avgs[i]  # type: ignore[index]
            # ḡ += (1 − α)·(g − ḡ);  avg = √(s − ḡ²)
            np.subtract(g, ga, out=tmp)
            tmp *= 1 - alpha
            ga += tmp
            np.multiply(ga, -1.0, out=tmp)
            tmp *= ga
            tmp += sq
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(sq, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=tmp)  # g / (avg + ε)
        if momentum > 0:
            buf = momentum_bufs[i]  # type: ignore[index]
            buf *= momentum  # b = μ·b + g/(avg + ε);  p −= η·b
            buf += tmp
            np.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        p -= tmp


def adagrad(
    params: Arrays,
    grads: Arrays,
    state_sums: Arrays,
    steps: Sequence[float],
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """Adagrad with learning-rate decay; ``steps`` are already incremented."""
    for i, (p, g, acc) in enumerate(zip(params, grads, state_sums, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        if weight_decay != 0:
            g = _decayed(g, p, weight_decay, tmp2)
        clr = lr / (1 + (steps[i] - 1) * lr_decay)
        # Σ += g²;  p −= η_t · g / (√Σ + ε)
        np.multiply(g, g, out=tmp)
        acc += tmp
        np.sqrt(acc, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        p -= tmp


def adadelta(
    params: Arrays,
    grads: Arrays,
    square_avgs: Arrays,
    acc_deltas: Arrays,
    *,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """Adadelta: the step is √(Δ̄ + ε)/√(s + ε)·g, with running averages s of g² and Δ̄ of
    step²."""
    for i, (p, g, sq, acc) in enumerate(zip(params, grads, square_avgs, acc_deltas, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        gd = _decayed(g, p, weight_decay, tmp2) if weight_decay != 0 else g
        # s = ρ·s + (1 − ρ)·g²;  std = √(s + ε)
        _second_moment(sq, gd, rho, tmp)
        np.add(sq, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        # δ = √(Δ̄ + ε) / std · g. Two work arrays hold std and δ, so with weight decay the
        # decayed gradient is computed again (same bits: p has not changed) instead of kept.
        np.add(acc, eps, out=tmp2)
        np.sqrt(tmp2, out=tmp2)
        tmp2 /= tmp
        if weight_decay != 0:
            gd = _decayed(g, p, weight_decay, tmp)
        tmp2 *= gd
        # Δ̄ = ρ·Δ̄ + (1 − ρ)·δ²;  p −= η·δ
        _second_moment(acc, tmp2, rho, tmp)
        tmp2 *= lr
        p -= tmp2


def adamax(
    params: Arrays,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_infs: Arrays,
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """Adamax (Adam with the infinity norm); ``steps`` are already incremented."""
    for i, (p, g, m, u) in enumerate(zip(params, grads, exp_avgs, exp_infs, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        if weight_decay != 0:
            g = _decayed(g, p, weight_decay, tmp2)
        _lerp(m, g, 1 - beta1, tmp)  # m = β1·m + (1 − β1)·g
        # u = max(β2·u, |g| + ε)
        u *= beta2
        np.abs(g, out=tmp)
        tmp += eps
        np.maximum(u, tmp, out=u)
        # p −= η/(1 − β1ᵗ) · m / u
        clr = lr / (1 - beta1 ** steps[i])
        np.divide(m, u, out=tmp)
        tmp *= clr
        p -= tmp


def nadam(
    params: Arrays,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    mu_products: Arrays,
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    momentum_decay: float,
    decoupled_weight_decay: bool,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """NAdam (Adam with Nesterov momentum and a momentum schedule μₜ); ``steps`` are already
    incremented. ``mu_products[i]`` is a float32 array (one entry per parameter of the chunk,
    all equal) holding Πμ, multiplied in float32 as torch's 0-d float32 state tensor is."""
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        step = steps[i]
        bias_correction2 = 1 - beta2**step
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= 1 - lr * weight_decay
            else:
                g = _decayed(g, p, weight_decay, tmp2)
        # μₜ = β1·(1 − ½·0.96^(t·ψ)), μₜ₊₁ likewise;  Πμ ← Πμ·μₜ
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mp = mu_products[i]
        mp *= np.float32(mu)
        mu_product = float(mp[0])
        mu_product_next = mu_product * mu_next
        _lerp(m, g, 1 - beta1, tmp)
        _second_moment(v, g, beta2, tmp)
        # denom = √(v / (1 − β2ᵗ)) + ε
        np.divide(v, bias_correction2, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps
        # p += −η(1 − μₜ)/(1 − Πμ) · g/denom − η·μₜ₊₁/(1 − Πμ·μₜ₊₁) · m/denom
        np.divide(g, tmp, out=tmp2)
        tmp2 *= -lr * (1.0 - mu) / (1.0 - mu_product)
        p += tmp2
        np.divide(m, tmp, out=tmp2)
        tmp2 *= (-lr * mu_next) / (1.0 - mu_product_next)
        p += tmp2


def radam(
    params: Arrays,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    scratch: Sequence[Sequence[np.ndarray]] | None = None,
) -> None:
    """RAdam (Adam whose adaptive step is switched on once the variance is tractable,
    ρₜ > 5, and rectified); ``steps`` are already incremented."""
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs, strict=True)):
        tmp, tmp2 = _scratch(scratch, i, p)
        step = steps[i]
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= 1 - lr * weight_decay
            else:
                g = _decayed(g, p, weight_decay, tmp2)
        _lerp(m, g, 1 - beta1, tmp)
        _second_moment(v, g, beta2, tmp)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        # ρ∞ = 2/(1 − β2) − 1;  ρₜ = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        np.divide(m, bias_correction1, out=tmp2)  # m̂ (the gradient is no longer needed)
        tmp2 *= lr
        if rho_t > 5.0:
            # p −= η·m̂ · √(1 − β2ᵗ)/(√v + ε) · r,  r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ))
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            np.sqrt(v, out=tmp)
            tmp += eps
            np.divide(bias_correction2**0.5, tmp, out=tmp)
            tmp2 *= tmp
            tmp2 *= rect
        p -= tmp2  # else plain momentum: p −= η·m̂
