"""Pure queueing formulas: USL, Little's law, Erlang B/C, M/M/c and M/G/c latency, Kingman, Che.

Units: rates in 1/s (``*_rps``), times in seconds (``*_s``), offered load ``A = lambda * S`` in
erlang. Functions broadcast over numpy arrays where that is natural and return floats for scalar
input. This module depends on numpy and scipy only; invalid arguments raise ``ValueError``.

Service-time model used by the M/G/c functions (``service_scv`` = squared coefficient of variation
Cs^2 of the service time, mean ``S``):

* Cs^2 <= 1: shifted exponential, ``S = D + Exp(mean S*Cs)`` with ``D = S*(1 - Cs)``
  (a fixed compute floor plus jitter: the usual shape of model-inference service times);
* Cs^2 > 1: balanced-means two-phase hyperexponential.

That is the ``'phase'`` family. The ``'lognormal'`` family (same mean and Cs^2, ``sigma^2 =
ln(1 + Cs^2)``) has a lighter far tail than the hyperexponential at the same Cs^2 and a heavier
body; a fit chooses between the two by the measured percentiles (:data:`SERVICE_FAMILIES`).

Cs^2 = 1 is the exponential in the phase family, so every M/G/c function equals its M/M/c
counterpart there.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special
from scipy.optimize import brentq, elementwise

_SCV_FLOOR = 1e-4  # Cs^2 below this is treated as 1e-4 (near-deterministic service)

SERVICE_FAMILIES = ("phase", "lognormal")
"""Service-time distribution families, each set by its mean S and SCV Cs^2 (module doc)."""

# Gauss–Legendre panels in ln(b) below ln(t), cut at mu ± 3 sigma (the density) and at ln t - 1, ln t - 0.05
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)
_PANEL_EDGES = (1.0, 0.05)


def _out(x):
    """Return a Python float for 0-d results, the array otherwise."""
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------- USL


def usl_throughput(n, lambda_, sigma, kappa):
    """Universal Scalability Law throughput ``X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1))``.

    ``n``: concurrency (users, in-flight requests); ``lambda_``: throughput at N=1 (rps);
    ``sigma``: contention; ``kappa``: coherency. Returns rps.
    """
    n = np.asarray(n, dtype=float)
    return _out(lambda_ * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)))


def usl_peak_concurrency(sigma, kappa):
    """Concurrency of maximum USL throughput ``N* = sqrt((1 - sigma)/kappa)``; ``inf`` when kappa = 0."""
    sigma, kappa = np.asarray(sigma, dtype=float), np.asarray(kappa, dtype=float)
    with np.errstate(divide="ignore"):
        return _out(np.where(kappa > 0, np.sqrt(np.maximum(1.0 - sigma, 0.0) / np.where(kappa > 0, kappa, 1.0)), np.inf))


def usl_amdahl_ceiling(lambda_, sigma):
    """Amdahl asymptote ``lambda/sigma`` (rps): the throughput limit when kappa = 0; ``inf`` when sigma = 0."""
    sigma = np.asarray(sigma, dtype=float)
    with np.errstate(divide="ignore"):
        return _out(np.where(sigma > 0, lambda_ / np.where(sigma > 0, sigma, 1.0), np.inf))


def usl_optimal_concurrency(sigma):
    """Gunther's optimal concurrency ``1/sigma`` (where Amdahl's curve bends); ``inf`` when sigma = 0."""
    sigma = np.asarray(sigma, dtype=float)
    with np.errstate(divide="ignore"):
        return _out(np.where(sigma > 0, 1.0 / np.where(sigma > 0, sigma, 1.0), np.inf))


def usl_peak_throughput(lambda_, sigma, kappa):
    """Maximum USL throughput (rps): ``X(N*)``, or the Amdahl ceiling ``lambda/sigma`` when kappa = 0."""
    n_star = np.asarray(usl_peak_concurrency(sigma, kappa))
    finite = np.isfinite(n_star)
    at_peak = usl_throughput(np.where(finite, n_star, 1.0), lambda_, sigma, kappa)
    return _out(np.where(finite, at_peak, usl_amdahl_ceiling(lambda_, sigma)))


# --------------------------------------------------------------------------- Little


def littles_latency_s(n, throughput_rps, think_time_s=0.0):
    """Mean response time of a closed loop by Little's law: ``R = N/X - Z`` (s).

    ``n``: users (concurrency), ``throughput_rps``: X, ``think_time_s``: Z per user between requests.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore"):
        return _out(n / np.asarray(throughput_rps, dtype=float) - think_time_s)


