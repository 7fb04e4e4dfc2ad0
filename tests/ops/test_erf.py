"""The vectorised erf/erfc/ndtr against math.erf/erfc: dense grid, tails, signed zero, ±inf, nan,
huge values (no NumPy warnings) and float32 within 1 ulp of the correctly rounded result."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from chainrule.ops._special import erf, erfc, erfinv, ndtr


def _ref(x: np.ndarray) -> np.ndarray:
    return np.array([math.erf(v) for v in x.ravel()]).reshape(x.shape)


def test_float64_dense_grid_relative_error():
    x = np.concatenate(
        [
            np.linspace(-8.0, 8.0, 40001),
            np.geomspace(1e-300, 1e-3, 300),
            -np.geomspace(1e-12, 1.0, 300),
            np.linspace(1.99, 2.01, 2001),  # around the series / continued-fraction switch
            np.linspace(5.9, 6.1, 2001),  # around the switch to ±1
        ]
    )
    got = erf(x)
    ref = _ref(x)
    nz = ref != 0
    rel = np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])
    assert rel.max() < 2e-15, f"max relative error {rel.max():.3e} at x={x[nz][rel.argmax()]!r}"
    assert np.all(got[~nz] == 0)


def test_tails_and_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 30.0, -30.0, 1e308])
    got = erf(x)
    assert got[0] == 1.0 and got[1] == -1.0
    assert np.isnan(got[2])
    assert got[3] == 0.0 and not np.signbit(got[3])
    assert got[4] == 0.0 and np.signbit(got[4])
    assert got[5] == 1.0 and got[6] == -1.0 and got[7] == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_low_precision_dtype_preserved(dtype):
    x = np.linspace(-4, 4, 1001).astype(dtype)
    got = erf(x)
    assert got.dtype == dtype
    ref = _ref(x.astype(np.float64)).astype(dtype)
    # the float64 value is rounded once, so it is the correctly rounded result, or 1 ulp off
    # when the exact value sits within ~1e-10 of a rounding boundary
    ulp = np.spacing(np.abs(ref)).astype(np.float64)
    assert np.all(np.abs(got.astype(np.float64) - ref.astype(np.float64)) <= ulp)


def test_zero_dim_and_odd():
    assert erf(np.array(0.5)).shape == ()
    x = np.linspace(0, 5, 101)
    np.testing.assert_array_equal(erf(-x), -erf(x))


# ---------------------------------------------------------------- rational-approximation paths


def test_float64_branch_switch_and_random():
    """Around |x| = 1 (small rational → erfcx branch) and on normal samples."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(0.999, 1.001, 2001), -np.linspace(0.999, 1.001, 2001)])
    x = np.concatenate([x, rng.standard_normal(20000) * 2.0, np.nextafter(1.0, [0.0, 2.0])])
    ref = _ref(x)
    rel = np.abs(erf(x) - ref) / np.abs(ref)
    assert rel.max() < 1e-15, f"max relative error {rel.max():.3e} at x={x[rel.argmax()]!r}"


def test_float32_random_within_one_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(50000) * 2.0, rng.uniform(-4.5, 4.5, 50000)])
    x = np.concatenate([x, np.geomspace(1e-38, 1.0, 2000), [1.0, np.nextafter(1.0, 2.0)]])
    x = x.astype(np.float32)
    got = erf(x)
    assert got.dtype == np.float32
    ref = _ref(x.astype(np.float64)).astype(np.float32)
    ulp = np.spacing(np.abs(ref)).astype(np.float64)
    assert np.all(np.abs(got.astype(np.float64) - ref.astype(np.float64)) <= ulp)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_huge_and_special_values_warn_nothing(dtype):
    """|x| where the small branch's polynomials would overflow: no NumPy warning, exact ±1."""
    v = np.array([1e300, -1e300, 1e30, -1e30, 3e38, 1e7, -1e7, 6e4, np.inf, -np.inf, np.nan])
    with np.errstate(over="ignore"):
        x = v.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e, c, p = erf(x), erfc(x), ndtr(x)
    fin = ~np.isnan(x)
    np.testing.assert_array_equal(e[fin], np.sign(x[fin]))
    np.testing.assert_array_equal(c[fin], 1.0 - np.sign(x[fin]))
    np.testing.assert_array_equal(p[fin], (np.sign(x[fin]) + 1.0) / 2.0)
    assert np.isnan(e[~fin]).all() and np.isnan(c[~fin]).all() and np.isnan(p[~fin]).all()
    assert e.dtype == c.dtype == p.dtype == dtype


