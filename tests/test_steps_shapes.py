"""Steps from every Locust run shape: a continuous ramp, short staircase holds, a restarted master.

Histories are generated second by second from known per-second requests and latencies, the way Locust
2.x writes them with ``--csv-full-history``: one Aggregated row per second, cumulative ``Total *``
counters, and percentiles over the 10 s window ending at the row. So every expected value is
computed from the generating seconds, never from the code under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.collect.load import hold_warning, parse_shape
from planner.collection import ingest
from planner.errors import InputError
from planner.ingest.locust.runs import _Resets
from planner.steps import StepRules, for_run, from_history
from planner.store import RunStore
from tests.synth import HEADER

START_S = 1_700_000_000
WINDOW_S = 10


@dataclass(frozen=True)
class Seconds:
    """The generating load: per second, users, requests and their latency (ms); ``restarts``: seconds at
    which the master restarted (its counters start again from that second)."""

    users: np.ndarray
    requests: np.ndarray
    latency_ms: np.ndarray
    restarts: frozenset[int] = frozenset()

    @classmethod
    def of(cls, levels: list[tuple[int, int, int, float]], restarts=()) -> Seconds:
        """From (users, seconds, requests per second, latency ms) levels; a restart the counter cannot show
        (it does not go backwards: fewer requests before it than in its first second) is left out."""
        rep = [lv[1] for lv in levels]
        requests = np.repeat([lv[2] for lv in levels], rep)
        visible, count = set(), 0
        for i, n in enumerate(requests):
            restarted = i in restarts and n < count
            visible |= {i} if restarted else set()
            count = n if restarted else count + n
        return cls(np.repeat([lv[0] for lv in levels], rep), requests,
                   np.repeat([float(lv[3]) for lv in levels], rep), frozenset(visible))

    def segment(self) -> np.ndarray:
        return np.cumsum([i in self.restarts for i in range(len(self.users))])

    def times(self) -> pd.Series:
        return pd.Series(pd.to_datetime(START_S + 1 + np.arange(len(self.users)), unit="s", utc=True))

    def in_window(self, ended_at: pd.Timestamp, duration_s: float) -> np.ndarray:
        """Which seconds a step ending at ``ended_at`` and lasting ``duration_s`` covers."""
        t = self.times()
        return ((t > ended_at - pd.Timedelta(seconds=duration_s)) & (t <= ended_at)).to_numpy()

    def history(self) -> pd.DataFrame:
        """The canonical history frame Locust's CSV ingests to."""
        seg = self.segment()
        count = np.zeros(len(self.users), dtype=np.int64)
        total_ms = np.zeros(len(self.users))
        for s in np.unique(seg):
            part = seg == s
            count[part] = np.cumsum(self.requests[part])
            total_ms[part] = np.cumsum(self.requests[part] * self.latency_ms[part])
        frame = pd.DataFrame({
            "row": np.arange(len(self.users)), "timestamp": self.times(), "user_count": self.users,
            "request_type": "", "name": "Aggregated", "is_aggregate": True,
            "total_request_count": count, "total_failure_count": 0,
            "total_latency_mean_ms": np.divide(total_ms, count, out=np.zeros(len(count)), where=count > 0),
            "total_latency_max_ms": np.maximum.accumulate(np.where(self.requests > 0, self.latency_ms, 0.0)),
        })
        for pct in (50, 99, 100):
            frame[f"latency_p{pct}_ms"] = [self.window_percentile(i, pct) for i in range(len(self.users))]
        return frame

    def window_percentile(self, i: int, pct: float) -> float:
        """Locust's percentile over the requests of the 10 s ending at second ``i``."""
        lo = max(0, i - WINDOW_S + 1)
        values = np.sort(np.repeat(self.latency_ms[lo:i + 1], self.requests[lo:i + 1]))
        return float(values[min(len(values) - 1, int(len(values) * pct / 100))]) if len(values) else np.nan

    def write_csv(self, path) -> None:
        """The history as Locust 2.x writes it (``_stats_history.csv``)."""
        h = self.history()
        columns = {"Timestamp": START_S + 1 + h["row"], "User Count": h["user_count"], "Type": "",
                   "Name": "Aggregated", "Requests/s": 0.0, "Failures/s": 0.0,
                   **{p: h["latency_p50_ms"] if p == "50%" else h["latency_p99_ms"] if p == "99%" else
                      h["latency_p100_ms"] for p in HEADER[6:17]},
                   "Total Request Count": h["total_request_count"], "Total Failure Count": 0,
                   "Total Median Response Time": h["latency_p50_ms"],
                   "Total Average Response Time": h["total_latency_mean_ms"], "Total Min Response Time": 1.0,
                   "Total Max Response Time": h["total_latency_max_ms"], "Total Average Content Size": 10.0}
        pd.DataFrame(columns)[HEADER].fillna("N/A").to_csv(path, index=False)