# --------------------------------------------------------------------------- Erlang


def _check_servers(servers) -> np.ndarray:
    c = np.asarray(servers, dtype=float)
    if c.ndim == 0:
        ok = c >= 0 and float(c).is_integer()
    else:
        ok = bool(np.all(c >= 0) and np.all(np.floor(c) == c))
    if not ok:
        raise ValueError(f"servers must be non-negative integers, got {servers!r}")
    return c


def erlang_b(offered_load, servers):
    """Erlang B blocking probability ``B(A, c)`` of an M/G/c/c loss system.

    Stable recursion ``B_0 = 1``, ``B_k = A*B_{k-1} / (k + A*B_{k-1})``: stays in [0, 1] for any
    real ``A >= 0`` and integer ``c`` up to many thousands (O(c) steps, vectorised over inputs).
    """
    a = np.asarray(offered_load, dtype=float)
    c = _check_servers(servers)
    if np.any(a < 0):
        raise ValueError(f"offered_load must be >= 0, got {offered_load!r}")
    if c.ndim == 0 and a.ndim == 0:  # scalars: the same recursion in plain floats, ~10x faster
        load, block = float(a), 1.0
        for k in range(1, int(c) + 1):
            block = load * block / (k + load * block)
        return block
    if c.ndim == 0:  # one server count: plain recursion over the loads
        b = np.ones_like(a)
        for k in range(1, int(c) + 1):
            ab = a * b
            b = ab / (k + ab)
        return _out(b)
    a, c = np.broadcast_arrays(a, c)
    b = np.ones(a.shape)
    for k in range(1, int(c.max(initial=0)) + 1):
        ab = a * b
        b = np.where(k <= c, ab / (k + ab), b)
    return _out(b)


def erlang_c(offered_load, servers):
    """Erlang C probability that an arrival waits in M/M/c: ``C = c*B / (c - A*(1 - B))``; 1 when A >= c."""
    a = np.asarray(offered_load, dtype=float)
    c = _check_servers(servers)
    b = np.asarray(erlang_b(a, c))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = c * b / (c - a * (1.0 - b))
    return _out(np.where(a < c, value, 1.0))


def servers_for_blocking(offered_load: float, target_blocking: float) -> int:
    """Smallest ``c >= 1`` with Erlang B ``B(A, c) <= target_blocking`` (e.g. serverless MaxConcurrency)."""
    if not 0 < target_blocking <= 1:
        raise ValueError(f"target_blocking must be in (0, 1], got {target_blocking!r}")
    if offered_load < 0:
        raise ValueError(f"offered_load must be >= 0, got {offered_load!r}")
    b, k = 1.0, 0
    while True:
        k += 1
        b = offered_load * b / (k + offered_load * b)
        if b <= target_blocking:
            return k


# --------------------------------------------------------------------------- M/M/c


def mmc_utilization(arrival_rps, service_time_s, servers):
    """Per-server utilisation ``rho = lambda*S/c`` (>= 1 means unstable)."""
    return _out(np.asarray(arrival_rps, dtype=float) * service_time_s / np.asarray(servers, dtype=float))


def _rates(arrival_rps, service_time_s, servers):
    lam = np.asarray(arrival_rps, dtype=float)
    s = np.asarray(service_time_s, dtype=float)
    c = np.asarray(servers, dtype=float)
    return lam, s, c, np.asarray(erlang_c(lam * s, c)), c / s - lam  # theta = c*mu - lambda


def mmc_mean_wait_s(arrival_rps, service_time_s, servers):
    """Mean M/M/c queueing delay ``Wq = C/(c*mu - lambda)`` (s); ``inf`` when unstable."""
    _, _, _, wait_prob, theta = _rates(arrival_rps, service_time_s, servers)
    with np.errstate(divide="ignore"):
        return _out(np.where(theta > 0, wait_prob / np.where(theta > 0, theta, 1.0), np.inf))


