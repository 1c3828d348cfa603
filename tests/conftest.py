"""Shared fixtures: an isolated LAB_HOME, cassettes (replay-only unless --record), the fake provider.

Model traffic in tests goes litellm -> HTTP -> vcrpy cassette. In replay (the default, and the
only mode CI allows) a request without a recorded answer fails loudly. `pytest --record` records
the missing cassettes against the tests' own OpenAI-compatible server on 127.0.0.1
(lab/testserver.py); cassettes/README.md says how to record against a real provider instead.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab.testserver import FakeProvider  # noqa: E402

# The network is closed to everything but loopback, whatever the mode (pytest-socket).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
REPLAY_BASE = "http://127.0.0.1:8765/v1"  # any port: cassettes do not match on it

KEY_VARIABLES = [
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY", "AZURE_API_KEY",
    "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY", "TOGETHERAI_API_KEY", "XAI_API_KEY", "COHERE_API_KEY",
]
LAB_VARIABLES = ["LAB_MODEL", "LAB_API_BASE", "LAB_JUDGE_MODEL", "LAB_EXERCISES", "LAB_TIMEOUT", "LAB_MAX_RETRIES", "LAB_CONCURRENCY", "LAB_THEME", "LAB_LEARNER", "LAB_JUDGE_API_BASE", "LAB_MAX_COST"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record", action="store_true", help="record missing cassettes against the fake provider on 127.0.0.1")
    parser.addoption("--record-api-base", default=None, metavar="URL",
                     help="with --record: record against this OpenAI-compatible server instead of the fake (see cassettes/README.md)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--record") and os.environ.get("CI"):
        raise pytest.UsageError("--record is not allowed in CI: cassettes are replay-only there")


@pytest.fixture(autouse=True)
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own LAB_HOME and an environment without keys or LAB_ settings."""
    home = tmp_path / "labhome"
    home.mkdir()
    monkeypatch.setenv("LAB_HOME", str(home))
    for name in KEY_VARIABLES + LAB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def recording(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--record"))


_SCRUB_RESPONSE_HEADERS = {"set-cookie", "openai-organization", "openai-project", "x-request-id", "request-id",
                           "cf-ray", "anthropic-organization-id", "x-ratelimit-remaining-tokens", "x-ratelimit-remaining-requests"}


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() in _SCRUB_RESPONSE_HEADERS:
            del headers[name]
    return response


def cassette_path(request: pytest.FixtureRequest) -> Path:
    module = Path(request.node.fspath).stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    return CASSETTES / module / f"{name}.yaml"


@pytest.fixture
def cassette(request: pytest.FixtureRequest, recording: bool) -> Iterator[Any]:
    """Wraps the test in its own cassette: cassettes/<test module>/<test name>.yaml."""
    import vcr

    path = cassette_path(request)
    if not recording and not path.exists():
        pytest.fail(f"missing cassette {path.relative_to(ROOT)}: record it with `pytest --record {request.node.nodeid}`")
    recorder = vcr.VCR(
        record_mode="once" if recording else "none",
        match_on=["method", "scheme", "host", "path", "query", "body"],
        filter_headers=["authorization", "x-api-key", "api-key", "openai-organization", "cookie"],
        filter_query_parameters=["key", "api_key"],
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    with recorder.use_cassette(str(path), allow_playback_repeats=False) as cas:
        yield cas


@pytest.fixture
def provider(request: pytest.FixtureRequest, recording: bool) -> Iterator[FakeProvider | None]:
    """The fake provider while recording (None in replay: the cassette answers, or with --record-api-base)."""
    if not recording or request.config.getoption("--record-api-base"):
        yield None
        return
    with FakeProvider(idle_timeout=120) as server:
        yield server


@pytest.fixture
def api_base(request: pytest.FixtureRequest, provider: FakeProvider | None) -> str:
    if provider is not None:
        return provider.url
    return request.config.getoption("--record-api-base") or REPLAY_BASE


@pytest.fixture
def live_provider() -> Iterator[FakeProvider]:
    """A running fake provider for what no cassette can hold (timeouts, the TUI under tmux)."""
    # `slow` outwaits any timeout a test sets (its wait ends when the server stops), so a loaded machine
    # never sees the answer arrive before the timeout it tests
    with FakeProvider(idle_timeout=60, slow_seconds=120.0) as server:
        yield server
