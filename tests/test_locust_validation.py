"""Locust CSVs that parse but cannot be true: decreasing percentiles are refused; a run where every request
failed is kept with a note and rejected by `recommend` with that reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import InputError
from planner.ingest import locust
from planner.store import RunStore

PERCENTILES = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")
HEAD = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
        "Max Response Time,Average Content Size,Requests/s,Failures/s,")


def _stats(tmp_path, headers: list[str], values: list[int]):
    row = "10,0,50,51.5,1,9000,100,2.5,0," + ",".join(map(str, values))
    path = tmp_path / "p_stats.csv"
    path.write_text(f"{HEAD}{','.join(headers)}\nGET,/x,{row}\n,Aggregated,{row}\n")
    return path


sorted_latencies = st.lists(st.integers(0, 9000), min_size=len(PERCENTILES), max_size=len(PERCENTILES)).map(sorted)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=sorted_latencies, order=st.permutations(range(len(PERCENTILES))), swap=st.data())
def test_percentiles_in_any_column_order_must_not_decrease(tmp_path, values, order, swap):
    headers = [PERCENTILES[i] for i in order]
    cells = [values[i] for i in order]
    (run,) = locust.parse([_stats(tmp_path, headers, cells)], "locust-stats")  # consistent: accepted
    assert run.tables["requests"]["latency_p99_ms"].tolist() == [values[7]] * 2
    i, j = sorted(swap.draw(st.sets(st.integers(0, len(PERCENTILES) - 1), min_size=2, max_size=2)))
    if values[i] == values[j]:
        return  # swapping equal values changes nothing
    swapped = dict(zip(PERCENTILES, values, strict=True)) | {PERCENTILES[i]: values[j], PERCENTILES[j]: values[i]}
    with pytest.raises(InputError, match=r"p_stats\.csv: row 1, columns '[\d.]+%' and '[\d.]+%': expected percentiles "
                                         r"that do not decrease"):
        locust.parse([_stats(tmp_path, headers, [swapped[h] for h in headers])], "locust-stats")


STATS_ALL_403 = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
                 "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,90%,99%,100%\n"
                 "POST,/invocations,{n},{n},3,3.2,1,20,9,40.0,40.0,3,4,9,20\n"
                 ",Aggregated,{n},{n},3,3.2,1,20,9,40.0,40.0,3,4,9,20\n")
HISTORY_HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,90%,99%,100%,Total Request Count,"
                  "Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,"
                  "Total Max Response Time,Total Average Content Size")


def _all_forbidden(tmp_path):
    """A real-shaped Locust CSV set of a 90 s staircase (2, 4, 8 users) where every request got a 403."""
    rows, total = [], 0
    for second in range(90):
        users = (2, 4, 8)[second // 30]
        total += 20 * users
        rows.append(f"{1700000000 + second},{users},,Aggregated,{20.0 * users},{20.0 * users},3,4,9,20,{total},"
                    f"{total},3,3.2,1,20,9")
    (tmp_path / "forbidden_stats_history.csv").write_text(HISTORY_HEADER + "\n" + "\n".join(rows) + "\n")
    (tmp_path / "forbidden_stats.csv").write_text(STATS_ALL_403.format(n=total))
    return tmp_path / "forbidden"


def test_a_run_where_every_request_failed_is_kept_noted_and_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_CACHE_DIR", "off")
    store = tmp_path / "store"
    prefix = _all_forbidden(tmp_path)
    ingested = CliRunner().invoke(app, ["ingest", str(prefix), "--store", str(store), "--instance-type",
                                        "ml.m5.large", "--json"])
    assert ingested.exit_code == 0, ingested.output
    (record,) = RunStore(store).records()
    assert record.run["notes"]["all_requests_failed"].startswith("every request failed")
    result = CliRunner().invoke(app, ["recommend", "--store", str(store), "--target-tps", "100", "--p99", "200ms",
                                      "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and not data["options"]
    (rejected,) = data["rejected"]
    assert rejected["instance_type"] == "ml.m5.large" and rejected["reason"].startswith("every request failed")


def test_a_run_with_some_successes_has_no_such_note(tmp_path):
    prefix = _all_forbidden(tmp_path)
    stats = prefix.with_name("forbidden_stats.csv")
    stats.write_text(stats.read_text().replace(",Aggregated,8400,8400,", ",Aggregated,8400,8399,"))
    (run,) = locust.parse_set([stats], {stats: "locust-stats"})
    assert "all_requests_failed" not in run.notes


def test_a_history_cut_short_at_zero_users_with_requests_counted_is_kept(tmp_path):
    """Locust killed seconds after start (`collect --kill-after`): one history row, written before the users
    spawned, but requests were counted: a short run, not a test that never started."""
    path = tmp_path / "cut_stats_history.csv"
    path.write_text(f"{HISTORY_HEADER}\n1700000000,0,,Aggregated,0,0,3,4,9,20,57,0,3,3.2,1,20,9\n")
    (run,) = locust.parse([path], "locust-history")
    assert run.tables["history"]["total_request_count"].tolist() == [57]


def test_an_empty_first_history_row_is_kept_when_the_stats_counted_requests(tmp_path):
    """The same, killed even earlier: the one history row has no request yet, the stats file counted some."""
    history = tmp_path / "early_stats_history.csv"
    history.write_text(f"{HISTORY_HEADER}\n1700000000,0,,Aggregated,0,0,N/A,N/A,N/A,N/A,0,0,0,0,0,0,0\n")
    stats = tmp_path / "early_stats.csv"
    stats.write_text(STATS_ALL_403.format(n=57).replace(",57,57,", ",57,0,"))
    (run,) = locust.parse_set([stats, history], {stats: "locust-stats", history: "locust-history"})
    assert run.tables["requests"]["request_count"].tolist() == [57, 57] and len(run.tables["history"]) == 1
    history.with_name("idle_stats.csv").write_text(STATS_ALL_403.format(n=0))
    with pytest.raises(InputError, match="no load: User Count is 0 in every row"):
        idle = [history.with_name("idle_stats.csv"), history.rename(tmp_path / "idle_stats_history.csv")]
        locust.parse_set(idle, {idle[0]: "locust-stats", idle[1]: "locust-history"})