def mmc_mean_response_s(arrival_rps, service_time_s, servers):
    """Mean M/M/c response time ``W = Wq + S`` (s)."""
    return _out(np.asarray(mmc_mean_wait_s(arrival_rps, service_time_s, servers)) + service_time_s)


def mmc_mean_queue_length(arrival_rps, service_time_s, servers):
    """Mean number waiting ``Lq = lambda*Wq`` (Little)."""
    return _out(np.asarray(arrival_rps, dtype=float) * mmc_mean_wait_s(arrival_rps, service_time_s, servers))


def mmc_mean_in_system(arrival_rps, service_time_s, servers):
    """Mean number in system ``L = lambda*W`` (Little)."""
    return _out(np.asarray(arrival_rps, dtype=float) * mmc_mean_response_s(arrival_rps, service_time_s, servers))


def mmc_wait_exceedance(t_s, arrival_rps, service_time_s, servers):
    """``P(Wq > t) = C*exp(-(c*mu - lambda)*t)`` for ``t >= 0`` (1 when unstable)."""
    _, _, _, wait_prob, theta = _rates(arrival_rps, service_time_s, servers)
    t = np.asarray(t_s, dtype=float)
    return _out(np.where(theta > 0, wait_prob * np.exp(-np.maximum(theta, 0.0) * t), 1.0))


def mmc_wait_quantile_s(p, arrival_rps, service_time_s, servers):
    """Waiting-time quantile ``max(0, ln(C/(1-p)) / (c*mu - lambda))`` (s); ``inf`` when unstable."""
    _, _, _, wait_prob, theta = _rates(arrival_rps, service_time_s, servers)
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.log(wait_prob / (1.0 - p)) / theta
    return _out(np.where(theta > 0, np.maximum(q, 0.0), np.inf))


def _wait_plus_exponential_exceedance(u, wait_prob, theta, nu):
    """``P(W + E > u)`` for ``W`` = 0 w.p. 1-C else Exp(theta), ``E`` ~ Exp(nu), independent.

    ``= exp(-nu*u) + C*nu*(exp(-theta*u) - exp(-nu*u))/(nu - theta)``, written with
    ``a = min(theta, nu)``, ``d = |theta - nu|`` as ``exp(-nu*u) + C*nu*exp(-a*u)*(1 - exp(-d*u))/d``
    (limit ``u`` when d = 0) so it neither cancels nor overflows. 1 for ``u <= 0``.
    """
    u = np.maximum(u, 0.0)
    a = np.minimum(theta, nu)
    d = np.abs(theta - nu)
    du = d * u
    safe_d = np.where(du > 1e-12, d, 1.0)
    g = np.where(du > 1e-12, -np.expm1(-du) / safe_d, u)
    return np.minimum(np.exp(-nu * u) + wait_prob * nu * np.exp(-a * u) * g, 1.0)


def mmc_response_exceedance(t_s, arrival_rps, service_time_s, servers):
    """``P(T > t)`` for the M/M/c response time ``T = Wq + S`` (closed form; 1 when unstable).

    ``T`` is a mixture: with prob. 1-C it is ``S ~ Exp(mu)``; with prob. C it is
    ``Exp(c*mu - lambda) + Exp(mu)`` (hypoexponential), hence
    ``P(T > t) = exp(-mu*t) + C*mu*(exp(-(c*mu-lambda)*t) - exp(-mu*t)) / (mu - (c*mu-lambda))``.
    """
    _, s, _, wait_prob, theta = _rates(arrival_rps, service_time_s, servers)
    t = np.asarray(t_s, dtype=float)
    value = _wait_plus_exponential_exceedance(t, wait_prob, np.maximum(theta, 0.0), 1.0 / s)
    return _out(np.where(theta > 0, value, 1.0))


