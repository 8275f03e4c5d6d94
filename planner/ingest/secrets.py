"""Secret values in input files, replaced before a raw copy is kept: the collection keeps every input
byte for byte except the values of keys that hold credentials (an AIPerf ``input_config.endpoint.api_key``,
a GuideLLM or LLMPerf ``api_key``, an ``Authorization`` header, a ``--api-key`` in a recorded command line,
a ``Bearer`` token), which it never stores.

Only JSON, JSON Lines and YAML inputs are read for them, and only a key named exactly as in
:data:`SECRET_KEYS` (any case, ``-`` or ``_``) whose value is a non-empty string; a key inside a string
(escaped quotes, e.g. generated code in a benchmark's outputs) is not a key and is left alone.
"""

from __future__ import annotations

import re

SECRET_KEYS = ("api_key", "apikey", "x_api_key", "access_token", "auth_token", "bearer_token", "secret_key",
               "aws_secret_access_key", "aws_session_token", "password", "authorization", "hf_token")
REDACTED = "[redacted]"
TEXT_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml")
_NAME = "|".join(k.replace("_", "[-_]?") for k in SECRET_KEYS)
# "key": "value" not preceded by a backslash (a key in JSON, not inside a JSON string).
_JSON = re.compile(rf'((?<!\\)"(?i:{_NAME})"\s*:\s*)"(?:[^"\\\n]|\\.)+"')
# key: value on its own YAML line (quoted or plain; not a boolean, number or null).
_YAML = re.compile(rf"(^[ \t]*(?:- )?(?i:{_NAME})[ \t]*:[ \t]*)"
                   rf"(?!(?:true|false|null|~|[-+.\d][\d.eE+-]*)[ \t]*(?:#[^\n]*)?$)"
                   rf"(\"[^\"\n]+\"|'[^'\n]+'|[^\s#'\"][^\n#]*?)([ \t]*(?:#[^\n]*)?)$", re.MULTILINE)

# a command line kept in the file (AIPerf's cli_command): --api-key VALUE, --api-key=VALUE, quoted or not
_FLAG = re.compile(rf"(--(?i:{_NAME})(?:=|[ \t]+)(?:\\?[\"'])?)([^\s\"'\\]+)")
_BEARER = re.compile(r"((?i:bearer)[ \t]+)([A-Za-z0-9._~+/=-]{8,})")


def redact(data: bytes, name: str) -> tuple[bytes, int]:
    """``data`` (the file called ``name``) with every secret value replaced by :data:`REDACTED`, and how
    many were replaced (0: ``data`` itself)."""
    if not name.lower().endswith(TEXT_SUFFIXES):
        return data, 0
    text = data.decode("utf-8", errors="surrogateescape")
    if name.lower().endswith((".yaml", ".yml")):
        text, count = _YAML.subn(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
    else:
        text, count = _JSON.subn(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    for pattern in (_FLAG, _BEARER):
        text, more = pattern.subn(lambda m: f"{m.group(1)}{REDACTED}", text)
        count += more
    return (text.encode("utf-8", errors="surrogateescape"), count) if count else (data, 0)
