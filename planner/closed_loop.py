"""Pure formulas of a closed load loop: N users cycling between one c-server station and a delay.

A Locust user (or a perf_analyzer concurrency slot) sends a request, waits for the answer, thinks for
``Z`` seconds and sends the next one. Each request spends a fixed delay ``D`` outside the queue
(network, serialisation: occupies no worker) and queues for one of ``c`` workers of mean service
time ``S``. This is the machine-repairman model (M/M/c//N): one load-dependent station of rate
``min(j, c)/S`` and an infinite-server delay of mean ``Z + D``. Its stationary distribution has the
product form

    P_N(j) ∝ (Z + D)^(N−j) / (N−j)! · S^j / Π_{i=1..j} min(i, c)

computed here in log space: the distribution exact Mean Value Analysis of a load-dependent station
produces, without MVA's cancellation in ``P(0)`` at high load. From it, exactly (for exponential
service; the delay is insensitive to its distribution): throughput ``X = E[min(j, c)]/S``, mean
station time ``E[j]/X`` (Little), and, by the arrival theorem (an arrival sees ``P_{N−1}``), the
probability of waiting and the moments of the wait: ``k = j − c + 1`` completions at rate ``c/S``.

Non-exponential service (SCV ``Cs^2``) is an approximation: the means are kept (a saturated closed
loop has ``R = N·S/c − Z`` whatever the distribution); ``k`` completions of ``c`` busy workers take
``k·S/c`` on average with variance ``k·Cs^2·(S/c)^2`` (the long-run variability of c renewal streams;
exact for one worker). The response time is then
``D + W + B``: ``W`` zero or a gamma with the wait's two moments, ``B`` the service model of
:mod:`planner.queueing` (either family).

Units: times in seconds, rates in 1/s; functions broadcast over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.optimize import elementwise

from planner.queueing import (
    lognormal_plus_wait_exceedance,
    service_exceedance,
    service_phases,
    service_quantile_s,
)

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
_UNIT_NODES, _UNIT_WEIGHTS = (_NODES + 1.0) / 2.0, _WEIGHTS / 2.0  # Gauss–Legendre on [0, 1]


def station_distribution(users, service_time_s, servers, delay_s) -> np.ndarray:
    """``P_N(j)`` for ``j = 0..max(users)`` (trailing axis; 0 beyond ``N``), broadcast over the inputs.

    ``users`` are integers >= 0; ``delay_s`` = think time + fixed delay (s), >= 0.
    """
    n, s, c, z = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (users, service_time_s, servers, delay_s)))
    j = np.arange(int(n.max(initial=0)) + 1, dtype=float)
    n, s, c, z = (x[..., None] for x in (n, s, c, z))
    away = n - j
    with np.errstate(divide="ignore", invalid="ignore"):
        at_delay = np.where(away > 0, away * np.log(z), 0.0) - special.gammaln(np.maximum(away, 0.0) + 1.0)
        at_station = j * np.log(s) - special.gammaln(np.minimum(j, c) + 1.0) - np.maximum(j - c, 0.0) * np.log(c)
    log_w = np.where(away >= 0, at_delay + at_station, -np.inf)
    log_w = np.where(np.isnan(log_w), -np.inf, log_w)
    return np.exp(log_w - special.logsumexp(log_w, axis=-1, keepdims=True))


@dataclass(frozen=True)
class ClosedLoop:
    """A closed loop at ``users`` (integer) users: throughput, mean station time (wait + service), and
    what an arrival meets — probability of waiting and the mean and variance of a wait (s, s²)."""

    throughput_rps: np.ndarray
    station_mean_s: np.ndarray
    wait_probability: np.ndarray
    wait_mean_s: np.ndarray
    wait_var_s2: np.ndarray

    @classmethod
    def solve(cls, users, service_time_s, servers, delay_s, service_scv=1.0) -> ClosedLoop:
        """Exact for exponential service; ``service_scv`` only sets the wait's variance (module doc)."""
        users = np.asarray(users, dtype=float)
        s = np.asarray(service_time_s, dtype=float)
        c = np.asarray(servers, dtype=float)
        here = station_distribution(users, s, c, delay_s)
        seen = station_distribution(np.maximum(users - 1.0, 0.0), s, c, delay_s)
        j = np.arange(here.shape[-1], dtype=float)
        busy = (here * np.minimum(j, c[..., None] if c.ndim else c)).sum(axis=-1)
        throughput = busy / s
        with np.errstate(divide="ignore", invalid="ignore"):
            station = (here * j).sum(axis=-1) / throughput
        j_seen = np.arange(seen.shape[-1], dtype=float)
        k = np.maximum(j_seen - (c[..., None] if c.ndim else c) + 1.0, 0.0)
        wait_prob = (seen * (k > 0)).sum(axis=-1)
        gap = s / c
        with np.errstate(divide="ignore", invalid="ignore"):
            k1 = np.where(wait_prob > 0, (seen * k).sum(axis=-1) / wait_prob, 0.0)
            k2 = np.where(wait_prob > 0, (seen * k * k).sum(axis=-1) / wait_prob, 0.0)
        wait_mean = k1 * gap
        wait_var = (np.maximum(k2 - k1 * k1, 0.0) + k1 * np.asarray(service_scv, dtype=float)) * gap * gap
        return cls(throughput, np.where(users > 0, station, np.nan), wait_prob, wait_mean, wait_var)

    def exceedance(self, t_s, service_time_s, service_scv, family: str = "phase") -> np.ndarray:
        """``P(W + B > t)``: the station time's tail (add the fixed delay outside).

        Phase family, with ``B = shift + E`` (``E`` exponential phase j, weight ``q_j``, rate ``ν_j``)
        and ``a = t − shift``: ``P(W + B > t) = Σ_j q_j [e^(−ν_j a) + ∫_0^{F_j(a)} P(W > a − F_j⁻¹(u)) du]``,
        the integral by Gauss–Legendre in ``u`` (smooth: the gamma tail of ``W``). Lognormal family:
        :func:`planner.queueing.lognormal_plus_wait_exceedance` with the gamma tail."""
        shape, scale = self._gamma()
        t, s, scv, shape, scale, p = np.broadcast_arrays(
            *(np.asarray(x, dtype=float) for x in (t_s, service_time_s, service_scv, shape, scale,
                                                   self.wait_probability)))
        if family == "lognormal":
            return lognormal_plus_wait_exceedance(
                t, s, scv, p, lambda x: special.gammaincc(shape[..., None], x / scale[..., None]))
        value = np.asarray(service_exceedance(t, s, scv), dtype=float).copy()
        waits = p > 0
        if waits.any():
            t, s, scv, shape, scale, p = (x[waits] for x in (t, s, scv, shape, scale, p))
            shift, q1, q2, nu1, nu2 = service_phases(s, scv)
            a = np.maximum(t - shift, 0.0)
            with_wait = 0.0
            for q, nu in ((q1, nu1), (q2, nu2)):
                reach = -np.expm1(-nu * a)
                e = -np.log1p(-np.minimum(reach[:, None] * _UNIT_NODES, 1.0 - 1e-16)) / nu[:, None]
                tail = special.gammaincc(shape[:, None], np.maximum(a[:, None] - e, 0.0) / scale[:, None])
                with_wait = with_wait + q * ((1.0 - reach) + reach * (tail @ _UNIT_WEIGHTS))
            value[waits] = (1.0 - p) * value[waits] + p * with_wait
        return value

    def _gamma(self) -> tuple[np.ndarray, np.ndarray]:
        """Shape and scale (s) of the gamma with the wait's mean and variance (inert where no wait)."""
        mean = np.where(self.wait_mean_s > 0, self.wait_mean_s, 1.0)
        var = np.where(self.wait_var_s2 > 0, self.wait_var_s2, mean * mean)
        return mean * mean / var, var / mean

    def quantile_s(self, p, service_time_s, service_scv, family: str = "phase") -> np.ndarray:
        """p-quantile (s) of the station time, root-found on :meth:`exceedance`."""
        p, s, scv, wait_mean, wait_var, wait_prob = np.broadcast_arrays(
            *(np.asarray(x, dtype=float) for x in (p, service_time_s, service_scv, self.wait_mean_s,
                                                   self.wait_var_s2, self.wait_probability)))
        hi = service_quantile_s(p, s, scv, family) + wait_mean + 12.0 * np.sqrt(wait_var) + 1e-9

        def excess(t, p_, s_, scv_, m_, v_, w_):
            one = ClosedLoop(np.nan, np.nan, w_, m_, v_)
            return one.exceedance(t, s_, scv_, family) - (1.0 - p_)

        res = elementwise.find_root(excess, (np.zeros_like(p), hi), args=(p, s, scv, wait_mean, wait_var, wait_prob),
                                    tolerances={"xatol": 1e-9, "xrtol": 1e-9})
        return res.x