def mmc_response_quantile_s(p, arrival_rps, service_time_s, servers):
    """Exact M/M/c response-time quantile (s): solves ``P(T > t) = 1 - p`` with ``brentq``.

    Bracket: ``[0, 2*max(ln(2C/(1-p))/(c*mu-lambda), S*ln(2/(1-p)))]`` (union bound). ``inf`` when unstable.
    """

    def one(pi, lam, s, c):
        theta = c / s - lam
        if theta <= 0:
            return math.inf
        wait_prob = float(erlang_c(lam * s, c))
        tail = 1.0 - pi
        hi = 2.0 * max(math.log(max(2.0 * wait_prob / tail, 1.0)) / theta, s * math.log(2.0 / tail))
        return brentq(
            lambda t: float(_wait_plus_exponential_exceedance(t, wait_prob, theta, 1.0 / s)) - tail,
            0.0, hi, xtol=1e-14, rtol=1e-12,
        )

    return _out(np.vectorize(one, otypes=[float])(p, arrival_rps, service_time_s, servers))


def servers_for_quantile(p: float, target_s: float, arrival_rps: float, service_time_s: float,
                         kind: str = "response") -> int:
    """Smallest ``c`` whose M/M/c ``kind`` ('wait' or 'response') p-quantile is ``<= target_s``.

    A response quantile can never beat the service quantile ``S*ln(1/(1-p))``: a target at or below
    it raises ``ValueError``. Bisection over c (quantiles decrease in c).
    """
    quantile = {"wait": mmc_wait_quantile_s, "response": mmc_response_quantile_s}[kind]
    if kind == "response" and target_s <= service_time_s * math.log(1.0 / (1.0 - p)):
        raise ValueError(f"response p{100 * p:g} target {target_s} s is below the service-time quantile")

    def ok(c: int) -> bool:
        return quantile(p, arrival_rps, service_time_s, c) <= target_s

    lo = math.floor(arrival_rps * service_time_s)  # unstable at lo, so never ok (or 0)
    hi = max(lo + 1, 1)
    while not ok(hi):
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


# --------------------------------------------------------------------------- M/G/c


def allen_cunneen_factor(arrival_scv, service_scv):
    """Allen–Cunneen / Kingman variability factor ``(Ca^2 + Cs^2)/2`` (1 for M/M/c)."""
    return _out((np.asarray(arrival_scv, dtype=float) + np.asarray(service_scv, dtype=float)) / 2.0)


def mgc_mean_wait_s(arrival_rps, service_time_s, servers, service_scv=1.0, arrival_scv=1.0):
    """Allen–Cunneen G/G/c mean wait ``Wq ~= Wq(M/M/c) * (Ca^2 + Cs^2)/2`` (s); exact for M/M/c and M/G/1."""
    factor = allen_cunneen_factor(arrival_scv, service_scv)
    return _out(np.asarray(mmc_mean_wait_s(arrival_rps, service_time_s, servers)) * factor)


def mgc_mean_response_s(arrival_rps, service_time_s, servers, service_scv=1.0, arrival_scv=1.0):
    """Allen–Cunneen mean response time ``Wq + S`` (s)."""
    wait = mgc_mean_wait_s(arrival_rps, service_time_s, servers, service_scv, arrival_scv)
    return _out(np.asarray(wait) + service_time_s)


def relaxation_time_s(arrival_rps, service_time_s, servers, service_scv=1.0, arrival_scv=1.0):
    """Relaxation time of a G/G/c queue (s): ``k·S / (c·(1 − √ρ)²)``, ``k = (Ca² + Cs²)/2``.

    Exact for M/M/1 (the spectral gap ``μ(1 − √ρ)²``; Abate & Whitt 1987), the diffusion
    scaling otherwise: how long a queue takes to forget where it started. A measurement shorter than a
    few relaxation times sees less than the steady-state tail. ``inf`` when unstable."""
    rho = np.asarray(mmc_utilization(arrival_rps, service_time_s, servers), dtype=float)
    k = np.asarray(allen_cunneen_factor(arrival_scv, service_scv))
    gap = np.asarray(servers, dtype=float) / np.asarray(service_time_s, dtype=float) * (1.0 - np.sqrt(np.minimum(rho, 1.0))) ** 2
    with np.errstate(divide="ignore"):
        return _out(np.where(rho < 1.0, k / np.where(gap > 0, gap, 1.0), np.inf))


