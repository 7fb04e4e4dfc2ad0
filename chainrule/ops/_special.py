"""Special functions NumPy lacks (erf, erfc, erfcx, erfinv, Φ and log Φ), vectorised.

Each function is a few dozen whole-array NumPy operations: rational approximations in the
style of fdlibm/Cephes, fitted for this module (near-minimax relative error, fitted in 40-digit
arithmetic with mpmath; the fitted error is quoted with each table):

* ``|x| ≤ 1``: ``erf(x) = x + x·R(x²)``, ``R = N/D``. Writing erf as ``x`` plus a correction
  (fdlibm's form) keeps the rounding of ``R`` from reaching the result at full weight; it is
  odd in x, so −0 and the sign need no work.
* ``|x| > 1``: ``erfc(a) = e^{−a²} · P(a)/Q(a)`` (``P/Q`` is erfcx), and ``erf = 1 − erfc``.
  Only the elements in this range are gathered (``flatnonzero`` + ``take``) and evaluated: in
  typical activations they are a minority; the rational's argument is clamped where
  ``e^{−a²}`` has already underflowed, so ±inf and huge values need no case of their own.

Selecting between branches with ``np.where`` or boolean masks costs ~3 ns per element here
(branchy copy loops), more than the arithmetic itself, and ``np.copysign`` is not vectorised,
so the small branch runs on every element, the large one on the gathered elements, and signs
are OR-ed in as bits. Arrays above 4·65536 elements go block by block (cache).

float64 is computed in float64 (max relative error vs ``math.erf`` 2.2e-16,
tests/ops/test_erf.py); float32 in float32 with lower-degree tables (≤ 1 ulp from the correctly
rounded result), float16 in float32. ``erfc``/``erfcx``/``log_ndtr`` work in float64 and take
``e^{∓a²}`` with the rounding error of ``a²`` corrected, so their tails keep relative accuracy
(erfc to 1.3e-15 up to x = 27).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erf", "erfc", "erfcx", "erfinv", "log_ndtr", "ndtr", "ndtr_and_square"]

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)

# Fitted for this module (near-minimax relative error, 40-digit mpmath; tables are lowest power
# first, denominators monic with the leading 1 left out).
# erf(x) = x + x·N(z)/D(z), z = x², |x| ≤ 1: the fit erf(a)/a ≈ P/D has relative error 2.3e-18
# (float64) / 2.8e-9 (float32); N = P − D, so the rounding of the quotient is scaled by |erf/x − 1|
# ≤ 0.16 in the result (fdlibm's form).
_ERF_N64 = (
    6324.757033040288,
    -15625.305117606045,
    -2362.259903867779,
    -431.32290125640606,
    -23.956325128411937,
    -1.0,
)
_ERF_D64 = (
    49266.225791406985,
    22628.45721986749,
    4594.2167292562735,
    521.347093687706,
    33.56122348616623,
)
_ERF_N32 = (3.400459475139609, -8.765817556178414, -0.3894933637316106, -0.035422463120780005)
_ERF_D32 = (26.487627504842997, 9.322944882243053)
# Φ(x) = ½ + x·N(w)/D(w), w = x², |x| ≤ √2: the same fits with x/√2 and the ½ folded in.
_NDTR_N64 = (
    628940.1748478649,
    39615.810729519144,
    6312.927226191214,
    127.3134338780296,
    6.791688761375594,
)
_NDTR_D64 = (
    1576519.2253250235,
    362055.31551787985,
    36753.73383405019,
    2085.388374750824,
    67.12244697233245,
)
_NDTR_N32 = (42.26813796047812, 0.3939485102446356, 0.2158466912323836, -0.006261865969758484)
_NDTR_D32 = (105.95051001937199, 18.645889764486107)
# erfcx(a) = e^{a²}·erfc(a) ≈ P(a)/Q(a), a ≥ 1: float64 on [1, 27] (relative error 1.7e-17;
# erfc(27) ≈ 5e-319 is the last value above float64's underflow), float32 on [1, 11] (7.5e-9).
_ERFCX_P64 = (
    1091.247805819678,
    2361.836939314519,
    2511.395750075176,
    1681.6789685787494,
    770.457142360831,
    247.400763248039,
    54.76774707878182,
    7.763677897359991,
    0.5641895835545185,
    -4.047472212740474e-14,
)
_ERFCX_Q64 = (
    1091.2477823715649,
    3593.178446923733,
    5474.6144476814325,
    5086.839547241368,
    3193.0717089571085,
    1413.6363513569313,
    445.3868172387116,
    97.57330417333762,
    13.760760787276332,
)
_ERFCX_P32 = (
    4.190969040890319,
    4.672801270517025,
    2.3520825303373245,
    0.5641362910148918,
    1.2290969428140498e-06,
)
_ERFCX_Q32 = (4.193513191529089, 9.388602044870563, 8.800829321520618, 4.167202468003165)

# erfinv(y) = y + y·N(z)/D(z), z = y², |y| ≤ 0.7 (fit of erfinv(y)/y: 4.6e-18 / 8e-10; the
# form y·P/D costs 3e-15: D's terms cancel), and erfinv(|y|) = P(t)/Q(t),
# t = √(−log(1 − |y|)), 0.7 < |y| < 1 (t ≤ 6.07 covers 1 − |y| ≥ 2⁻⁵³; 1.3e-16, and 1.1e-9 on
# t ≤ 4.1 for float32). No Newton steps on erf: near |y| = 1 those lose digits (erf's
# rounding near 1 is divided by e^{−x²}).
_ERFINV_N64 = (
    -25.25592485213275,
    135.77230985082653,
    -252.57285760919217,
    215.57598856991112,
    -88.28603787944266,
    15.685041021042792,
    -0.8289948930147055,
)
_ERFINV_D64 = (
    221.98507821501946,
    -740.6738217590058,
    958.4163608359992,
    -601.8518315685911,
    186.45257361670434,
    -25.249845777360864,
)
_ERFINV_N32 = (1.0712246876786966, -4.018594397124804, 3.444490922784269, -0.718459930629734)
_ERFINV_D32 = (-9.415449996467693, 16.120529299836296, -7.957297794431019)
_ERFINV_P64 = (
    -67755.51812411471,
    783864.5694244386,
    68866523.65540577,
    180104850.25535628,
    255571715.82022148,
    297284596.6021149,
    127760194.38086537,
    19517974.32999549,
    836763.4916732381,
)
_ERFINV_Q64 = (
    82442914.3735883,
    187893506.23804075,
    362265721.7178342,
    383680698.92127824,
    326736973.2170061,
    129681009.03561378,
    19527757.999401677,
    836650.2060047414,
)
_ERFINV_P32 = (
    -1923.773527367478,
    13372.314333918894,
    31798.60256738972,
    151131.43803303243,
    40822.704896169,
)
_ERFINV_Q32 = (81860.88581654422, 93823.45546622195, 152946.21697250876, 40765.873412892506)

# erfcx(a) = P(s)/Q(s) / a, s = 1/a², a ≥ 6 (to ∞; relative error 1.2e-20): erfcx's own tail.
_ERFCX_TP64 = (
    0.0032189323033681677,
    0.07692151013872923,
    0.5890557471242768,
    1.676377506238789,
    1.5107457445927006,
    0.19543009085493634,
)
_ERFCX_TQ64 = (
    0.005705408956909071,
    0.13919253134131285,
    1.1093913363414258,
    3.432300677962668,
    3.7853781996407414,
)


class _Tables:
    """The coefficient tables of one working dtype and the limits that go with them."""

    __slots__ = ("erf", "ndtr", "erfcx", "erfinv", "erfinv_tail", "clamp", "huge")

    def __init__(self, erf, ndtr, erfcx, erfinv, erfinv_tail, clamp, huge):
        self.erf, self.ndtr, self.erfcx = erf, ndtr, erfcx
        self.erfinv, self.erfinv_tail = erfinv, erfinv_tail
        # erfcx's argument is clamped here, where e^{−a²} is already 0 in the dtype (±inf and
        # 1e308 need no case of their own)
        self.clamp = clamp
        # above this |x| the small branch's polynomials overflow (those elements are replaced
        # by the large branch, but NumPy would warn)
        self.huge = huge


_TABLES = {
    8: _Tables(
        (_ERF_N64, _ERF_D64),
        (_NDTR_N64, _NDTR_D64),
        (_ERFCX_P64, _ERFCX_Q64),
        (_ERFINV_N64, _ERFINV_D64),
        (_ERFINV_P64, _ERFINV_Q64),
        28.0,
        1e25,
    ),
    4: _Tables(
        (_ERF_N32, _ERF_D32),
        (_NDTR_N32, _NDTR_D32),
        (_ERFCX_P32, _ERFCX_Q32),
        (_ERFINV_N32, _ERFINV_D32),
        (_ERFINV_P32, _ERFINV_Q32),
        11.0,
        1e6,
    ),
}
_HI_MASK = np.uint64(0xFFFFFFFFF8000000)  # keeps 26 significant bits: hi·hi is exact


def _poly(c: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    """Σ c[k]·tᵏ by Horner (lowest coefficient first), in t's dtype, one new array."""
    p = t * c[-1]
    p += c[-2]
    for ck in c[-3::-1]:
        p *= t
        p += ck
    return p


