"""Locust parser: real public files, bad input, percentile semantics, streaming."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import schema
from planner.errors import InputError
from planner.ingest import locust

STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%"
)
STATS_ROW = "GET,/x,10,0,50,51.5,40,80,100,2.5,0,50,51,52,53,60,70,75,80,80,80,80"
AGG_ROW = ",Aggregated,10,0,50,51.5,40,80,100,2.5,0,50,51,52,53,60,70,75,80,80,80,80"
HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)
HISTORY_ROW = "1700000000,10,,Aggregated,5,0,50,51,52,53,60,70,75,80,80,80,80,10,0,50,51.5,40,80,100"
STATS_OLD = (  # Locust 0.x _requests.csv: quoted header, "None","Total" total row, no percentiles
    '"Method","Name","# requests","# failures","Median response time","Average response time",'
    '"Min response time","Max response time","Average Content Size","Requests/s"\n'
    '"GET","/",51,0,4,3,2,6,12274,0.89\n"GET","/missing",0,56,0,0,0,0,0,0.00\n'
    '"None","Total",51,56,4,3,2,6,12274,0.89\n'
)

DATASET_FORMATS = {
    "CDLUC3_mrt-locust__sample.md__locust_json_output.json": "locust-json",
    "CDLUC3_mrt-locust__sample.md__stats_table_as_csv.csv": "locust-stats",
    "instarwxp_llm-inference-platform__results_stats.csv": "locust-stats",
    "louskac_deep-vision__results_exceptions.csv": "locust-exceptions",
    "louskac_deep-vision__results_failures.csv": "locust-failures",
    "louskac_deep-vision__results_optimized_exceptions.csv": "locust-exceptions",
    "louskac_deep-vision__results_optimized_failures.csv": "locust-failures",
    "louskac_deep-vision__results_optimized_stats.csv": "locust-stats",
    "louskac_deep-vision__results_optimized_stats_history.csv": "locust-history",
    "louskac_deep-vision__results_stats.csv": "locust-stats",
    "louskac_deep-vision__results_stats_history.csv": "locust-history",
    "nogibjj_wine-prediction-app__results_exceptions.csv": "locust-exceptions",
    "nogibjj_wine-prediction-app__results_failures.csv": "locust-failures",
    "nogibjj_wine-prediction-app__results_stats.csv": "locust-stats",
    "nogibjj_wine-prediction-app__results_stats_history.csv": "locust-history",
    "zhajiangmian2342_20200823__locust_failures.csv": "locust-failures",
    "zhajiangmian2342_20200823__locust_stats.csv": "locust-stats",
    "zhajiangmian2342_20200823__locust_stats_history.csv": "locust-history",
}


NEVER_STARTED = "nogibjj_wine-prediction-app__"


@pytest.fixture(scope="module")
def runs(datasets) -> dict[str, locust.ParsedRun]:
    """Every real Locust file but the run that never started (refused: see below), sniffed and parsed;
    runs keyed by their first input's name."""
    paths = sorted(p for p in (datasets / "locust").iterdir() if not p.name.startswith(NEVER_STARTED))
    formats = {p: locust.sniff(p, p.read_bytes()[:65536]) for p in paths}
    return {r.inputs[0].name: r for r in locust.parse_set(paths, formats)}


def _run(runs, prefix: str):
    (run,) = [r for name, r in runs.items() if name.startswith(prefix)]
    return run


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# ---------------------------------------------------------------- sniffing


def test_sniff_recognises_every_real_file_by_content(datasets):
    assert sorted(p.name for p in (datasets / "locust").iterdir()) == sorted(DATASET_FORMATS)
    for name, fmt in DATASET_FORMATS.items():
        path = datasets / "locust" / name
        assert locust.sniff(Path("renamed.bin"), path.read_bytes()[:65536]) == fmt, name


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (
            b'\xef\xbb\xbf"Method","Name","# requests","# failures","Median response time"\r\r\n',
            "locust-stats",
        ),
        (STATS_OLD.encode(), "locust-stats"),
        (
            b"Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,Total Request Count\r\n",
            "locust-history",
        ),
        (b"Method,Name,Error,Occurrences,First Seen,Last Seen\n", "locust-failures"),
        (b'"Count","Message","Traceback","Nodes"\r\r\n', "locust-exceptions"),
        (b'[{"name": "/", "num_requests": 1, "response_times": {"5": 1}}]', "locust-json"),
        (STATS_HEADER.replace(",", ";").encode() + b"\n", None),
        (b'[{"foo": 1}]', None),
        (b'{"MetricDataResults": []}', None),
        (b"concurrency,throughput_rps\n1,10\n", None),
        (b"", None),
    ],
)
def test_sniff_headers(head, fmt):
    assert locust.sniff(Path("x"), head) == fmt


