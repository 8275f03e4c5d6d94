"""`planner export costs` through the real CLI on the bundled sample collection: every option, one notice."""

from __future__ import annotations

import csv
import json

from openpyxl import load_workbook
from typer.testing import CliRunner

from planner.cli import app

TARGET = ["--target-tps", "1000", "--p99", "200ms"]


def test_export_writes_every_option_and_names_the_sample_store_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./planner-store here: the bundled sample collection
    monkeypatch.delenv("PLANNER_STORE", raising=False)
    runner = CliRunner()
    options = {(o["instance_type"], o["instance_count"])
               for ha in ([], ["--ha"])
               for o in json.loads(runner.invoke(app, ["recommend", *TARGET, "--top", "1000", "--json", *ha]).stdout)
               ["options"]}
    assert len(options) > 3, "the sample collection has more options than the 3 export used to keep"

    exported = runner.invoke(app, ["export", "costs", *TARGET, "--out", "costs.csv", "--json"])
    assert exported.exit_code == 0, exported.output
    assert exported.stderr.count("using the bundled sample collection") == 1, exported.stderr
    with open(tmp_path / "costs.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, lines = rows[0], rows[1:rows.index([])]
    at = {name: header.index(name) for name in ("deployment", "instance_type", "instance_count")}
    written = {(r[at["instance_type"]], int(r[at["instance_count"]])) for r in lines
               if r[at["deployment"]].startswith("real-time")}
    assert written == options
    assert {(o["instance_type"], o["instance_count"]) for o in json.loads(exported.stdout)["options"]
            if o["deployment"].startswith("real-time")} == options

    assert runner.invoke(app, ["export", "costs", *TARGET, "--out", "costs.xlsx"]).exit_code == 0
    sheet = load_workbook(tmp_path / "costs.xlsx")["Options"]
    header = [c.value for c in sheet[1]]
    book_rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert {(r["instance type"], r["instances"]) for r in book_rows
            if r["deployment"].startswith("real-time")} == options