def _monic(c: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    """tⁿ + Σ c[k]·tᵏ (n = len(c)) by Horner: the leading multiply is saved."""
    p = t + c[-1]
    for ck in c[-2::-1]:
        p *= t
        p += ck
    return p


def _rational(nd: tuple, t: np.ndarray) -> np.ndarray:
    """N(t)/D(t) with D monic."""
    r = _poly(nd[0], t)
    r /= _monic(nd[1], t)
    return r


def _split_square(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fl(b²), δ)`` with b² = fl(b²) + δ to ~2⁻⁷⁰ relative, for float64 b ≥ 0.

    b = hi + lo with hi's 26 leading bits, so hi² is exact and δ = (hi² − fl(b²)) + lo·(b + hi).
    """
    hi = (b.view(np.uint64) & _HI_MASK).view(np.float64)
    lo = b - hi
    s = b * b
    err = hi * hi
    err -= s
    lo *= b + hi
    err += lo
    return s, err


def _exp_neg_sq(b: np.ndarray) -> np.ndarray:
    """e^{−b²} for float64 b ≥ 0 with the rounding error of b² corrected (to ~1 ulp): the plain
    ``exp(-b*b)`` is off by up to b²·1.1e-16 relative (7e-14 at b = 26)."""
    s, err = _split_square(b)
    e = np.exp(-s)
    np.subtract(1.0, err, out=err)  # 1 − δ keeps δ (≤ 8e-14) to 1e-16: ~1 ulp in the product
    e *= err
    return e


def _erfc_large(b: np.ndarray, tab: _Tables, careful: bool = False) -> np.ndarray:
    """erfc(b) for b > 1 (the gathered elements): e^{−b²}·erfcx(b)."""
    u = np.minimum(b, tab.clamp)
    r = _poly(tab.erfcx[0], u)
    r /= _monic(tab.erfcx[1], u)
    r *= _exp_neg_sq(u) if careful else np.exp(-(u * u))
    return r


def _work(x: np.ndarray, min_float64: bool = False) -> tuple[np.ndarray, np.dtype, _Tables]:
    """(flat working array, output dtype, tables): float32/float16 work in float32."""
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    work = np.float64 if (min_float64 or out_dtype.itemsize == 8) else np.float32
    flat = x.astype(work, copy=False).reshape(-1)
    return flat, out_dtype, _TABLES[np.dtype(work).itemsize]


def _split(
    xf: np.ndarray, limit: float, tab: _Tables
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(flat indices with |x| > limit, their x, their |x|, whether any is huge); nan is never
    among them."""
    big = np.flatnonzero(np.abs(xf) > limit)
    xs = xf.take(big)
    b = np.abs(xs)
    return big, xs, b, bool(b.size) and bool(b.max() > tab.huge)


_SIGN_BIT = {8: (np.uint64, np.uint64(1 << 63)), 4: (np.uint32, np.uint32(1 << 31))}


def _or_sign(t: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """copysign(t, xs) for t ≥ 0 (sign bit clear) by OR-ing in xs's sign bit: integer SIMD,
    ~4x cheaper than np.copysign."""
    ui, bit = _SIGN_BIT[t.itemsize]
    tv = t.view(ui)
    tv |= xs.view(ui) & bit
    return t


def _small_erf(xf: np.ndarray, tab: _Tables) -> np.ndarray:
    """x + x·N(x²)/D(x²): erf for |x| ≤ 1, odd in x (−0 stays −0, nan stays nan)."""
    r = _rational(tab.erf, xf * xf)
    r *= xf
    r += xf
    return r


_CHUNK = 1 << 16  # block of a large array: a kernel's ~10 temporaries then stay in cache


def _blocks(kernel, xf: np.ndarray, tab: _Tables, n_out: int = 1):
    """``kernel(xf, tab)`` on blocks of a large flat array (measured at 1e6 float64 elements:
    -20 % time); small arrays in one call."""
    if xf.size <= 4 * _CHUNK:
        return kernel(xf, tab)
    outs: tuple[np.ndarray, ...] = ()
    for i in range(0, xf.size, _CHUNK):
        res = kernel(xf[i : i + _CHUNK], tab)
        res = (res,) if n_out == 1 else res
        if not outs:
            outs = tuple(np.empty(xf.size, r.dtype) for r in res)
        for o, r in zip(outs, res):
            o[i : i + _CHUNK] = r
    return outs[0] if n_out == 1 else outs


def _erf_flat(xf: np.ndarray, tab: _Tables) -> np.ndarray:
    big, xs, b, huge = _split(xf, 1.0, tab)
    if huge:  # inf or > 1e25: the small branch overflows on them (and is then replaced)
        with np.errstate(over="ignore", invalid="ignore"):
            r = _small_erf(xf, tab)
    else:
        r = _small_erf(xf, tab)
    if big.size:
        e = _erfc_large(b, tab)
        np.subtract(1.0, e, out=e)
        r[big] = _or_sign(e, xs)
    return r


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in the dtype of ``x`` (float64 to ~2e-16 relative)."""
    x = np.asarray(x)
    xf, out_dtype, tab = _work(x)
    r = _blocks(_erf_flat, xf, tab)
    return r.reshape(x.shape).astype(out_dtype, copy=False)


def _erfc_flat(xf: np.ndarray, tab: _Tables) -> np.ndarray:
    big, xs, b, huge = _split(xf, 1.0, tab)
    if huge:
        with np.errstate(over="ignore", invalid="ignore"):
            r = _small_erf(xf, tab)
    else:
        r = _small_erf(xf, tab)
    np.subtract(1.0, r, out=r)  # |x| ≤ 1: erfc ≥ 0.157, so 1 − erf loses < 3 bits
    if big.size:
        e = _erfc_large(b, tab, careful=True)
        neg = np.signbit(xs)  # erfc(−b) = 2 − erfc(b)
        r[big] = e + neg * (2.0 - 2.0 * e)
    return r


def erfc(x: np.ndarray) -> np.ndarray:
    """1 − erf(x) with relative accuracy in the right tail (float64 arithmetic, ~1e-15)."""
    x = np.asarray(x)
    xf, out_dtype, tab = _work(x, min_float64=True)
    r = _blocks(_erfc_flat, xf, tab)
    return r.reshape(x.shape).astype(out_dtype, copy=False)


def _ndtr_flat(xf: np.ndarray, tab: _Tables) -> tuple[np.ndarray, np.ndarray]:
    big, xs, b, huge = _split(xf, math.sqrt(2.0), tab)
    if huge:
        with np.errstate(over="ignore", invalid="ignore"):
            w = xf * xf
            r = _rational(tab.ndtr, w)
    else:
        w = xf * xf
        r = _rational(tab.ndtr, w)
    r *= xf
    r += 0.5
    if big.size:
        b *= _INV_SQRT_2
        h = _erfc_large(b, tab)
        h *= 0.5  # Φ(−|x|) = ½·erfc(|x|/√2), with relative accuracy
        pos = xs > 0  # Φ(|x|) = 1 − Φ(−|x|)
        r[big] = h + pos * (1.0 - 2.0 * h)
    return r, w


def ndtr_and_square(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Φ(x), x²) as flat arrays in the working dtype (float32 for float32/float16).

    x² comes for free from the small branch; GELU's backward reuses it for φ(x).
    """
    xf, _, tab = _work(np.asarray(x))
    return _blocks(_ndtr_flat, xf, tab, n_out=2)


def ndtr(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF Φ(x) = ½·erfc(−x/√2), elementwise in x's dtype.

    The left tail (x < −√2) comes from erfc directly, so Φ keeps relative accuracy there
    instead of cancelling in 1 + erf (float64 to x ≈ −38, float32 to ≈ −13, limited by
    the rounding of x/√2).
    """
    x = np.asarray(x)
    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    return ndtr_and_square(x)[0].reshape(x.shape).astype(out_dtype, copy=False)


def _erfinv_flat(yf: np.ndarray, tab: _Tables) -> np.ndarray:
    with np.errstate(all="ignore"):  # |y| ≥ 1 and huge |y| go through log(≤ 0) / overflow
        x = _rational(tab.erfinv, yf * yf)
        x *= yf
        x += yf
        if not yf.all():  # −0 + (−0·R) is +0 where R < 0 (15 µs per 1e5 vs 50 for copysign)
            zero = yf == 0
            x[zero] = yf[zero]
        a = np.abs(yf)
        tail = np.flatnonzero(a > 0.7)  # nan is never in it and stays nan
        if tail.size:
            # float64 arithmetic also for float32: in float32 the log and the rational's
            # rounding cost ~5 ulp here (the tail is a minority of the elements)
            at = a.take(tail).astype(np.float64, copy=False)
            t = np.subtract(1.0, at)  # exact for |y| ≥ 0.5
            np.log(t, out=t)
            np.negative(t, out=t)
            np.sqrt(t, out=t)  # > 1 makes nan (log of a negative), = 1 makes inf
            xt = _rational(tab.erfinv_tail, t)
            xt[at == 1.0] = np.inf
            x[tail] = np.copysign(xt, yf.take(tail))
    return x


def erfinv(y: np.ndarray) -> np.ndarray:
    """erf⁻¹(y) elementwise in y's dtype: NaN outside [−1, 1], ±inf at ±1 (float64 to ~8e-16
    relative everywhere, also as |y| → 1)."""
    y = np.asarray(y)
    yf, out_dtype, tab = _work(y)
    x = _blocks(_erfinv_flat, yf, tab)
    return x.reshape(y.shape).astype(out_dtype, copy=False)


def _exp_sq(a: np.ndarray) -> np.ndarray:
    """e^{a²} for float64 a ≥ 0 with the rounding error of a² corrected (inf past ~26.6)."""
    # e^{729} = inf already; the clamp keeps inf − inf out of the split
    s, err = _split_square(np.minimum(a, 27.0))
    e = np.exp(s)
    err += 1.0  # e·(1 + δ): stays inf where e^{s} overflowed (e + e·δ would give inf − inf)
    e *= err
    return e


def _erfcx_pos(a: np.ndarray) -> np.ndarray:
    """erfcx(a) = e^{a²}·erfc(a) for float64 a ≥ 0 (nan stays nan)."""
    tab = _TABLES[8]
    r = _small_erf(np.minimum(a, 1.0), tab)  # a < 1: e^{a²}·(1 − erf(a))
    np.subtract(1.0, r, out=r)
    r *= _exp_sq(np.minimum(a, 1.0))
    mid = np.flatnonzero((a > 1.0) & (a < 6.0))
    if mid.size:
        u = a.take(mid)
        r[mid] = _rational(tab.erfcx, u)
    far = np.flatnonzero(a >= 6.0)
    if far.size:
        u = a.take(far)
        q = _rational((_ERFCX_TP64, _ERFCX_TQ64), 1.0 / (u * u))
        r[far] = q / u
    return r


def erfcx(x: np.ndarray) -> np.ndarray:
    """The scaled complementary error function e^{x²}·erfc(x), elementwise in x's dtype
    (float64 arithmetic, ~1e-15 relative; inf below x ≈ −26.6 as in torch)."""
    x = np.asarray(x)
    xf, out_dtype, _ = _work(x, min_float64=True)
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.abs(xf)
        r = _erfcx_pos(a)
        neg = np.flatnonzero(xf < 0)  # erfcx(−a) = 2·e^{a²} − erfcx(a)
        if neg.size:
            an = a.take(neg)
            r[neg] = 2.0 * _exp_sq(an) - r.take(neg)
        return r.reshape(x.shape).astype(out_dtype, copy=False)


def log_ndtr(x: np.ndarray) -> np.ndarray:
    """log Φ(x), elementwise in x's dtype (float64 arithmetic): log(erfcx(−x/√2)/2) − x²/2 below
    x = −1 (finite to −1e154, where Φ itself underflows at −38), log1p(−Φ(−x)) above 0."""
    x = np.asarray(x)
    xf, out_dtype, _ = _work(x, min_float64=True)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        r = np.log(ndtr(np.clip(xf, -1.0, 0.0)))  # −1 ≤ x ≤ 0: Φ ≥ 0.158
        low = np.flatnonzero(xf < -1.0)
        if low.size:
            u = xf.take(low)
            v = np.log(0.5 * _erfcx_pos(u * -_INV_SQRT_2))
            v -= 0.5 * (u * u)
            r[low] = v
        high = np.flatnonzero(xf > 0.0)
        if high.size:
            u = xf.take(high)
            r[high] = np.log1p(-ndtr(-u))
        return r.reshape(x.shape).astype(out_dtype, copy=False)