def kingman_wait_s(arrival_rps, service_time_s, arrival_scv, service_scv):
    """Kingman G/G/1 mean wait ``((Ca^2 + Cs^2)/2) * rho/(1 - rho) * S`` (s); Pollaczek–Khinchine when Ca^2 = 1."""
    rho = np.asarray(arrival_rps, dtype=float) * service_time_s
    factor = allen_cunneen_factor(arrival_scv, service_scv)
    with np.errstate(divide="ignore"):
        return _out(np.where(rho < 1, factor * rho / (1.0 - rho) * service_time_s, np.inf))


def service_phases(service_time_s, service_scv):
    """Shift ``D`` and two exponential phases (weights q1, q2; rates nu1, nu2) of the service model."""
    s = np.asarray(service_time_s, dtype=float)
    scv = np.maximum(np.asarray(service_scv, dtype=float), _SCV_FLOOR)
    cv = np.sqrt(scv)
    low = scv <= 1.0
    q1 = np.where(low, 1.0, 0.5 * (1.0 + np.sqrt(np.maximum(scv - 1.0, 0.0) / (scv + 1.0))))
    q2 = 1.0 - q1
    nu1 = np.where(low, 1.0 / (s * cv), 2.0 * q1 / s)
    nu2 = np.where(low, nu1, 2.0 * np.maximum(q2, 1e-300) / s)
    shift = np.where(low, s * (1.0 - cv), 0.0)
    return shift, q1, q2, nu1, nu2


def _check_family(family: str) -> None:
    if family not in SERVICE_FAMILIES:
        raise ValueError(f"service family must be one of {SERVICE_FAMILIES}, got {family!r}")


