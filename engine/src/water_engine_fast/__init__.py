"""Optional numpy fast path for large Monte Carlo runs of `fcff_ginzu` (not imported by water_engine).

`monte_carlo_ginzu(request)` takes the same request as the pure `monte_carlo` model (base
must be an `fcff_ginzu` request; drivers on its top-level numeric inputs) and returns the same
summary (mean, stdev, percentiles, histogram, probability above price). It samples the same
distributions (normal, lognormal by mean/stdev of the variable, triangular, uniform, optional
truncation by rejection, Gaussian-copula correlation through a Cholesky factor) with numpy's
PCG64 generator, and runs the Ginzu cash flows vectorised over paths. It is statistically,
not bitwise, equal to the pure path (tested in engine/tests/test_fast_path.py); the pure
engine stays the reference for anything that must be reproducible bit for bit in the browser.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from water_engine import ValidationError
from water_engine.boundary import from_dict
from water_engine.models import analysis as A
from water_engine.models import dcf_ginzu as G

__all__ = ["monte_carlo_ginzu", "sample", "values"]

Array = NDArray[np.float64]


def sample(drivers: list[A.Driver], correlations: list[A.Correlation], paths: int, seed: int) -> Array:
    """(paths, len(drivers)) draws of the drivers."""
    rng = np.random.default_rng(seed)
    n = len(drivers)
    index = {d.path: i for i, d in enumerate(drivers)}
    corr = np.eye(n)
    for c in correlations:
        corr[index[c.a], index[c.b]] = corr[index[c.b], index[c.a]] = c.rho
    chol = np.linalg.cholesky(corr)
    lows = np.array([-np.inf if d.truncate_low is None else d.truncate_low for d in drivers])
    highs = np.array([np.inf if d.truncate_high is None else d.truncate_high for d in drivers])
    out = np.empty((0, n))
    while out.shape[0] < paths:
        need = max(paths - out.shape[0], 1024)
        z = rng.standard_normal((need, n)) @ chol.T
        u = _phi(z)
        x = np.empty_like(z)
        for i, d in enumerate(drivers):
            x[:, i] = _marginal(d, z[:, i], u[:, i])
        keep = np.all((x >= lows) & (x <= highs), axis=1)
        out = np.vstack([out, x[keep]])
    return out[:paths]


def _phi(x: Array) -> Array:
    """Standard normal CDF, Hart 5666 as given by West (2005), vectorised."""
    a = np.abs(x)
    e = np.exp(-a * a / 2.0)
    n = 3.52624965998911e-02 * a + 0.700383064443688
    for c in (6.37396220353165, 33.912866078383, 112.079291497871, 221.213596169931, 220.206867912376):
        n = n * a + c
    d = 8.83883476483184e-02 * a + 1.75566716318264
    for c in (
        16.064177579207,
        86.7807322029461,
        296.564248779674,
        637.333633378831,
        793.826512519948,
        440.413735824752,
    ):
        d = d * a + c
    with np.errstate(divide="ignore", invalid="ignore"):
        b = a + 0.65
        for k in (4.0, 3.0, 2.0, 1.0):
            b = a + k / b
        tail = e / b / 2.506628274631
    body: Array = np.where(a < 7.07106781186547, e * n / d, tail)
    body = np.where(a > 37.0, 0.0, body)
    result: Array = np.where(x > 0, 1.0 - body, body)
    return result


def _marginal(d: A.Driver, z: Array, u: Array) -> Array:
    if d.distribution == "normal":
        return float(d.mean or 0.0) + float(d.stdev or 0.0) * z
    if d.distribution == "lognormal":
        mean, sd = float(d.mean or 0.0), float(d.stdev or 0.0)
        if sd == 0.0:
            return np.full_like(z, mean)
        s2 = float(np.log1p((sd / mean) ** 2))
        drawn: Array = np.exp(np.log(mean) - s2 / 2.0 + np.sqrt(s2) * z)
        return drawn
    lo, hi = float(d.low or 0.0), float(d.high or 0.0)
    if d.distribution == "uniform":
        return lo + (hi - lo) * u
    mode = float(d.mode if d.mode is not None else lo)
    width = hi - lo
    if width == 0.0:
        return np.full_like(z, lo)
    cut = (mode - lo) / width
    left = lo + np.sqrt(u * width * (mode - lo))
    right = hi - np.sqrt((1.0 - u) * width * (hi - mode))
    return np.where(u < cut, left, right)


def values(base_fields: dict[str, Any], overrides: dict[str, Array], mid_year: bool) -> Array:
    """Value per share for each path, the Ginzu mechanics vectorised (see dcf_ginzu)."""
    size = len(next(iter(overrides.values())))
    prepared = G.prepare_fields(base_fields, mid_year)
    info = prepared.info

    def get(name: str, default: Any) -> Array:
        if name in overrides:
            return overrides[name]
        return np.full(size, np.nan if default is None else float(default))

    f = base_fields
    g1 = get("growth_year_1", f["growth_year_1"])
    g25 = overrides.get(
        "growth_years_2_5", g1 if f["growth_years_2_5"] is None else get("growth_years_2_5", f["growth_years_2_5"])
    )
    m1 = overrides.get(
        "margin_year_1",
        get("margin_year_1", f["margin_year_1"] if f["margin_year_1"] is not None else info["base_margin"]),
    )
    target = overrides.get(
        "target_margin", m1 if f["target_margin"] is None else get("target_margin", f["target_margin"])
    )
    s1 = get("sales_to_capital_years_1_5", f["sales_to_capital_years_1_5"])
    s2 = overrides.get(
        "sales_to_capital_years_6_10",
        s1
        if f["sales_to_capital_years_6_10"] is None
        else get("sales_to_capital_years_6_10", f["sales_to_capital_years_6_10"]),
    )
    rf = get("riskfree_rate", f["riskfree_rate"])
    rf_stable = (
        rf
        if f["riskfree_rate_after_year_10"] is None
        else get("riskfree_rate_after_year_10", f["riskfree_rate_after_year_10"])
    )
    gs = overrides.get(
        "stable_growth", rf_stable if f["stable_growth"] is None else get("stable_growth", f["stable_growth"])
    )
    erp = get("mature_market_erp", f["mature_market_erp"])
    rs = overrides.get(
        "stable_cost_of_capital",
        rf_stable + erp
        if f["stable_cost_of_capital"] is None
        else get("stable_cost_of_capital", f["stable_cost_of_capital"]),
    )
    r0 = get("initial_cost_of_capital", f["initial_cost_of_capital"])
    tax_eff = get("effective_tax_rate", f["effective_tax_rate"])
    tax_marg = get("marginal_tax_rate", f["marginal_tax_rate"])
    tax_term = tax_marg if f["tax_rate_converges_to_marginal"] else tax_eff
    conv = float(f["margin_convergence_year"])
    r_0 = float(f["revenues"])
    # growth, revenues
    step = (g25 - gs) / 5
    g: list[Any] = [None, g1, g25, g25, g25, g25] + [g25 - step * k for k in range(1, 6)] + [gs]
    rev: list[Any] = [np.full(size, r_0)]
    for t in range(1, 12):
        rev.append(rev[-1] * (1 + g[t]))
    slope = (target - m1) / conv
    m: list[Any] = [None, m1] + [target if t > conv else target - slope * (conv - t) for t in range(2, 11)]
    m.append(m[10])
    ebit: list[Any] = [None] + [m[t] * rev[t] for t in range(1, 12)]
    dtax = (tax_term - tax_eff) / 5
    tax: list[Any] = [tax_eff] * 6
    for _ in range(5):
        tax.append(tax[-1] + dtax)
    prev = np.full(size, float(f["nol"]))
    eat: list[Any] = [None]
    for t in range(1, 11):
        e = ebit[t]
        taxed = e - (e - prev) * tax[t]
        eat.append(np.where(e > 0, np.where(e < prev, e, taxed), e))
        prev = np.where(e > 0, np.where(e < prev, prev - e, 0.0), np.where(e < 0, prev - e, prev))
    eat11 = ebit[11] * (1 - tax_term)
    lag = f["reinvestment_lag"]
    s: list[Any] = [None] + [s1] * 5 + [s2] * 5
    re: list[Any] = [None] * 11
    for t in range(1, 11):
        if lag == 0:
            re[t] = (rev[t] - rev[t - 1]) / s[t]
        elif lag == 2:
            re[t] = (
                (rev[t + 2] - rev[t + 1]) / s[t] if t <= 8 else (rev[10] * g[10] / s2 if t == 9 else rev[11] * gs / s2)
            )
        elif lag == 3:
            re[t] = (rev[t + 3] - rev[t + 2]) / s[t] if t <= 8 else (rev[11] * gs / s2 if t == 9 else re[9] * (1 + gs))
        else:
            re[t] = (rev[t + 1] - rev[t]) / s[t]
    rstep = (r0 - rs) / 5
    r10 = r0 - rstep * 5
    roc: Any = (
        r10 if f["stable_return_on_capital"] is None else get("stable_return_on_capital", f["stable_return_on_capital"])
    )
    roc = overrides.get("stable_return_on_capital", roc)
    fcff11 = eat11 - np.where(gs > 0, (gs / roc) * eat11, 0.0)
    df = np.ones(size)
    total = np.zeros(size)
    rate: Any = r0
    for t in range(1, 11):
        if t > 5:
            rate = rate - rstep
        df = df / (1 + rate)
        pv = (eat[t] - re[t]) * df
        total = total + (pv * np.sqrt(1 + rate) if mid_year else pv)
    pv_tv = fcff11 / (rs - gs) * df
    if mid_year:
        pv_tv = pv_tv * np.sqrt(1 + rs)
    total = pv_tv + total
    val = prepared.val
    book, fraction = val[6], val[7]
    p: Any = get("failure_probability", val[5])
    proceeds = info["book_capital"] * fraction if book else total * fraction
    operating = total * (1 - p) + proceeds * p
    equity = operating - val[8] - val[9] - val[10] + val[11] + val[12] - val[13]
    result: Array = equity / val[14]
    result[~(rs > gs)] = np.nan
    return result


_SUPPORTED = {
    "growth_year_1", "growth_years_2_5", "margin_year_1", "target_margin", "sales_to_capital_years_1_5",
    "sales_to_capital_years_6_10", "riskfree_rate", "riskfree_rate_after_year_10", "stable_growth",
    "mature_market_erp", "stable_cost_of_capital", "initial_cost_of_capital", "effective_tax_rate",
    "marginal_tax_rate", "stable_return_on_capital", "failure_probability",
}  # fmt: skip


def monte_carlo_ginzu(request: dict[str, Any]) -> dict[str, Any]:
    """The `monte_carlo` model's outputs for an fcff_ginzu base, computed with numpy."""
    inputs = from_dict(A.MonteCarloInputs, request.get("inputs", request), "inputs")
    base = inputs.base
    if base.get("model") != "fcff_ginzu":
        raise ValidationError("inputs.base.model: the numpy fast path handles fcff_ginzu only")
    ginzu = from_dict(G.GinzuInputs, base.get("inputs", {}), "inputs.base.inputs")
    conventions = from_dict(G.GinzuConventions, base.get("conventions") or {}, "inputs.base.conventions")
    names = []
    for i, d in enumerate(inputs.drivers):
        name = d.path.removeprefix("inputs.")
        if name not in _SUPPORTED:
            raise ValidationError(f"inputs.drivers[{i}].path: the numpy fast path cannot vary {d.path}")
        names.append(name)
    draws = sample(inputs.drivers, inputs.correlations, inputs.paths, inputs.seed)
    fields = {k: getattr(ginzu, k) for k in G._fields_of(ginzu)}
    v = values(fields, {n: draws[:, i] for i, n in enumerate(names)}, conventions.timing == "mid_year")
    ok = np.isfinite(v)
    good = v[ok]
    price = inputs.price if inputs.price is not None else ginzu.price
    q = np.percentile(good, inputs.percentiles)
    counts, edges = np.histogram(good, bins=inputs.bins)
    out: dict[str, Any] = {
        "mean": float(good.mean()),
        "stdev": float(good.std(ddof=1)) if good.size > 1 else 0.0,
        "min": float(good.min()),
        "max": float(good.max()),
        "percentiles": {f"p{p:g}": float(x) for p, x in zip(inputs.percentiles, q, strict=True)},
        "histogram": [
            {"low": float(edges[i]), "high": float(edges[i + 1]), "count": int(counts[i])} for i in range(inputs.bins)
        ],
        "paths": inputs.paths,
        "valid_paths": int(ok.sum()),
        "invalid_paths": int((~ok).sum()),
    }
    if price is not None:
        out["price"] = price
        out["probability_above_price"] = float((good > price).mean())
    return out
