from lab.models import llm


def test_streamed_completion_replays(cassette, api_base):
    deltas = []
    config = llm.CallConfig("openai/echo", api_base, timeout=10, max_retries=0, backoff=0)
    done = llm.complete([{"role": "user", "content": "one two three four five"}], config, on_delta=deltas.append)
    assert done.text == "one two three four five"
    assert "".join(deltas) == done.text and len(deltas) >= 2
    assert done.prompt_tokens == 5 and done.completion_tokens == 5
    assert done.cost_usd == 0.0