def _expected(load: Seconds, step: pd.Series) -> tuple[float, float, float]:
    """(requests, time-weighted mean users, mean latency ms) of the seconds a step covers; a second in which
    the user count changed counts at the mid-point of the two rows' counts (a row is a snapshot: Locust
    spawned somewhere inside that second)."""
    covered = load.in_window(step["ended_at"], step["duration_s"])
    n = load.requests[covered]
    before = np.concatenate([[load.users[0]], load.users[:-1]])
    users = np.where(before == load.users, load.users, (before + load.users) / 2)[covered]
    return float(n.sum()), float(users.mean()), float((n * load.latency_ms[covered]).sum() / n.sum())


def _ramp_then_hold() -> Seconds:
    """``locust -u 60 -r 1`` against 20 workers of 50 ms (saturating at 400 rps from 20 users): users +1
    per second to 60, held 60 s."""
    users = np.concatenate([np.arange(1, 61), np.full(60, 60)])
    latency_ms = np.maximum(50.0, users * 2.5)
    return Seconds(users, np.round(users * 1000 / latency_ms).astype(np.int64), latency_ms)


def test_a_ramp_is_binned_and_its_hold_is_one_level():
    load = _ramp_then_hold()
    steps = from_history(load.history(), "window")
    ramp, hold = steps.iloc[:-1], steps.iloc[-1]
    assert ramp["levels_merged"].sum() == 59, "every ramp level (1..59 users; 60 is the hold) is in a bin"
    full = ramp[~ramp["too_short"]]
    assert len(full) >= len(ramp) - 1, "at most the bin next to the hold falls short"
    assert (full["request_count"] >= 200).all() and (full["duration_s"] >= 5).all()
    for _, step in ramp.iterrows():
        requests, users, mean_ms = _expected(load, step)
        assert step["request_count"] == requests
        assert step["throughput_rps"] == pytest.approx(requests / step["duration_s"], rel=1e-12)
        assert step["concurrency"] == pytest.approx(users, rel=1e-12)
        assert step["latency_mean_ms"] == pytest.approx(mean_ms, rel=1e-9)
        assert not step["warmup_trimmed"], "a ramp bin is never trimmed"
    assert ramp["concurrency"].is_monotonic_increasing
    assert hold["levels_merged"] == 1 and hold["concurrency"] == 60 and hold["warmup_trimmed"]
    assert not hold["too_short"] and not hold["no_clean_percentiles"]
    assert hold["throughput_rps"] == 400 and hold["latency_mean_ms"] == pytest.approx(150)
    assert hold["latency_p50_ms"] == 150 and hold["latency_p99_ms"] == 150