# ---------------------------------------------------------------- real files


def test_every_real_file_lands_in_one_run(runs, datasets):
    used = sorted(p.name for r in runs.values() for p in r.inputs)
    assert used == sorted(n for n in DATASET_FORMATS if not n.startswith(NEVER_STARTED))
    assert len(runs) == 6
    louskac = _run(runs, "louskac_deep-vision__results_stats")
    assert [p.name for p in louskac.inputs] == [
        "louskac_deep-vision__results_stats.csv",
        "louskac_deep-vision__results_stats_history.csv",
        "louskac_deep-vision__results_failures.csv",
        "louskac_deep-vision__results_exceptions.csv",
    ]
    assert set(louskac.tables) == {"requests", "history", "failures", "exceptions"}
    assert louskac.source == "locust" and louskac.format == "locust-csv"
    for table in ("failures", "exceptions"):
        frame = louskac.tables[table]
        assert len(frame) == 0 and list(frame.columns) == list(schema.TABLES[table].required)


def test_zhajiangmian_gbk_name_and_window_history(runs, datasets):
    run = _run(runs, "zhajiangmian")
    stats = run.tables["requests"]
    assert run.notes["encoding"] == "gb18030"
    raw = (datasets / "locust" / "zhajiangmian2342_20200823__locust_stats.csv").read_bytes()
    name = stats["name"].iloc[0]
    assert name.encode("gb18030") == raw.split(b"\r\r\n")[1].split(b",")[1]
    assert name == "get接口"
    assert stats["request_count"].tolist() == [15, 15]
    assert stats["is_aggregate"].tolist() == [False, True]
    assert stats["request_type"].tolist() == ["GET", ""]
    assert stats["latency_p99_999_ms"].tolist() == [88.0, 88.0]
    history = run.tables["history"]
    assert history["row"].tolist() == [0, 1, 2]
    assert (
        history["timestamp"].iloc[1]
        == history["timestamp"].iloc[2]
        == pd.Timestamp(1597569276, unit="s", tz="UTC")
    )
    assert history["user_count"].tolist() == [1, 10, 0]
    assert history["latency_p50_ms"].isna().tolist() == [True, False, False]
    assert history["total_request_count"].tolist() == [0, 10, 15]
    assert run.notes["history_percentiles"] == "window"
    assert run.meta["started_at"] == pd.Timestamp(1597569274, unit="s", tz="UTC")
    assert run.meta["ended_at"] == pd.Timestamp(1597569276, unit="s", tz="UTC")


@pytest.mark.parametrize(
    "prefix", ["louskac_deep-vision__results_stats", "louskac_deep-vision__results_optimized"]
)
def test_louskac_history_is_cumulative(runs, prefix):
    run = _run(runs, prefix)
    history = run.tables["history"]
    assert len(history) == 26 and history["row"].tolist() == list(range(26))
    assert run.notes["history_percentiles"] == "cumulative"
    with_requests = history[history["total_request_count"] > 0]
    rounded = locust.locust_round(with_requests["total_latency_max_ms"].to_numpy(dtype=float))
    assert (with_requests["latency_p100_ms"].to_numpy(dtype=float) == rounded).all()
    assert history["is_aggregate"].all() and (history["request_type"] == "").all()
    assert run.meta["started_at"] == history["timestamp"].iloc[0]
    assert run.meta["ended_at"] == history["timestamp"].iloc[-1]


