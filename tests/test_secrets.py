"""Secret values in inputs are never kept: the raw copy of a real AIPerf export has its API key replaced,
everything else byte for byte; a key inside a JSON string is left alone."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli import app
from planner.collection import ingest, reparse
from planner.ingest.secrets import REDACTED, SECRET_KEYS, redact
from planner.store import RunStore

AIPERF = Path(__file__).parent / "datasets" / "llm" / "aiperf" / "profile_export_aiperf.json"


def test_an_aiperf_api_key_is_replaced_in_the_kept_copy_and_nothing_else(tmp_path):
    store = RunStore(tmp_path / "store")
    (outcome,) = ingest(store, [AIPERF])
    (entry,) = store.get(outcome.run_id).run["inputs"]
    kept = store.read_raw(entry["sha256"])
    original = AIPERF.read_bytes()
    assert b'"api_key": "test_key"' in original and b'--api-key \\"test_key\\"' in original  # its cli_command
    assert b"test_key" not in kept
    assert kept == original.replace(b"test_key", REDACTED.encode())
    assert entry["secrets_redacted"] == 2 and entry["bytes"] == len(kept)
    assert json.loads(kept)["input_config"]["endpoint"]["api_key"] == REDACTED
    again = CliRunner().invoke(app, ["ingest", str(AIPERF), "--store", str(tmp_path / "store"), "--json"])
    assert json.loads(again.stdout)["runs"][0]["status"] == "present", "the same file is the same run"
    (redone,) = reparse(store, [outcome.run_id])
    assert redone.status == "reparsed" and store.get(outcome.run_id).run["inputs"][0]["secrets_redacted"] == 2


def test_a_file_without_secrets_is_kept_byte_for_byte(tmp_path):
    store = RunStore(tmp_path / "store")
    source = tmp_path / "aiperf.json"
    doc = json.loads(AIPERF.read_bytes())
    doc["input_config"]["endpoint"].pop("api_key")
    doc["input_config"]["cli_command"] = "aiperf profile --model openai/gpt-oss-20b"
    source.write_text(json.dumps(doc, indent=2))
    (outcome,) = ingest(store, [source])
    (entry,) = store.get(outcome.run_id).run["inputs"]
    assert store.read_raw(entry["sha256"]) == source.read_bytes() and "secrets_redacted" not in entry


_text = st.text(st.characters(codec="utf-8", exclude_characters='"\\\n'), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(secrets=st.dictionaries(st.sampled_from(SECRET_KEYS + ("API-Key", "Authorization")), _text, min_size=1),
       others=st.dictionaries(_text.filter(lambda k: redact(f'{{"{k}": "v"}}'.encode(), "a.json")[1] == 0), _text),
       quoted=_text)
def test_json_secrets_are_replaced_and_every_other_value_kept(secrets, others, quoted):
    doc = {"input_config": {"endpoint": dict(secrets)}, "other": dict(others),
           "output": f'"api_key": "{quoted}"'}  # a key inside a string: generated text, not a key
    data = json.dumps(doc, ensure_ascii=False).encode()
    kept, count = redact(data, "profile.json")
    assert count == len(secrets)
    back = json.loads(kept)
    assert back["input_config"]["endpoint"] == {k: REDACTED for k in secrets}
    assert back["other"] == others and back["output"] == doc["output"]
    assert redact(kept, "profile.json") == (kept, len(secrets)), "redacting twice changes nothing more"
    assert redact(data, "profile.csv") == (data, 0), "only JSON and YAML are read for secrets"


def test_command_line_keys_and_bearer_tokens_are_replaced():
    data = b'{"cli_command": "aiperf --api-key \\"sk-1\\" --url x --hf_token=abc -H \\"Authorization: Bearer abcdefgh12\\""}'
    kept, count = redact(data, "profile_export_aiperf.json")
    assert count == 3 and json.loads(kept)["cli_command"] == (
        'aiperf --api-key "[redacted]" --url x --hf_token=[redacted] -H "Authorization: Bearer [redacted]"')


def test_yaml_secrets_are_replaced_but_flags_are_not():
    data = b"args:\n  api_key: sk-live-123  # the key\n  authorization: true\n  password: 'a b'\n  url: x\n"
    kept, count = redact(data, "benchmarks.yaml")
    assert count == 2 and kept == (b"args:\n  api_key: [redacted]  # the key\n  authorization: true\n"
                                   b"  password: [redacted]\n  url: x\n")