@pytest.mark.parametrize("hold_s, trimmed_window", [(9, None), (10, False), (11, False), (12, True), (15, True)])
def test_a_staircase_of_short_holds_gives_one_step_per_level(hold_s, trimmed_window):
    levels = [(u, hold_s, 10 * u, 20.0 + u) for u in (10, 20, 30, 40, 50)]
    steps = from_history(Seconds.of([(5, 30, 50, 24.0), *levels]).history(), "window").iloc[1:]
    assert steps["concurrency"].tolist() == [10, 20, 30, 40, 50]
    assert (steps["levels_merged"] == 1).all() and not steps["too_short"].any()
    assert steps["throughput_rps"].tolist() == [100, 200, 300, 400, 500]
    assert steps["latency_mean_ms"].tolist() == pytest.approx([30, 40, 50, 60, 70])
    assert steps["no_clean_percentiles"].tolist() == [trimmed_window is None] * 5
    if trimmed_window is None:  # a 9 s hold has no row whose 10 s window lies inside the level
        assert steps["latency_p50_ms"].isna().all() and steps["latency_p99_ms"].isna().all()
    else:  # every window counted is inside its level: the level's own latency
        assert steps["latency_p50_ms"].tolist() == [30, 40, 50, 60, 70]
        assert steps["latency_p99_ms"].tolist() == [30, 40, 50, 60, 70]
        # 10-11 s: only windows that take in the level's trimmed transition, said by a flag
        assert steps["percentile_window_untrimmed"].tolist() == [not trimmed_window] * 5


def test_the_trim_grows_with_the_response_time():
    # a loop settling for 4 s at another rate: with 1 s responses 5 response times (5 s) are trimmed,
    # with 100 ms ones the default 2 s, which leaves part of the transition in
    levels = [(10, 30, 10), (20, 4, 50), (20, 30, 20)]
    slow = from_history(Seconds.of([(*lv, 1000.0) for lv in levels]).history(), "window")
    fast = from_history(Seconds.of([(*lv, 100.0) for lv in levels]).history(), "window")
    assert slow["throughput_rps"].iloc[1] == 20
    assert fast["throughput_rps"].iloc[1] == (2 * 50 + 30 * 20) / 32


def test_a_restarted_master_splits_the_run(tmp_path):
    load = Seconds.of([(20, 60, 100, 40.0), (40, 60, 150, 60.0)], restarts={30, 90})
    load.write_csv(tmp_path / "r_stats_history.csv")
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [tmp_path / "r_stats_history.csv"])
    assert store.get(run.run_id).run["notes"]["counter_resets"] == 2
    steps = for_run(store, run.run_id)
    assert steps["segment"].tolist() == [0, 1, 1, 2]
    assert steps["concurrency"].tolist() == [20, 20, 40, 40]
    assert steps["throughput_rps"].tolist() == [100, 100, 150, 150], "exact in every segment"
    assert steps["latency_mean_ms"].tolist() == pytest.approx([40, 40, 60, 60])
    assert (steps["arrivals"] == "closed").all()


def test_a_reset_is_counted_across_stream_batches():
    """A large history is streamed in batches: a reset at a batch boundary, and per-name rows, count right."""
    import pyarrow as pa

    resets = _Resets()
    for counts, aggregate in (([5, 9, 12], [True, True, True]), ([3, 1, 8], [True, False, True])):
        resets.update(pa.RecordBatch.from_pydict({"is_aggregate": aggregate, "total_request_count": counts}))
    notes: dict = {}
    resets.note(notes)
    assert notes == {"counter_resets": 1}, "12 -> 3 across the batches; the 1 is a per-name row's count"


def test_a_run_labelled_open_has_open_arrivals(tmp_path):
    Seconds.of([(20, 60, 100, 40.0)]).write_csv(tmp_path / "o_stats_history.csv")
    store = RunStore(tmp_path / "store")
    (run,) = ingest(store, [tmp_path / "o_stats_history.csv"], labels={"arrivals": "open"})
    steps = for_run(store, run.run_id)
    assert steps["arrivals"].tolist() == ["open"]
    assert steps["offered_users"].tolist() == [20] and steps["concurrency"].iloc[0] == pytest.approx(100 * 0.04)
    assert "counter_resets" not in store.get(run.run_id).run["notes"]


