"""Samples, the judge model's configuration, and judge exchanges kept with the attempt and shown by `lab attempt`."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.exercise_files import load, minimal

from lab.cli import build_parser, main
from lab.cli.common import call_configs
from lab.models import llm
from lab.practice.attempts import run_attempt
from lab.practice.store import Store
from lab.settings.config import save_settings


def config(model: str, api_base: str) -> llm.CallConfig:
    return llm.CallConfig(model, api_base, timeout=10, max_retries=0, backoff=0)


def test_samples_give_pass_rates_and_flag_unstable_criteria(cassette, api_base, tmp_path: Path):
    exercise = load(tmp_path, "t/samples.j2", minimal(
        rubric={"samples": 2, "criteria": [
            {"id": "first", "check": "icontains", "value": "first"},
            {"id": "reply", "check": "icontains", "value": "reply"},
        ]}))
    with Store() as store:
        outcome = run_attempt(exercise, "anything", config=config("openai/alternate", api_base), store=store, concurrency=2)
        assert sorted(outcome.outputs["only"]) == ["first reply", "second reply"]
        first, reply = outcome.grade.criteria
        assert (first.pass_rate, first.unstable, first.score) == (0.5, True, 0.5)
        assert (reply.pass_rate, reply.unstable, reply.score) == (1.0, False, 1.0)
        stored = store.attempt(outcome.attempt_id).result
        assert stored["criteria"][0]["unstable"] is True and stored["criteria"][0]["pass_rate"] == 0.5
        # --samples overrides rubric.samples
        more = run_attempt(exercise, "anything", config=config("openai/alternate", api_base), store=store, samples=4, concurrency=3)
        assert len(more.outputs["only"]) == 4 and more.grade.criteria[0].pass_rate == 0.5
        assert store.attempt(more.attempt_id).samples == 4


JUDGED = minimal(
    model={"temperature": 0.7},
    rubric={"criteria": [{"id": "names-canberra", "check": "judge", "rubric": "The answer names Canberra as the capital of Australia."}]},
)


def test_judge_defaults_to_the_attempts_model_at_temperature_zero(cassette, api_base, tmp_path: Path):
    exercise = load(tmp_path, "t/judged.j2", JUDGED)
    with Store() as store:
        outcome = run_attempt(exercise, "Canberra. MEETS-RUBRIC", config=config("openai/judge-strict", api_base), store=store)
    bodies = [json.loads(r.body) for r in cassette.requests]
    assert [b["model"] for b in bodies] == ["judge-strict", "judge-strict"]
    assert bodies[0]["temperature"] == 0.7 and bodies[1]["temperature"] == 0
    assert "<candidate-" in bodies[1]["messages"][1]["content"]
    assert outcome.grade.criteria[0].results[0].details["judge"]["model"] == "openai/judge-strict"


def test_judge_exchange_is_stored_and_shown(cassette, api_base, tmp_path: Path, capsys):
    exercise = load(tmp_path, "t/judged.j2", JUDGED)
    with Store() as store:
        outcome = run_attempt(exercise, "Canberra. MEETS-RUBRIC", config=config("openai/echo", api_base),
                              judge_config=config("openai/judge-strict", api_base), store=store)
    assert outcome.grade.passed
    assert main(["attempt", str(outcome.attempt_id)]) == 0
    shown = capsys.readouterr().out
    assert f"Attempt #{outcome.attempt_id} · t/judged · openai/echo · graded · score 1.00 · passed" in shown
    assert "## Prompt\n\nCanberra. MEETS-RUBRIC" in shown
    assert "## Output: only\n\nCanberra. MEETS-RUBRIC" in shown
    assert "## Judge · names-canberra · only #1 · openai/judge-strict (final-line) · try 1" in shown
    assert "[system]\nYou grade one output" in shown and "[judge answer]\nReasoning: the output meets the rubric.\nGRADE: PASS" in shown
    assert main(["attempt", str(outcome.attempt_id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == outcome.attempt_id and data["prompt"] == "Canberra. MEETS-RUBRIC"
    (exchange,) = data["judge_exchanges"]
    assert exchange["criterion"] == "names-canberra" and exchange["case"] == "only" and exchange["answer"].endswith("MEETS-RUBRIC")
    assert exchange["messages"][0]["role"] == "system"


def test_lab_attempt_unknown_id(capsys):
    assert main(["attempt", "999"]) == 2
    assert capsys.readouterr().err == "lab: No attempt #999: there are no attempts yet.\n"


def test_judge_model_comes_from_flag_then_environment_then_config_file(monkeypatch):
    def judge_model(*flags: str) -> str:
        args = build_parser().parse_args(["run", "x", "--prompt", "p", "--model", "openai/main", *flags])
        return call_configs(args)[2].model

    assert judge_model() == "openai/main"
    save_settings(judge_model="openai/from-file")
    assert judge_model() == "openai/from-file"
    monkeypatch.setenv("LAB_JUDGE_MODEL", "openai/from-env")
    assert judge_model() == "openai/from-env"
    assert judge_model("--judge-model", "openai/from-flag") == "openai/from-flag"