def _lognormal(service_time_s, service_scv) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, sigma)`` of ln B for a lognormal of mean S and SCV Cs^2."""
    sigma2 = np.log1p(np.maximum(np.asarray(service_scv, dtype=float), _SCV_FLOOR))
    return np.log(np.asarray(service_time_s, dtype=float)) - sigma2 / 2.0, np.sqrt(sigma2)


def service_exceedance(t_s, service_time_s, service_scv, family: str = "phase"):
    """``P(S > t)`` of the service model (``family``: module doc)."""
    _check_family(family)
    t = np.asarray(t_s, dtype=float)
    if family == "lognormal":
        mu, sigma = _lognormal(service_time_s, service_scv)
        with np.errstate(divide="ignore"):
            return _out(np.where(t > 0, special.ndtr((mu - np.log(np.maximum(t, 1e-300))) / sigma), 1.0))
    shift, q1, q2, nu1, nu2 = service_phases(service_time_s, service_scv)
    u = np.maximum(t - shift, 0.0)
    return _out(q1 * np.exp(-nu1 * u) + q2 * np.exp(-nu2 * u))


def service_quantile_s(p, service_time_s, service_scv, family: str = "phase"):
    """p-quantile of the service model (s): closed form for the lognormal and for Cs^2 <= 1,
    root-found otherwise."""
    _check_family(family)
    p, s, scv = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (p, service_time_s, service_scv)))
    if family == "lognormal":
        mu, sigma = _lognormal(s, scv)
        return _out(np.exp(mu + sigma * special.ndtri(p)))
    shift, *_, nu1, _ = service_phases(s, scv)
    closed = shift - np.log1p(-p) / nu1
    if np.all(np.maximum(scv, _SCV_FLOOR) <= 1.0):
        return _out(closed)
    hi = -np.log1p(-p) * s * np.maximum(scv, 1.0) * 2.0 + s
    res = elementwise.find_root(
        lambda t, p_, s_, v_: service_exceedance(t, s_, v_) - (1.0 - p_),
        (np.zeros_like(p), hi), args=(p, s, scv),
        tolerances={"xatol": 1e-12, "xrtol": 1e-12},
    )
    return _out(np.where(scv <= 1.0, closed, res.x))


def lognormal_plus_wait_exceedance(t_s, service_time_s, service_scv, wait_probability, wait_exceedance):
    """``P(W + B > t)`` for lognormal service ``B`` and an independent wait ``W`` that is 0 with
    probability ``1 - wait_probability``, else has exceedance ``wait_exceedance(x)`` (a callable
    broadcast over a trailing node axis of the inputs' shape).

    ``= P(B > t) + p * integral over ln b < ln t of P(W > t - b) * phi((ln b - mu)/sigma)/sigma``,
    by Gauss–Legendre on panels of ln b cut at the density's body and just below ln t (where the
    integrand peaks when waits are short).
    """
    t, s, scv, p = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in
                                         (t_s, service_time_s, service_scv, wait_probability)))
    mu, sigma = _lognormal(s, scv)
    top = np.log(np.maximum(t, 1e-300))
    low = np.minimum(mu - 9.0 * sigma, top - _PANEL_EDGES[0])
    cuts = [mu - 3.0 * sigma, mu + 3.0 * sigma] + [top - e for e in _PANEL_EDGES]
    edges = np.sort(np.stack([low, *(np.clip(c, low, top) for c in cuts), top], axis=-1), axis=-1)
    integral = np.zeros(t.shape)
    for lo, hi in zip(np.moveaxis(edges[..., :-1], -1, 0), np.moveaxis(edges[..., 1:], -1, 0), strict=True):
        half = (hi - lo) / 2.0
        z = lo[..., None] + half[..., None] * (_GL_NODES + 1.0)
        density = np.exp(-0.5 * ((z - mu[..., None]) / sigma[..., None]) ** 2) / (sigma[..., None] * math.sqrt(2 * math.pi))
        waits = wait_exceedance(np.maximum(t[..., None] - np.exp(z), 0.0))
        integral = integral + half * ((waits * density) @ _GL_WEIGHTS)
    value = np.asarray(service_exceedance(t, s, scv, "lognormal")) + p * integral
    return np.where(t > 0, np.minimum(value, 1.0), 1.0)


class MGcResponse:
    """Response time ``T = W + S`` of an M/G/c (G/G/c) queue at given loads, broadcast over inputs.

    Approximation (exact for M/M/c): ``P(W > 0)`` is Erlang C; given a wait, ``W`` is exponential
    with mean ``k/(c*mu - lambda)``, ``k = (Ca^2 + Cs^2)/2`` (Allen–Cunneen scaling, so
    ``E[W] = k*Wq(M/M/c)``); ``S`` follows this module's service model of ``family``, independent
    of ``W``. For the phase family ``P(T > t) = sum_j q_j * P(W + Exp(nu_j) > t - D)``, each term in
    closed form; for the lognormal, :func:`lognormal_plus_wait_exceedance`. Erlang C is computed
    once, at construction; unstable loads (``lambda >= c/S``) have ``T = inf``.
    """

    def __init__(self, arrival_rps, service_time_s, servers, service_scv=1.0, arrival_scv=1.0,
                 family: str = "phase") -> None:
        _check_family(family)
        _, s, _, wait_prob, theta = _rates(arrival_rps, service_time_s, servers)
        self.family = family
        self.service_time_s, self.service_scv = s, np.asarray(service_scv, dtype=float)
        self.stable = theta > 0
        self.wait_probability = wait_prob
        self.wait_rate = np.where(self.stable, theta, 1.0) / np.asarray(allen_cunneen_factor(arrival_scv, service_scv))
        self.shift, self.q1, self.q2, self.nu1, self.nu2 = service_phases(s, service_scv)
        self.mean_s = np.where(self.stable, s + wait_prob / self.wait_rate, np.inf)

    def exceedance(self, t_s) -> np.ndarray:
        """``P(T > t)``."""
        fields = (self.stable, self.wait_probability, self.wait_rate, self.shift, self.q1, self.q2,
                  self.nu1, self.nu2, self.service_time_s, self.service_scv)
        return _response_exceedance(np.asarray(t_s, dtype=float), self.family, *fields)

    def quantile(self, p) -> np.ndarray:
        """p-quantile (s), vectorised with scipy's elementwise ``find_root`` inside the bracket
        ``[0, D + ln(2C/(1-p))/rate + B_(1-(1-p)/2)]`` (union bound: ``P(W + B > a + b) <=
        P(W > a) + P(B > b)``)."""
        fields = (self.stable, self.wait_probability, self.wait_rate, self.shift, self.q1, self.q2,
                  self.nu1, self.nu2, self.service_time_s, self.service_scv)
        p, *terms = np.broadcast_arrays(np.asarray(p, dtype=float), *fields)
        shape = p.shape
        p, *terms = (a.ravel() for a in (p, *terms))
        stable, wait_prob, rate, _, _, _, _, _, s, scv = terms
        tail = 1.0 - p
        hi = (np.log(np.maximum(2.0 * wait_prob / tail, 1.0)) / rate
              + np.asarray(service_quantile_s(1.0 - tail / 2.0, s, scv, self.family)) + 1e-12)

        def excess(t, tail_, *fields_):
            return _response_exceedance(t, self.family, *fields_) - tail_

        res = elementwise.find_root(excess, (np.zeros_like(p), hi), args=(tail, *terms),
                                    tolerances={"xatol": 1e-12, "xrtol": 1e-10})
        return np.where(stable, res.x, np.inf).reshape(shape)


def _response_exceedance(t, family, stable, wait_prob, rate, shift, q1, q2, nu1, nu2, s, scv) -> np.ndarray:
    """``P(W + B > t)`` of :class:`MGcResponse` from its broadcast fields (1 where unstable)."""
    if family == "lognormal":
        rate_ = np.broadcast_to(rate, np.broadcast_shapes(np.shape(t), np.shape(rate)))[..., None]
        value = lognormal_plus_wait_exceedance(t, s, scv, wait_prob, lambda x: np.exp(-rate_ * x))
        return np.where(stable, value, 1.0)
    u = t - shift
    value = q1 * _wait_plus_exponential_exceedance(u, wait_prob, rate, nu1)
    value = value + q2 * _wait_plus_exponential_exceedance(u, wait_prob, rate, nu2)
    return np.where(stable & (u > 0), value, 1.0)


def mgc_response_exceedance(t_s, arrival_rps, service_time_s, servers, service_scv=1.0, arrival_scv=1.0,
                            family: str = "phase"):
    """Approximate ``P(T > t)`` of the M/G/c response time (see :class:`MGcResponse`; 1 when unstable)."""
    return _out(MGcResponse(arrival_rps, service_time_s, servers, service_scv, arrival_scv, family).exceedance(t_s))


def mgc_response_quantile_s(p, arrival_rps, service_time_s, servers, service_scv=1.0, arrival_scv=1.0,
                            family: str = "phase"):
    """p-quantile (s) of the M/G/c response time (see :class:`MGcResponse`); ``inf`` when unstable."""
    return _out(MGcResponse(arrival_rps, service_time_s, servers, service_scv, arrival_scv, family).quantile(p))


# --------------------------------------------------------------------------- caches (Che)


def zipf_popularity(n_items: int, exponent: float) -> np.ndarray:
    """Zipf(s) request probabilities ``p_i = i^-s / sum_j j^-s`` for items ranked 1..M."""
    if n_items < 1:
        raise ValueError(f"n_items must be >= 1, got {n_items!r}")
    weights = np.arange(1, n_items + 1, dtype=float) ** -float(exponent)
    return weights / weights.sum()


def _popularity(popularity) -> np.ndarray:
    p = np.asarray(popularity, dtype=float).ravel()
    if p.size == 0 or np.any(p < 0) or p.sum() <= 0:
        raise ValueError("popularity must be non-negative with a positive sum")
    return p[p > 0] / p.sum()


def che_characteristic_time(popularity, cache_size: float) -> float:
    """Che's characteristic time ``T`` (in requests) solving ``sum_i (1 - exp(-p_i*T)) = C``.

    ``inf`` when the cache holds every item with non-zero popularity; 0 for an empty cache.
    """
    p = _popularity(popularity)
    if cache_size >= p.size:
        return math.inf
    if cache_size <= 0:
        return 0.0
    hi = -2.0 * math.log1p(-cache_size / p.size) / p.min()  # every term > C/M there
    return brentq(lambda t: float(np.sum(-np.expm1(-p * t))) - cache_size, 0.0, hi, xtol=1e-12, rtol=1e-13)


def che_hit_ratio(popularity, cache_size: float) -> float:
    """LRU hit ratio by Che's approximation ``sum_i p_i (1 - exp(-p_i*T))`` (1 when C >= M)."""
    p = _popularity(popularity)
    t = che_characteristic_time(p, cache_size)
    if math.isinf(t):
        return 1.0
    return float(np.sum(p * -np.expm1(-p * t)))