_level = st.tuples(st.integers(1, 100), st.integers(1, 25), st.integers(0, 300), st.floats(1.0, 3000.0))


@given(st.lists(_level, min_size=1, max_size=12), st.sets(st.integers(1, 200), max_size=3),
       st.sampled_from([StepRules(), StepRules(trim_s=0, min_duration_s=1, min_requests=1),
                        StepRules(trim_s=10, min_duration_s=20, min_requests=1000)]))
@settings(max_examples=150, deadline=None)
def test_steps_never_count_a_request_twice_and_are_exact(levels, restarts, rules):
    load = Seconds.of(levels, restarts)
    steps = from_history(load.history(), "window", rules)
    seg = load.segment()
    covered = np.zeros(len(load.users), dtype=int)
    for _, step in steps.iterrows():
        window = load.in_window(step["ended_at"], step["duration_s"])
        covered += window
        assert set(seg[window]) <= {step["segment"]}, "no step spans a counter reset"
        assert step["request_count"] == load.requests[window].sum(), "Δcount of its own window"
        if step["duration_s"] > 0:
            assert step["throughput_rps"] == step["request_count"] / step["duration_s"]
        if step["request_count"] > 0:
            n = load.requests[window]
            mean_ms = (n * load.latency_ms[window]).sum() / n.sum()
            assert step["latency_mean_ms"] == pytest.approx(mean_ms, rel=1e-6), "Δ(mean·count)/Δcount"
    assert covered.max(initial=0) <= 1, "windows never overlap"
    for s in np.unique(seg):
        total = load.requests[seg == s].sum()
        assert steps.loc[steps["segment"] == s, "request_count"].sum() <= total
    assert steps["levels_merged"].sum() <= len(levels) + len(load.restarts)


def test_the_step_rules_are_options_of_the_commands_that_fit(tmp_path):
    _ramp_then_hold().write_csv(tmp_path / "ramp_stats_history.csv")
    store = tmp_path / "store"
    ingest(RunStore(store), [tmp_path / "ramp_stats_history.csv"], meta={"instance_type": "ml.m5.xlarge"})

    def n_steps(*options: str) -> int:
        result = CliRunner().invoke(app, ["fit", "--json", "--store", str(store), *options])
        assert result.exit_code == 0, result.output
        (config,) = json.loads(result.output)["configs"] + json.loads(result.output)["unfitted"]
        return config["n_steps"]

    assert n_steps() == 13, "12 ramp bins of 5 s and the hold"
    assert n_steps("--min-step-s", "8", "--min-step-requests", "200") == 9, "7 ramp bins of 8 s, 3 s left, the hold"
    # untrimmed, each 1 s ramp level is a step (the first, the run's first row, with no time: too short)
    assert n_steps("--trim-s", "0", "--min-step-s", "0.5", "--min-step-requests", "1") == 60
    # the default 2 s trim is longer than those levels: the first two (1 s, 40 requests) make one bin
    assert n_steps("--min-step-s", "0.5", "--min-step-requests", "1") == 59
    for command in (["fit"], ["recommend"], ["serverless"], ["mme"], ["autoscale"], ["export", "costs"]):
        shown = CliRunner().invoke(app, [*command, "--help"], terminal_width=200).output
        assert all(option in shown for option in ("--trim-s", "--min-step-s", "--min-step-requests")), command


