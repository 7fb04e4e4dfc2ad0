"""Matrix functions with their gradients: inv, slogdet, solve, cholesky, eigh, svd (batched over
leading dims, float32/float64). Used by ``chainrule.linalg`` and torch's top-level aliases."""

from __future__ import annotations

import numpy as np

from ._registry import op

__all__ = ["inv", "slogdet", "solve", "cholesky", "eigh", "svd"]


def _T(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


@op("linalg_inv", formula="Ā = −Yᵀ Ȳ Yᵀ  (Y = A⁻¹)", float_only=True)
def inv(a):
    y = np.linalg.inv(a)

    def vjp(g, needs):
        yt = _T(y)
        return (-(yt @ g @ yt),)

    return y, vjp


@op("linalg_slogdet", formula="Ā = l̄ · A⁻ᵀ  (l = log|det A|)", float_only=True, multi=True)
def slogdet(a):
    sign, logabs = np.linalg.slogdet(a)
    sign = sign.astype(a.dtype)
    logabs = logabs.astype(a.dtype)

    def vjp(gs, needs):
        g = gs[1]
        if g is None:
            return (np.zeros_like(a),)
        return (np.asarray(g)[..., None, None] * _T(np.linalg.inv(a)),)

    return (sign, logabs), vjp


@op("linalg_solve", formula="B̄ = A⁻ᵀ X̄,  Ā = −B̄ Xᵀ", float_only=True, promote=True)
def solve(a, b):
    x = np.linalg.solve(a, b)

    def vjp(g, needs):
        gb = np.linalg.solve(_T(a), g)
        ga = -(gb @ _T(x)) if needs[0] else None
        return ga, gb

    return x, vjp


def _phi(x: np.ndarray) -> np.ndarray:
    """Lower triangle with the diagonal halved."""
    out = np.tril(x)
    d = np.einsum("...ii->...i", out)
    d *= 0.5
    return out


@op("linalg_cholesky", formula="Ā = ½ (S + Sᵀ),  S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹", float_only=True)
def cholesky(a, upper=False):
    try:
        low = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise RuntimeError(
            "linalg.cholesky: The factorization could not be completed because the input is not "
            "positive-definite."
        ) from None

    def vjp(g, needs):
        gl = _T(g) if upper else g
        p = _phi(_T(low) @ gl)
        linv = np.linalg.inv(low)
        s = _T(linv) @ p @ linv
        return (0.5 * (s + _T(s)),)

    return (_T(low) if upper else low), vjp


@op("linalg_eigh", formula="Ā = V (diag(w̄) + F ∘ sym(Vᵀ V̄)) Vᵀ,  Fᵢⱼ = 1/(wⱼ − wᵢ)",
    float_only=True, multi=True)  # fmt: skip
def eigh(a, uplo="L"):
    w, v = np.linalg.eigh(a, UPLO=uplo)

    def vjp(gs, needs):
        gw, gv = gs
        inner = np.zeros(a.shape, dtype=a.dtype)
        if gv is not None:
            diff = w[..., None, :] - w[..., :, None]
            n = w.shape[-1]
            eye = np.eye(n, dtype=bool)
            with np.errstate(divide="ignore"):
                f = np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))
            vtg = _T(v) @ gv
            inner = inner + f * vtg
        if gw is not None:
            inner = inner + np.einsum("...i,ij->...ij", gw, np.eye(w.shape[-1], dtype=a.dtype))
        ga = v @ inner @ _T(v)
        return (0.5 * (ga + _T(ga)),)

    return (w, v), vjp


@op("linalg_svd", formula="the reduced-SVD adjoint (Townsend 2016)", float_only=True, multi=True)
def svd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)

    def vjp(gs, needs):
        gu, gsv, gvh = gs
        v = _T(vh)
        k = s.shape[-1]
        eye = np.eye(k, dtype=bool)
        s2 = s * s
        with np.errstate(divide="ignore"):
            f = np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, s2[..., None, :] - s2[..., :, None]))
        smat = s[..., None, :] * np.eye(k, dtype=a.dtype)  # diag(s)
        inner = np.zeros(s.shape[:-1] + (k, k), dtype=a.dtype)
        ga = np.zeros(a.shape, dtype=a.dtype)
        if gsv is not None:
            inner = inner + gsv[..., None, :] * np.eye(k, dtype=a.dtype)
        if gu is not None:
            utgu = _T(u) @ gu
            inner = inner + (f * (utgu - _T(utgu))) @ smat
            m = a.shape[-2]
            proj = np.eye(m, dtype=a.dtype) - u @ _T(u)
            ga = ga + proj @ gu / s[..., None, :] @ vh
        if gvh is not None:
            gv = _T(gvh)
            vtgv = _T(v) @ gv
            inner = inner + smat @ (f * (vtgv - _T(vtgv)))
            n = a.shape[-1]
            proj = np.eye(n, dtype=a.dtype) - v @ vh
            ga = ga + (u / s[..., None, :]) @ _T(gv) @ proj
        return (ga + u @ inner @ vh,)

    return (u, s, vh), vjp