def test_louskac_stats_values(runs):
    stats = _run(runs, "louskac_deep-vision__results_stats").tables["requests"]
    assert len(stats) == 3
    agg = stats[stats["is_aggregate"]].iloc[0]
    assert agg["name"] == "Aggregated" and agg["request_type"] == ""
    assert agg["request_count"] == 58982 and agg["latency_p99_ms"] == 170
    assert agg["latency_mean_ms"] == pytest.approx(41.14550032734942)
    assert agg["throughput_rps"] == pytest.approx(2031.1990708595235)
    assert stats["request_count"].iloc[:2].sum() == agg["request_count"]
    for column, dtype in schema.TABLES["requests"].required.items():
        assert str(stats[column].dtype) == dtype, column


def test_nogibjj_run_that_never_started_is_refused(datasets):
    paths = sorted((datasets / "locust").glob(NEVER_STARTED + "*"))
    with pytest.raises(InputError, match=r"_stats_history\.csv: column 'User Count': expected a row with users > 0, "
                                         r"found no load: User Count is 0 in every row \(2,031 rows, no request\)$"):
        locust.parse_set(paths, {p: locust.sniff(p, p.read_bytes()[:65536]) for p in paths})
    (run,) = locust.parse([datasets / "locust" / f"{NEVER_STARTED}results_stats.csv"], "locust-stats")
    stats = run.tables["requests"]
    assert len(stats) == 1 and bool(stats["is_aggregate"].iloc[0]) and stats["request_count"].iloc[0] == 0
    assert stats[schema.percentile_columns(stats.columns)].isna().all().all()


def test_instarwxp_stats_alone(runs):
    run = _run(runs, "instarwxp")
    stats = run.tables["requests"]
    assert set(run.tables) == {"requests"} and run.meta == {}
    assert stats["name"].tolist() == ["/api/chat", "/api/models", "/health", "Aggregated"]
    assert stats["request_count"].tolist() == [57, 119, 194, 370]
    assert stats["latency_median_ms"].tolist() == [250, 21, 3, 6]


def test_cdluc3_json_percentiles_match_the_csv(runs):
    run = _run(runs, "CDLUC3_mrt-locust__sample.md__locust_json")
    assert run.format == "locust-json" and run.notes["percentiles_from"] == "histogram"
    js = run.tables["requests"].set_index("name")
    csv_table = _run(runs, "CDLUC3_mrt-locust__sample.md__stats_table").tables["requests"].set_index("name")
    # "/" has 26 requests in the json, 25 in the CSV (DESIGN §4): the median bucket is the same.
    assert js.loc["/", "request_count"] == 26 and csv_table.loc["/", "request_count"] == 25
    assert js.loc["/", "latency_p50_ms"] == csv_table.loc["/", "latency_p50_ms"] == 160
    # /guest_login has the same 3 requests in both: every percentile must agree exactly.
    pcts = schema.percentile_columns(csv_table.columns)
    assert js.loc["/guest_login", pcts].tolist() == csv_table.loc["/guest_login", pcts].tolist()
    assert js.loc["/guest_login", "latency_median_ms"] == csv_table.loc["/guest_login", "latency_median_ms"]
    entries = js[~js["is_aggregate"]]
    agg = js.loc["Aggregated"]
    assert agg["request_count"] == entries["request_count"].sum() == 150
    assert agg["latency_min_ms"] == entries["latency_min_ms"].min()
    assert agg["latency_p100_ms"] == 7500 == entries["latency_p100_ms"].max()
    for name, row in entries.iterrows():
        assert row["latency_p100_ms"] == locust.locust_round(np.array([row["latency_max_ms"]]))[0], name
    mean = (entries["latency_mean_ms"] * entries["request_count"]).sum() / entries["request_count"].sum()
    assert agg["latency_mean_ms"] == pytest.approx(mean)


def test_cdluc3_json_long_tables(runs, datasets):
    run = _run(runs, "CDLUC3_mrt-locust__sample.md__locust_json")
    raw = json.loads(
        (datasets / "locust" / "CDLUC3_mrt-locust__sample.md__locust_json_output.json").read_text()
    )
    hist, per_second = run.tables["response_times"], run.tables["per_second"]
    assert hist.groupby("name")["count"].sum().to_dict() == {e["name"]: e["num_requests"] for e in raw}
    root = hist[hist["name"] == "/"]
    assert root["latency_ms"].is_monotonic_increasing and root["latency_ms"].iloc[0] == 67
    assert per_second.groupby("name")["request_count"].sum().to_dict() == {
        e["name"]: e["num_requests"] for e in raw
    }
    assert per_second["timestamp"].min() == pd.Timestamp(1732126295, unit="s", tz="UTC")
    assert run.meta["started_at"].timestamp() == pytest.approx(min(e["start_time"] for e in raw))