@pytest.mark.parametrize("hold_s", range(8, 17))
def test_collect_warns_exactly_when_the_holds_give_no_clean_percentile(hold_s):
    """No percentile below 10 s holds; 10-11 s only from windows taking in the level's transition."""
    shape = parse_shape(f"stairs:users=10,20,30,warmup=30s,hold={hold_s}s")
    warning = hold_warning(shape)
    levels = [(10, 30, 100, 25.0), (20, hold_s, 200, 40.0), (30, hold_s, 300, 55.0)]
    held = from_history(Seconds.of(levels).history(), "window").iloc[1:]
    assert held["no_clean_percentiles"].all() == held["no_clean_percentiles"].any() == (hold_s < 10)
    untrimmed = held["percentile_window_untrimmed"].all()
    assert (warning is not None) == (hold_s < 12) == (held["no_clean_percentiles"].all() or untrimmed)
    if hold_s < 10:
        assert "give no percentiles: percentiles need holds >= 10 s; use hold=15s or more" in warning
    elif warning:
        assert "percentiles only from windows that include each level's transition" in warning
        assert "use hold=15s or more" in warning


def test_collect_refuses_an_open_loop_hold_that_cannot_give_the_minimum_requests(tmp_path):
    assert hold_warning(parse_shape("rate:rps=30,60,hold=10s")) is not None  # 30 rps x 8 s = 240: a warning
    with pytest.raises(InputError, match=r"20 rps x 8 s = 160"):
        hold_warning(parse_shape("rate:rps=20,40,hold=10s"))
    result = CliRunner().invoke(app, ["collect", "http://127.0.0.1:9/", "--shape", "rate:rps=20,40,hold=10s",
                                      "--store", str(tmp_path / "s")])
    shown = " ".join(result.output.replace("│", " ").split())  # one line, out of rich's error box
    assert result.exit_code == 2 and ">= 200 requests per level after the 2 s trim, found 20 rps x 8 s" in shown
    assert not (tmp_path / "s").exists(), "nothing written"


def test_the_command_line_defaults_are_the_step_rules_defaults():
    from planner.cli.common import _STEP_RULE_OPTIONS

    assert {field: default for _, _, field, _, default, _ in _STEP_RULE_OPTIONS} == {
        "trim_s": StepRules().trim_s, "min_duration_s": StepRules().min_duration_s,
        "min_requests": StepRules().min_requests}


def test_why_unfittable_names_zero_load_total_failure_and_short_steps_under_the_rules():
    from planner.steps import StepRules, why_unfittable

    def steps(rps, errors, short):
        return pd.DataFrame({"throughput_rps": rps, "error_rate": errors, "too_short": short})

    assert why_unfittable(pd.DataFrame()).startswith("zero load")
    assert why_unfittable(steps([0.0, 0.0], [0.0, 0.0], [False, False])).startswith("zero load")
    assert why_unfittable(steps([5.0, 9.0], [1.0, 1.0], [False, False])).startswith("100% failures")
    short = why_unfittable(steps([5.0, 9.0], [0.0, 0.0], [True, True]), StepRules(min_duration_s=7.5, min_requests=90))
    assert short.startswith("all 2 step(s) too short") and "7.5 s and 90 requests" in short
    assert why_unfittable(steps([5.0, 9.0], [0.0, 1.0], [True, False])) is None


@pytest.mark.parametrize("spawn_rate", [0.2, 0.25, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("users", [2, 4, 6, 9, 12, 16, 24])
def test_collect_warns_exactly_when_a_ramp_gives_fewer_than_three_levels(users, spawn_rate):
    """``ramp:users=N,spawn-rate=R``: a warning exactly when the steps of such a ramp (each user 100 rps,
    enough for any bin) have fewer than three steady levels, the hold included."""
    shape = parse_shape(f"ramp:users={users},spawn-rate={spawn_rate:g},hold=30s")
    per_user_s = np.arange(1, users) / spawn_rate  # when each further user starts
    second = np.arange(int(round(per_user_s[-1])) + 30)
    crowd = np.minimum(users, 1 + np.searchsorted(per_user_s, second, side="right"))
    steps = from_history(Seconds(crowd, crowd * 100, np.full(len(crowd), 10.0)).history(), "window")
    steady = int((~steps["too_short"]).sum())
    warning = hold_warning(shape)
    assert (warning is not None) == (steady < 3), (steady, warning)
    if warning:
        assert "fewer than the 3 load levels a latency fit needs" in warning
