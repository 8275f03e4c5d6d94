"""Independent discrete-event simulations of one instance (c FIFO workers) for the fit tests.

Nothing here shares code with planner: closed loops (N users, think time, a fixed delay outside
the queue) and open Poisson arrivals, with exponential or lognormal service of a given CV.
"""

from __future__ import annotations

import heapq

import numpy as np

PCTS = (50, 90, 95, 99)


def _service(rng: np.random.Generator, mean_s: float, cv: float):
    if cv == 1.0:
        return lambda: rng.exponential(mean_s)
    sigma2 = np.log1p(cv * cv)
    return lambda: rng.lognormal(np.log(mean_s) - sigma2 / 2, np.sqrt(sigma2))


def _summary(latency_s: np.ndarray, duration_s: float) -> dict:
    ms = latency_s * 1000.0
    row = {"throughput_rps": latency_s.size / duration_s, "latency_mean_ms": float(ms.mean()),
           "request_count": float(latency_s.size)}
    row.update({f"latency_p{p}_ms": float(np.percentile(ms, p)) for p in PCTS})
    return row


def closed_step(users: int, servers: int, service_s: float, cv: float, *, delay_s: float = 0.001,
                think_s: float = 0.0, requests: int = 6000, seed: int = 0, station_only: bool = False) -> dict:
    """One closed-loop level: ``users`` cycle (delay/2 → queue → delay/2 → think). Latency is what the
    client sees (delay + station), or the station time alone with ``station_only``. The first 10%
    of requests are dropped as warm-up."""
    rng = np.random.default_rng(seed)
    draw = _service(rng, service_s, cv)
    events = [(rng.uniform(0, service_s), 0, u) for u in range(users)]
    heapq.heapify(events)
    free, waiting, sent, arrived, done = servers, [], {}, {}, []
    while len(done) < requests:
        t, kind, u = heapq.heappop(events)
        if kind == 0:  # reaches the station
            arrived[u] = t
            sent.setdefault(u, t - delay_s / 2)
            if free:
                free -= 1
                heapq.heappush(events, (t + draw(), 1, u))
            else:
                waiting.append(u)
        elif kind == 1:  # service ends
            if waiting:
                heapq.heappush(events, (t + draw(), 1, waiting.pop(0)))
            else:
                free += 1
            done.append((t + delay_s / 2, (t - arrived[u]) if station_only else (t + delay_s / 2 - sent.pop(u))))
            heapq.heappush(events, (t + delay_s + think_s, 0, u))
    times = np.array(done[len(done) // 10:])
    return {"concurrency": float(users), **_summary(times[:, 1], times[-1, 0] - times[0, 0])}


def open_step(rate_rps: float, servers: int, service_s: float, cv: float, *, delay_s: float = 0.001,
              requests: int = 60000, seed: int = 0) -> dict:
    """Poisson arrivals at ``rate_rps`` to c FIFO workers (first 10% dropped as warm-up)."""
    rng = np.random.default_rng(seed)
    draw = _service(rng, service_s, cv)
    t, free_at, latency = 0.0, np.zeros(servers), np.empty(requests)
    for i in range(requests):
        t += rng.exponential(1.0 / rate_rps)
        k = int(np.argmin(free_at))
        free_at[k] = max(t, free_at[k]) + draw()
        latency[i] = free_at[k] - t + delay_s
    return _summary(latency[requests // 10:], t * 0.9) | {"throughput_rps": rate_rps}