# ---------------------------------------------------------------- percentile semantics


def test_histogram_percentile_follows_locust():
    hist = {10.0: 5, 20.0: 3, 30.0: 2}
    assert locust.histogram_percentile(hist, 10, 0.5) == 20  # 5 requests below 20 <= int(10 * 0.5)
    assert locust.histogram_percentile(hist, 10, 0.4) == 10
    assert locust.histogram_percentile(hist, 10, 1.0) == 30
    assert locust.histogram_percentile({}, 0, 0.5) is None
    assert locust.histogram_median(hist, 10) == 10  # position 4.5 lies in the first bucket
    assert locust.locust_round(np.array([12.5, 13.5, 99.6, 145.0, 1449.0, 15500.0])).tolist() == [
        12,
        14,
        100,
        140,
        1400,
        16000,
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.floats(0.5, 60000), st.integers(1, 40), min_size=1, max_size=30),
    st.lists(st.floats(0, 1), min_size=2, max_size=8),
)
def test_histogram_percentile_is_an_order_statistic(raw_hist, fractions):
    hist: dict[float, int] = {}
    for value, count in raw_hist.items():
        bucket = float(locust.locust_round(np.array([value]))[0])
        hist[bucket] = hist.get(bucket, 0) + count
    n = sum(hist.values())
    ordered = sorted(v for v, c in hist.items() for _ in range(c))
    values = [locust.histogram_percentile(hist, n, f) for f in sorted(fractions)]
    assert values == [ordered[min(int(n * f), n - 1)] for f in sorted(fractions)]
    assert values == sorted(values) and min(hist) <= values[0] and values[-1] <= max(hist)
    assert locust.histogram_percentile(hist, n, 1.0) == max(hist)


# ---------------------------------------------------------------- written-then-parsed round trip