def test_erfc_relative_accuracy_in_the_tail():
    x = np.concatenate([np.linspace(-6.0, 27.2, 60001), np.linspace(0.99, 1.01, 201)])
    ref = np.array([math.erfc(v) for v in x])
    got = erfc(x)
    keep = ref > 1e-300  # below, float64 subnormals carry fewer digits
    rel = np.abs(got[keep] - ref[keep]) / ref[keep]
    assert rel.max() < 2e-15, f"max relative error {rel.max():.3e} at x={x[keep][rel.argmax()]!r}"
    assert erfc(np.array(5.0)) == pytest.approx(1.5374597944280349e-12, rel=1e-15)
    assert erfc(np.array(28.0)) == 0.0 and erfc(np.array(-0.0)) == 1.0


def test_ndtr_relative_accuracy_left_tail():
    x = np.linspace(-37.0, 8.0, 40001)
    ref = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    got = ndtr(x)
    rel = np.abs(got - ref) / ref
    # the roundings of x/√2 and its square (here and in the reference) move e^{−x²/2} by up
    # to ~x²·2.8e-16 relative
    assert np.all(rel < 2e-15 + x * x * 4.5e-16)
    x32 = np.linspace(-12.0, 6.0, 20001).astype(np.float32)
    ref32 = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x32.astype(np.float64)])
    rel32 = np.abs(ndtr(x32).astype(np.float64) - ref32) / ref32
    assert ndtr(x32).dtype == np.float32
    # near x = −√2, ½ + x·R cancels to Φ ≈ 0.08: ~1e-6 relative (torch's 1 + erf: 0.2 at x = −5)
    assert np.all(rel32 < 1e-6 + x32.astype(np.float64) ** 2 * 1.2e-7)


def test_shapes_and_layouts():
    x = np.linspace(-3, 3, 24).reshape(2, 3, 4)
    for f in (erf, erfc, ndtr):
        got = f(x.transpose(2, 0, 1))  # non-contiguous input
        np.testing.assert_array_equal(got, f(x).transpose(2, 0, 1))
        assert f(np.zeros((0, 3))).shape == (0, 3)
    assert erf(np.array([2, -1, 0])).dtype == np.float64  # integers evaluate in float64


def test_erfc_op_tail_parity_and_grad():
    torch = pytest.importorskip("torch")
    import chainrule as cr

    v = np.concatenate([np.linspace(-6.0, 26.0, 321), [0.0, -0.0]])
    for dt, tdt in ((cr.float64, torch.float64), (cr.float32, torch.float32)):
        x = cr.tensor(v, dtype=dt, requires_grad=True)
        xt = torch.tensor(v, dtype=tdt, requires_grad=True)
        y, yt = cr.erfc(x), torch.erfc(xt)
        y.sum().backward()
        yt.sum().backward()
        tiny = np.finfo(np.float64 if dt is cr.float64 else np.float32).tiny
        keep = yt.detach().numpy() > tiny  # subnormals carry fewer digits
        rtol = 1e-14 if dt is cr.float64 else 4e-6  # float32: torch's own erfcf is ~1.5 ulp
        np.testing.assert_allclose(y.detach().numpy()[keep], yt.detach().numpy()[keep], rtol=rtol)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=1e-300)
    assert cr.special.erfc(cr.tensor(5.0, dtype=cr.float64)).item() == pytest.approx(
        1.5374597944280349e-12, rel=1e-15
    )
    # ndtr = ½·erfc(−x/√2): the left tail is not rounded away
    assert cr.special.ndtr(cr.tensor(-10.0, dtype=cr.float64)).item() == pytest.approx(
        7.61985302416047e-24, rel=1e-13
    )


def test_erfinv_inverts_erf_and_erfc():
    """erfinv's relative error ε shows as 2x²·ε in erfc(x) − (1 − y) (and ~ε in erf(x) − y)."""
    y = np.concatenate([np.linspace(-0.7, 0.7, 2000), np.geomspace(1e-300, 0.7, 200)])
    x = erfinv(y)
    res = np.abs(np.array([math.erf(v) for v in x]) - y) / np.abs(y)
    assert res.max() < 2e-15
    y = np.concatenate([np.linspace(0.7, 1.0, 3001)[:-1], 1.0 - np.geomspace(1.2e-16, 0.3, 600)])
    x = erfinv(y)
    res = np.abs(np.array([math.erfc(v) for v in x]) - (1.0 - y)) / (1.0 - y)
    assert np.all(res < 1.5e-15 + 2.0 * x * x * 1.2e-15)
    np.testing.assert_array_equal(erfinv(-y), -x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_erfinv_special_values(dtype):
    y = np.array([1.0, -1.0, 1.5, -2.0, np.nan, np.inf, -np.inf, 0.0, -0.0, 6e4]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = erfinv(y)
    assert x.dtype == dtype
    assert x[0] == np.inf and x[1] == -np.inf
    assert np.isnan(x[2:7]).all() and np.isnan(x[9])
    assert x[7] == 0.0 and not np.signbit(x[7]) and x[8] == 0.0 and np.signbit(x[8])


def test_erfinv_float32_close_to_float64():
    y = np.concatenate([np.linspace(-1.0, 1.0, 40001)[1:-1], 1.0 - np.geomspace(6e-8, 0.3, 500)])
    y = y.astype(np.float32)
    ref = erfinv(y.astype(np.float64))  # checked to ~1e-15 above
    got = erfinv(y)
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got.astype(np.float64) - ref) <= 1.5 * ulp)


