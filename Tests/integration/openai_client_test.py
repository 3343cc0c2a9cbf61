"""Drives `colony serve` with the official OpenAI Python client (pip install openai).

Starts the server on a free loopback port with the model given as argv[1] (default: the
real SmolLM2 if present), runs the checks, stops the server with SIGTERM and checks that it
exits cleanly. Prints one line per check and a final "N passed, N failed" line.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import openai

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, ".build", "debug", "colony")
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port):
    proc = subprocess.Popen([BINARY, "serve", "--model", MODEL, "--port", str(port), "--api-key", "test-key"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("colony serve exited: " + proc.stderr.read())
            time.sleep(0.2)
    raise RuntimeError("colony serve did not start listening within 60 s")


results = []


def check(name, fn):
    try:
        fn()
        results.append(True)
        print(f"PASS {name}")
    except Exception as e:  # a failed check is reported, the others still run
        results.append(False)
        print(f"FAIL {name}: {e!r}")


def main():
    port = free_port()
    proc = start(port)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test-key", max_retries=0)
    model = client.models.list().data[0].id

    def chat():
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is the capital of France?"}],
                                           max_tokens=24, temperature=0)
        assert r.choices[0].message.role == "assistant"
        assert r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 0
        if "SmolLM2" in MODEL:
            assert "Paris" in r.choices[0].message.content, r.choices[0].message.content

    def stream():
        plain = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name a color."}],
                                               max_tokens=16, temperature=0).choices[0].message.content
        chunks = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name a color."}],
                                                max_tokens=16, temperature=0, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == plain, (text, plain)

    def completion():
        r = client.completions.create(model=model, prompt="The quick brown fox", max_tokens=8, temperature=0)
        assert r.choices[0].text and r.choices[0].finish_reason in ("length", "stop")

    def json_mode():
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Describe a cat as JSON."}],
                                           max_tokens=120, temperature=0, response_format={"type": "json_object"})
        content = r.choices[0].message.content
        if r.choices[0].finish_reason == "stop":
            assert isinstance(json.loads(content), dict), content
        else:
            assert content.startswith("{"), content

    def errors():
        try:
            client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
            raise AssertionError("expected 404")
        except openai.NotFoundError as e:
            assert "does not exist" in str(e)
        try:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], max_tokens=0)
            raise AssertionError("expected 400")
        except openai.BadRequestError as e:
            assert "max_tokens" in str(e)
        bad = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0)
        try:
            bad.models.list()
            raise AssertionError("expected 401")
        except openai.AuthenticationError:
            pass

    def tool_call():
        tools = [{"type": "function", "function": {"name": "add", "description": "Add two numbers.",
                  "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                                 "required": ["a", "b"]}}}]
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is 2 plus 3?"}],
                                           tools=tools, tool_choice="required", max_tokens=64, temperature=0)
        choice = r.choices[0]
        assert choice.finish_reason == "tool_calls", choice
        call = choice.message.tool_calls[0]
        assert call.function.name == "add"
        args = json.loads(call.function.arguments)
        assert set(args) == {"a", "b"} and all(isinstance(v, (int, float)) for v in args.values()), args

    def json_schema():
        schema = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}}}
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Name a city and its country."}],
                                           max_tokens=64, temperature=0,
                                           response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}})
        if r.choices[0].finish_reason == "stop":
            assert set(json.loads(r.choices[0].message.content)) == {"city", "country"}

    for name, fn in [("chat completion", chat), ("streaming equals non-streaming", stream),
                     ("text completion", completion), ("json_object mode", json_mode), ("errors", errors),
                     ("tool call", tool_call), ("json_schema", json_schema)]:
        check(name, fn)

    # Graceful shutdown: a stream in flight when SIGTERM arrives still completes.
    def graceful():
        chunks = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Count to fifty."}],
                                                max_tokens=48, temperature=0, stream=True)
        got, finish = 0, None
        for c in chunks:
            if got == 0:
                proc.send_signal(signal.SIGTERM)
            got += 1
            if c.choices and c.choices[0].finish_reason:
                finish = c.choices[0].finish_reason
        assert finish in ("length", "stop"), finish
        assert proc.wait(timeout=30) == 0, "the server did not exit cleanly"
    check("graceful shutdown finishes the stream in flight", graceful)
    if proc.poll() is None:
        proc.kill()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