_row = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["GET", "POST", "PUT"]),
        "name": st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
        ),
        "count": st.integers(0, 10**9),
        "mean": st.floats(0, 1e6, allow_nan=False),
        "p99": st.one_of(st.none(), st.integers(0, 10**6)),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(_row, min_size=1, max_size=6),
    ending=st.sampled_from(["\n", "\r\n", "\r\r\n"]),
    quote_all=st.booleans(),
    bom=st.booleans(),
)
def test_stats_round_trip(tmp_path, rows, ending, quote_all, bom):
    header = ["Type", "Name", "Request Count", "Failure Count", "Average Response Time", "99%"]
    lines = [header]
    for r in [*rows, {"type": "", "name": "Aggregated", "count": 1, "mean": 1.0, "p99": 1}]:
        p99 = "N/A" if r["p99"] is None else str(r["p99"])
        lines.append([r["type"], r["name"], str(r["count"]), "0", repr(r["mean"]), p99])

    def cell(text: str) -> str:
        if quote_all or any(c in text for c in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    body = ending.join(",".join(cell(c) for c in line) for line in lines) + ending
    path = _write(tmp_path, "rt_stats.csv", ("\ufeff" if bom else "") + body)
    (run,) = locust.parse([path], "locust-stats")
    stats = run.tables["requests"]
    assert stats["name"].tolist()[:-1] == [r["name"] for r in rows]
    assert stats["request_count"].tolist()[:-1] == [r["count"] for r in rows]
    assert stats["latency_mean_ms"].tolist()[:-1] == [r["mean"] for r in rows]
    expected_p99 = [math.nan if r["p99"] is None else float(r["p99"]) for r in rows]
    got = stats["latency_p99_ms"].astype("float64").fillna(math.nan).tolist()[:-1]
    assert np.array_equal(got, expected_p99, equal_nan=True)
    assert stats["is_aggregate"].tolist() == [False] * len(rows) + [True]


# ---------------------------------------------------------------- other shapes


def test_locust_0x_requests_csv(tmp_path):
    (run,) = locust.parse([_write(tmp_path, "old_requests.csv", STATS_OLD)], "locust-stats")
    stats = run.tables["requests"]
    assert stats["is_aggregate"].tolist() == [False, False, True]
    assert stats["request_type"].tolist() == ["GET", "GET", ""]
    assert stats["failure_count"].tolist() == [0, 56, 56]
    assert stats["failures_per_s"].isna().all() and not schema.percentile_columns(stats.columns)


def test_failures_with_seen_times_and_quoted_newlines(tmp_path):
    text = (
        "Method,Name,Error,Occurrences,First Seen,Last Seen\r\n"
        "GET,/a,\"ConnectionError('x, y')\nsecond line\",3,1700000000,1700000060.5\r\n"
        "POST,/b,HTTPError 500,1,2024-01-02T03:04:05Z,2024-01-02T03:05:05.123456+00:00\r\n"
    )
    (run,) = locust.parse([_write(tmp_path, "f_failures.csv", text)], "locust-failures")
    failures = run.tables["failures"]
    assert failures["error"].iloc[0] == "ConnectionError('x, y')\nsecond line"
    assert failures["occurrences"].tolist() == [3, 1]
    assert failures["first_seen"].tolist() == [
        pd.Timestamp(1700000000, unit="s", tz="UTC"),
        pd.Timestamp("2024-01-02T03:04:05Z"),
    ]
    assert failures["last_seen"].iloc[0] == pd.Timestamp(1700000060.5, unit="s", tz="UTC")
    assert failures["last_seen"].iloc[1].floor("s") == pd.Timestamp("2024-01-02T03:05:05Z")


def _history(rows: list[tuple[int, int, float, float]]) -> str:
    """History CSV text from (seconds since start, total requests, 100%, Total Max Response Time)."""
    lines = [HISTORY_HEADER]
    for t, count, p100, tmax in rows:
        cells = HISTORY_ROW.split(",")
        cells[0], cells[16], cells[17], cells[22] = str(1700000000 + t), str(p100), str(count), str(tmax)
        cells[6:16] = [str(min(float(c), p100)) for c in cells[6:16]]  # percentiles never above the 100%
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("rows", "verdict"),
    [
        ([(0, 5, 14, 14.4), (1, 9, 150, 147.3), (2, 12, 1500, 1523.0)], "unknown"),  # agree, but within 10 s
        ([(0, 5, 14, 14.4), (6, 9, 150, 147.3), (12, 12, 1500, 1523.0)], "cumulative"),
        ([(0, 5, 14, 14.4), (6, 9, 150, 147.3), (12, 12, 150, 1523.0)], "window"),  # 100% below the max
        ([(0, 0, 0, 0), (30, 0, 0, 0)], "unknown"),  # no requests
    ],
)
def test_history_percentile_rule(tmp_path, rows, verdict):
    (run,) = locust.parse([_write(tmp_path, "r_stats_history.csv", _history(rows))], "locust-history")
    assert run.notes["history_percentiles"] == verdict


def test_exceptions_with_multiline_traceback(tmp_path):
    text = 'Count,Message,Traceback,Nodes\n2,boom,"Traceback:\n  File ""x.py""\nValueError",local\n'
    (run,) = locust.parse([_write(tmp_path, "e_exceptions.csv", text)], "locust-exceptions")
    exceptions = run.tables["exceptions"]
    assert exceptions["count"].tolist() == [2]
    assert exceptions["traceback"].iloc[0] == 'Traceback:\n  File "x.py"\nValueError'


def test_undecodable_name_falls_back_to_latin1(tmp_path):
    body = f"{STATS_HEADER}\n".encode() + STATS_ROW.replace("/x", "/\udcff").encode(
        "utf-8", "surrogateescape"
    )
    (run,) = locust.parse([_write(tmp_path, "l_stats.csv", body + f"\n{AGG_ROW}\n".encode())], "locust-stats")
    assert run.notes["encoding"] == "latin-1"
    assert run.tables["requests"]["name"].iloc[0] == "/\xff"


