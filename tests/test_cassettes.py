"""No credential ever reaches a cassette: a scan of every recorded file, and a recording made with a key set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import CASSETTES, cassette_path
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from lab.models import llm

FAKE_KEY = "sk-test-PromptLabFakeKey0123456789abcdef"

# Header names whose presence in a cassette means a credential was recorded (filters drop them entirely).
_CREDENTIAL_HEADERS = re.compile(r"^\s*['\"]?(authorization|x-api-key|api-key|proxy-authorization|x-goog-api-key)['\"]?\s*:", re.I | re.M)
_CREDENTIAL_VALUES = [
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{12,}"),  # OpenAI, Anthropic, project keys
    re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"[?&](?:key|api_key|api-key)=[^&\s'\"]+", re.I),  # Gemini-style query keys
    re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"),  # Google API keys
]


def credential_findings(text: str) -> list[str]:
    found = [f"header {m.group(1)!r}" for m in _CREDENTIAL_HEADERS.finditer(text)]
    for pattern in _CREDENTIAL_VALUES:
        found += [f"value {m.group(0)[:12]}…" for m in pattern.finditer(text)]
    return found


def cassette_files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))


def test_there_are_cassettes_to_scan():
    assert len(cassette_files()) >= 10


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_holds_no_credentials(path: Path):
    text = path.read_text(encoding="utf-8")
    assert credential_findings(text) == [], f"{path.relative_to(CASSETTES.parent)} holds a credential; delete it and record again"
    assert yaml.safe_load(text)["interactions"], "an empty cassette proves nothing"


@pytest.mark.parametrize(
    "text",
    ["    authorization:\n    - Bearer abcdefgh12345678\n", "x-api-key: something\n", "uri: https://x.test/v1?key=AIzaSyA123\n",
     f"body: '{FAKE_KEY}'\n", "Api-Key: 123\n"],
)
def test_scanner_catches_each_kind_of_credential(text: str):
    assert credential_findings(text)


def test_scanner_passes_clean_text():
    clean = "headers:\n  content-type:\n  - application/json\nbody: '{\"max_tokens\": 7, \"monkey\": \"sky-blue\"}'\n"
    assert credential_findings(clean) == []


def test_recording_with_a_key_in_the_environment_leaves_no_trace(cassette, api_base, monkeypatch, request):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)  # the SDK sends it as `Authorization: Bearer ...`
    done = llm.complete([{"role": "user", "content": "keep it secret"}], llm.CallConfig("openai/echo", api_base, max_retries=0, backoff=0))
    assert done.text == "keep it secret"
    # What the cassette holds is filtered at record time, so it can be checked before it is written.
    stored = serialize(cassette._as_dict(), yamlserializer)
    assert FAKE_KEY not in stored and "authorization" not in stored.lower()
    path = cassette_path(request)
    if path.exists():  # replay: the file itself
        text = path.read_text(encoding="utf-8")
        assert FAKE_KEY not in text and credential_findings(text) == []