def test_large_arrays_blocked_like_one_call():
    """Arrays above 4 blocks go through the kernels block by block: same values."""
    from chainrule.ops import _special

    rng = np.random.default_rng(2)
    t64 = _special._TABLES[8]
    for dt in (np.float32, np.float64):
        x = (rng.standard_normal(4 * _special._CHUNK + 1001) * 3.0).astype(dt)
        x[[5, 7, 9]] = [np.inf, -0.0, np.nan]
        tab = _special._TABLES[x.itemsize]
        np.testing.assert_array_equal(erf(x), _special._erf_flat(x, tab))
        np.testing.assert_array_equal(erfinv(x / 10), _special._erfinv_flat(x / 10, tab))
        expect = _special._erfc_flat(x.astype(np.float64), t64).astype(dt)
        np.testing.assert_array_equal(erfc(x), expect)
        cdf, sq = _special.ndtr_and_square(x)
        cdf1, sq1 = _special._ndtr_flat(x, tab)
        np.testing.assert_array_equal(cdf, cdf1)
        np.testing.assert_array_equal(sq, sq1)


def test_erfcx_and_log_ndtr_values():
    from chainrule.ops._special import erfcx, log_ndtr

    x = np.linspace(-5.0, 5.0, 2001)
    ref = np.array([math.erfc(v) * math.exp(v * v) for v in x])  # exp(v²): ~v²·1e-16 off
    assert np.all(np.abs(erfcx(x) - ref) / ref < 2e-15 + x * x * 2.3e-16)
    big = np.array([30.0, 1e3, 1e10, 1e300])  # erfcx(a) → 1/(a√π)·(1 − 1/(2a²) + …)
    s = 1.0 / np.minimum(big, 1e100) ** 2
    series = 1 - s / 2 + 3 * s**2 / 4 - 15 * s**3 / 8 + 105 * s**4 / 16
    asym = series / (big * math.sqrt(math.pi))
    np.testing.assert_allclose(erfcx(big), asym, rtol=1e-12)
    assert erfcx(np.array(-27.0)) == np.inf and erfcx(np.array(np.inf)) == 0.0
    x = np.linspace(-30.0, 6.0, 3601)
    ref = np.array([math.log(0.5 * math.erfc(-v / math.sqrt(2.0))) for v in x])
    assert np.all(np.abs(log_ndtr(x) - ref) <= 1e-14 * np.abs(ref) + 1e-16)
    # far left, where Φ underflows: log Φ(x) = −x²/2 − log(−x√(2π)) + log(1 − s + 3s² − …)
    far = np.array([-100.0, -1e4, -1e8])
    s = 1.0 / far**2
    series = np.log1p(-s + 3 * s**2 - 15 * s**3)
    asym = -0.5 * far**2 - np.log(-far * math.sqrt(2.0 * math.pi)) + series
    np.testing.assert_allclose(log_ndtr(far), asym, rtol=1e-14)
    assert log_ndtr(np.array(np.inf)) == 0.0 and log_ndtr(np.array(-np.inf)) == -np.inf


def test_special_erfcx_log_ndtr_ops_match_torch_in_tails():
    torch = pytest.importorskip("torch")
    import chainrule as cr

    v = np.array([-40.0, -10.0, -1.5, -1.0, -0.5, 0.0, 0.5, 3.0, 10.0])
    x = cr.tensor(v, dtype=cr.float64, requires_grad=True)
    xt = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    y, yt = cr.special.log_ndtr(x), torch.special.log_ndtr(xt)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-13)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    v = v[1:]
    x = cr.tensor(v, dtype=cr.float64, requires_grad=True)
    xt = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    y, yt = cr.special.erfcx(x), torch.special.erfcx(xt)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-13)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