def test_files_group_by_prefix(tmp_path, datasets):
    for f in (datasets / "locust").glob("louskac_deep-vision__results_*"):
        shutil.copy(f, tmp_path / f.name)
    lone = _write(
        tmp_path,
        "renamed.csv",
        (datasets / "locust" / "instarwxp_llm-inference-platform__results_stats.csv").read_bytes(),
    )
    paths = sorted(tmp_path.iterdir())
    formats = {p: locust.sniff(p, p.read_bytes()) for p in paths}
    runs = locust.parse_set(paths, formats)
    assert sorted(len(r.inputs) for r in runs) == [1, 4, 4]
    assert [r.inputs for r in runs if len(r.inputs) == 1] == [(lone,)]
    twin = _write(tmp_path, "louskac_deep-vision__results_requests.csv", STATS_OLD)
    with pytest.raises(InputError, match="one locust-stats file per run prefix"):
        locust.parse_set([*paths, twin], {**formats, twin: "locust-stats"})


# ---------------------------------------------------------------- streaming


def test_history_streams_in_chunks_like_the_frame(datasets, monkeypatch):
    path = datasets / "locust" / "louskac_deep-vision__results_stats_history.csv"
    (small,) = locust.parse([path], "locust-history")
    monkeypatch.setattr(locust.runs, "STREAM_THRESHOLD_BYTES", 0)
    monkeypatch.setattr(locust.csv_file, "CHUNK_BYTES", 700)  # several rows per piece, cut mid-line
    (big,) = locust.parse([path], "locust-history")
    stream = big.tables["history"]
    assert callable(stream) and big.notes["history_percentiles"] == "unknown"
    batches = list(stream())
    assert len(batches) > 3 and all(isinstance(b, pa.RecordBatch) for b in batches)
    assert big.notes["history_percentiles"] == "cumulative"
    frame = schema.coerce("history", pa.Table.from_batches(batches).to_pandas())
    pd.testing.assert_frame_equal(frame, small.tables["history"], check_dtype=False)
    assert frame["row"].tolist() == list(range(26))


