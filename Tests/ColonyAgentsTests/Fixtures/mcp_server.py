"""A small MCP server over stdio (JSON-RPC 2.0, one message per line) for the tests.

Tools: `add` (read-only), `shout` (fails on empty text), `crash` (the process exits).
With argument `--silent` it never answers, to test the client's handshake timeout.
"""
import json
import sys

TOOLS = [
    {"name": "add", "description": "Add two integers.",
     "inputSchema": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]},
     "annotations": {"readOnlyHint": True}},
    {"name": "shout", "description": "Upper-case a text.",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string", "minLength": 1}}, "required": ["text"]}},
    {"name": "crash", "description": "Exit the server.", "inputSchema": {"type": "object", "properties": {}}},
]


def result(msg):
    method, params = msg["method"], msg.get("params", {})
    if method == "initialize":
        return {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "colony-test", "version": "1"}}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name, args = params["name"], params.get("arguments", {})
        if name == "add":
            return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}], "isError": False}
        if name == "shout":
            text = args.get("text", "")
            if not text:
                return {"content": [{"type": "text", "text": "text must not be empty"}], "isError": True}
            return {"content": [{"type": "text", "text": text.upper()}], "isError": False}
        if name == "crash":
            sys.exit(3)
    return None


for line in sys.stdin:
    if "--silent" in sys.argv:
        continue
    msg = json.loads(line)
    if "id" not in msg:
        continue
    res = result(msg)
    reply = {"jsonrpc": "2.0", "id": msg["id"]}
    if res is None:
        reply["error"] = {"code": -32601, "message": "unknown method " + msg["method"]}
    else:
        reply["result"] = res
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
