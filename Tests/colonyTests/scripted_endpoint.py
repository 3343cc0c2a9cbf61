"""A scripted OpenAI-compatible endpoint for tests: an agent whose task is
"remember TEXT" saves TEXT (memory.save); one whose task is "recall WORDS" searches for
WORDS (memory.search); after a tool result, it answers with that result (final_answer).
Usage: python3 scripted_endpoint.py PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def reply(messages):
    results = [m for m in messages if m["role"] == "tool"]
    if results:
        return "final_answer", {"answer": results[-1]["content"]}
    task = next(m["content"] for m in messages if m["role"] == "user")
    if task.startswith("remember "):
        return "memory.save", {"text": task[len("remember "):]}
    return "memory.search", {"query": task[len("recall "):]}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name, arguments = reply(body["messages"])
        out = json.dumps({
            "id": "scripted", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": name, "arguments": json.dumps(arguments)}}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