def test_stream_error_names_the_global_row(tmp_path, monkeypatch):
    rows = [HISTORY_ROW.replace("1700000000", str(1700000000 + i)) for i in range(40)]
    rows[33] = rows[33].replace(",51.5,", ",-1,")
    path = _write(tmp_path, "s_stats_history.csv", HISTORY_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n")
    monkeypatch.setattr(locust.runs, "STREAM_THRESHOLD_BYTES", 0)
    monkeypatch.setattr(locust.csv_file, "CHUNK_BYTES", 300)
    (run,) = locust.parse([path], "locust-history")
    with pytest.raises(InputError) as info:
        list(run.tables["history"]())
    assert info.value.where == "row 34, column 'Total Average Response Time'"


# ---------------------------------------------------------------- bad input

_JSON_ENTRY = {
    "name": "/",
    "method": "GET",
    "last_request_timestamp": 1700000010.0,
    "start_time": 1700000000.0,
    "num_requests": 3,
    "num_none_requests": 0,
    "num_failures": 0,
    "total_response_time": 60.0,
    "max_response_time": 30.0,
    "min_response_time": 10.0,
    "total_content_length": 30,
    "response_times": {"10": 1, "20.0": 1, "30": 1},
    "num_reqs_per_sec": {"1700000000": 3},
    "num_fail_per_sec": {},
}

BAD = {
    "empty file": ("e_stats.csv", "", "locust-stats", "header", "an empty file"),
    "header only": (
        "h_stats.csv",
        STATS_HEADER + "\n",
        "locust-stats",
        "rows",
        "exactly one Aggregated row, found 0",
    ),
    "two aggregates": (
        "a_stats.csv",
        f"{STATS_HEADER}\n{AGG_ROW}\n{AGG_ROW}\n",
        "locust-stats",
        "rows",
        "found 2",
    ),
    "truncated row": (
        "t_stats.csv",
        f"{STATS_HEADER}\n{STATS_ROW}\nGET,/y,10,0,50\n{AGG_ROW}\n",
        "locust-stats",
        "row 2",
        "expected 22 fields, found 5",
    ),
    "semicolons": (
        "s_stats.csv",
        (STATS_HEADER + "\n" + STATS_ROW).replace(",", ";"),
        "locust-stats",
        "header",
        "no column for ['request_type', 'name', 'request_count']",
    ),
    "history as stats": (
        "h_stats_history.csv",
        f"{HISTORY_HEADER}\n{HISTORY_ROW}\n",
        "locust-stats",
        "header",
        "a header with 'timestamp'",
    ),
    "stats as history": (
        "x_stats.csv",
        f"{STATS_HEADER}\n{STATS_ROW}\n{AGG_ROW}\n",
        "locust-history",
        "header",
        "no column for ['timestamp', 'total_request_count']",
    ),
    "non-numeric count": (
        "n_stats.csv",
        f"{STATS_HEADER}\n{STATS_ROW.replace(',10,', ',ten,', 1)}\n{AGG_ROW}\n",
        "locust-stats",
        "row 1, column 'Request Count'",
        "expected an integer, found 'ten'",
    ),
    "fractional count": (
        "f_stats.csv",
        f"{STATS_HEADER}\n{AGG_ROW}\n{STATS_ROW.replace(',10,', ',1.5,', 1)}\n",
        "locust-stats",
        "row 2, column 'Request Count'",
        "expected an integer, found '1.5'",
    ),
    "negative latency": (
        "g_stats.csv",
        f"{STATS_HEADER}\n{STATS_ROW.replace(',51.5,', ',-51.5,')}\n{AGG_ROW}\n",
        "locust-stats",
        "row 1, column 'Average Response Time'",
        "expected a finite number >= 0, found '-51.5'",
    ),
    "NaN latency": (
        "nan_stats.csv",
        f"{STATS_HEADER}\n{STATS_ROW}\n{AGG_ROW.replace(',80,80,80,80', ',80,80,nan,80')}\n",
        "locust-stats",
        "row 2, column '99.99%'",
        "found 'nan'",
    ),
    "bad timestamp": (
        "b_stats_history.csv",
        f"{HISTORY_HEADER}\n{HISTORY_ROW.replace('1700000000', 'yesterday')}\n",
        "locust-history",
        "row 1, column 'Timestamp'",
        "expected an integer, found 'yesterday'",
    ),
    "bad first seen": (
        "b_failures.csv",
        "Method,Name,Error,Occurrences,First Seen,Last Seen\nGET,/,boom,1,last week,1700000000\n",
        "locust-failures",
        "row 1, column 'First Seen'",
        "epoch seconds or an ISO-8601 time, found 'last week'",
    ),
    "json of other objects": (
        "o.json",
        json.dumps([{"foo": 1, "bar": 2}]),
        "locust-json",
        "entry 0",
        "found keys ['bar', 'foo']",
    ),
    "json not a list": ("d.json", json.dumps({"stats": []}), "locust-json", "top level", "found a JSON dict"),
    "json syntax error": (
        "y.json",
        '[{"name": "/", "num_requests": 3, "response_times": {',
        "locust-json",
        "line 1, column 54",
        "expected valid JSON",
    ),
    "json without response_times": (
        "r.json",
        json.dumps([{k: v for k, v in _JSON_ENTRY.items() if k != "response_times"}]),
        "locust-json",
        "entry 0 ('/'), field 'response_times'",
        "no such field",
    ),
    "json histogram short": (
        "c.json",
        json.dumps([{**_JSON_ENTRY, "response_times": {"10": 1}}]),
        "locust-json",
        "entry 0 ('/'), field 'response_times'",
        "expected counts summing to 3 requests, found 1",
    ),
    "json text bucket": (
        "k.json",
        json.dumps([{**_JSON_ENTRY, "response_times": {"fast": 3}}]),
        "locust-json",
        "entry 0 ('/'), field 'response_times'",
        "'fast': 3",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_place_and_values(case, tmp_path):
    name, content, fmt, where, message = BAD[case]
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        locust.parse([path], fmt)
    error = info.value
    assert error.path == str(path) and error.where == where, str(error)
    assert message in str(error) and "\n" not in str(error)


def test_good_json_entry_parses(tmp_path):
    path = _write(tmp_path, "ok.json", json.dumps([_JSON_ENTRY]))
    (run,) = locust.parse([path], "locust-json")
    requests = run.tables["requests"]
    assert requests["latency_p50_ms"].tolist() == [20.0, 20.0]
    assert requests["latency_mean_ms"].tolist() == [20.0, 20.0]
    assert requests["throughput_rps"].tolist() == [0.3, 0.3]
