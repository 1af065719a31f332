#!/usr/bin/env python3
"""A scripted model server: speaks the OpenAI chat-completions wire format (with tool calls,
streamed or not) and plays conversations written in advance.

It stands in for a model provider when an agent's whole path has to be proven without a
vendor account: the real agent binary, in its container, behind the egress proxy, talking
to this server as it would to its provider. mergebench's own tests run it in a container on
a Docker network of their own; teams can do the same to smoke-test an adapter.

Usage: python3 server.py SCRIPT.json [--port 8000] [--log requests.jsonl]

SCRIPT.json:
  {"conversations": [
     {"match": "text found in the first user message",
      "replies": [
        {"content": "optional text",
         "tool_calls": [{"name": "write_file", "arguments": {"path": "a.py", "content": "..."}}],
         "usage": {"input_tokens": 100, "output_tokens": 20}},
        {"tool_calls": [{"name": "finish", "arguments": {"summary": "done"}}]}
      ]}
  ]}

A request is answered from the first conversation whose `match` occurs in its first user
message (a conversation without `match` takes any request). Which reply: the number of
assistant messages the request already holds, so the server keeps no state and any number
of agents can talk to it at once. Past the end of its list a conversation repeats its last
reply. Without `usage`, tokens are counted as characters / 4.

Every request is appended to the log as one JSON line: path, the conversation it matched,
the reply index, whether an Authorization header came, and the request body.

Only the Python standard library is used.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPT = {"conversations": []}
LOG_PATH = None
LOG_LOCK = threading.Lock()


def text_of(content):
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def pick(messages):
    first_user = next((text_of(m.get("content")) for m in messages if m.get("role") == "user"), "")
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    for i, conv in enumerate(SCRIPT.get("conversations", [])):
        match = conv.get("match", "")
        if match in first_user:
            replies = conv.get("replies") or [{"content": "nothing scripted"}]
            return i, min(turn, len(replies) - 1), replies[min(turn, len(replies) - 1)]
    return None, turn, {"content": "no scripted conversation matches this request"}


def usage_of(reply, messages):
    u = reply.get("usage") or {}
    prompt = sum(len(text_of(m.get("content"))) for m in messages) // 4
    completion = (len(reply.get("content") or "") + len(json.dumps(reply.get("tool_calls") or []))) // 4
    return {
        "prompt_tokens": u.get("input_tokens", prompt),
        "completion_tokens": u.get("output_tokens", completion),
        "total_tokens": u.get("input_tokens", prompt) + u.get("output_tokens", completion),
    }


def tool_calls_of(reply, turn):
    calls = []
    for i, c in enumerate(reply.get("tool_calls") or []):
        args = c.get("arguments", {})
        calls.append(
            {
                "id": c.get("id", f"call_{turn}_{i}"),
                "type": "function",
                "function": {
                    "name": c["name"],
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
        )
    return calls


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("scripted-model: " + (fmt % args) + "\n")

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "mergebench"}]})
        elif self.path.startswith("/health"):
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": {"message": "the body is not JSON"}})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": f"no route {self.path}; this server speaks /v1/chat/completions"}})
            return
        messages = body.get("messages") or []
        conv, turn, reply = pick(messages)
        if LOG_PATH:
            with LOG_LOCK, open(LOG_PATH, "a", encoding="utf-8") as f:
                f.write(
                    json.dumps(
                        {
                            "time": time.time(),
                            "path": self.path,
                            "conversation": conv,
                            "reply": turn,
                            "authorization": bool(self.headers.get("Authorization")),
                            "body": body,
                        }
                    )
                    + "\n"
                )
        calls = tool_calls_of(reply, turn)
        usage = usage_of(reply, messages)
        finish = "tool_calls" if calls else "stop"
        model = body.get("model", "scripted")
        created = int(time.time())
        rid = f"chatcmpl-scripted-{turn}"
        if body.get("stream"):
            self.stream(rid, created, model, reply, calls, finish, usage, body)
            return
        message = {"role": "assistant", "content": reply.get("content")}
        if calls:
            message["tool_calls"] = calls
        self.send_json(
            200,
            {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            },
        )

    def stream(self, rid, created, model, reply, calls, finish, usage, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def chunk(delta, finish_reason=None, extra=None):
            obj = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            if extra:
                obj.update(extra)
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")

        chunk({"role": "assistant", "content": reply.get("content") or ""})
        for i, c in enumerate(calls):
            chunk({"tool_calls": [{"index": i, **c}]})
        chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            obj = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage}
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main():
    global SCRIPT, LOG_PATH
    p = argparse.ArgumentParser(description="A scripted OpenAI-compatible model server")
    p.add_argument("script")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log", default=None)
    a = p.parse_args()
    with open(a.script, encoding="utf-8") as f:
        SCRIPT = json.load(f)
    LOG_PATH = a.log
    server = ThreadingHTTPServer(("0.0.0.0", a.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"scripted-model: listening on :{a.port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
