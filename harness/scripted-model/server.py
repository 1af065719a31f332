#!/usr/bin/env python3
"""A scripted model server: speaks OpenAI's chat-completions and Responses and Anthropic's
Messages wire formats (with tool calls, streamed or not) and plays conversations written in
advance.

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

A request is answered from the first conversation whose `match` occurs in one of its user
messages (a conversation without `match` takes any request). Which reply: the number of
assistant messages the request holds after the first user message that matched, so the
server keeps no state and any number of agents can talk to it at once. Past the end of its list a conversation repeats its last
reply. Without `usage`, tokens are counted as characters / 4.

The same script serves every format: `tool_calls` become chat-completions tool calls,
Responses function_call items or Anthropic tool_use blocks. Messages requests without tools (an agent's side calls for titles and the
like) are answered "ok" without touching the script.

Every request is appended to the log as one JSON line: path, the conversation it matched,
the reply index, whether a key came (Authorization or x-api-key), and the request body.

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
    """(conversation index, reply index, reply) for a request's messages."""
    users = [(i, text_of(m.get("content"))) for i, m in enumerate(messages) if m.get("role") == "user"]
    for n, conv in enumerate(SCRIPT.get("conversations", [])):
        match = conv.get("match", "")
        start = next((i for i, text in users if match in text), None)
        if start is None:
            continue
        # Agents that send worked examples first (Aider) have assistant turns before the
        # task; only those after it count.
        turn = sum(1 for m in messages[start:] if m.get("role") == "assistant")
        replies = conv.get("replies") or [{"content": "nothing scripted"}]
        index = min(turn, len(replies) - 1)
        return n, index, replies[index]
    return None, 0, {"content": "no scripted conversation matches this request"}


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
        route = self.path.split("?")[0].rstrip("/")
        if route.endswith("/chat/completions"):
            self.openai(body)
        elif route.endswith("/messages/count_tokens"):
            self.send_json(200, {"input_tokens": usage_of({}, body.get("messages") or [])["prompt_tokens"]})
        elif route.endswith("/messages"):
            self.anthropic(body)
        elif route.endswith("/responses"):
            self.responses_api(body)
        else:
            self.log_request_body(None, 0, body)
            self.send_json(404, {"error": {"message": f"no route {self.path}; this server speaks /v1/chat/completions, /v1/messages and /v1/responses"}})

    def log_request_body(self, conv, turn, body):
        if not LOG_PATH:
            return
        with LOG_LOCK, open(LOG_PATH, "a", encoding="utf-8") as f:
            f.write(
                json.dumps(
                    {
                        "time": time.time(),
                        "path": self.path,
                        "conversation": conv,
                        "reply": turn,
                        "authorization": bool(self.headers.get("Authorization") or self.headers.get("x-api-key")),
                        "body": body,
                    }
                )
                + "\n"
            )

    def openai(self, body):
        messages = body.get("messages") or []
        conv, turn, reply = pick(messages)
        self.log_request_body(conv, turn, body)
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

    def anthropic(self, body):
        """Anthropic's Messages API, streamed or not. Requests without tools are an agent's
        side calls (titles, summaries): they get a short text and do not use the script."""
        messages = body.get("messages") or []
        if body.get("tools"):
            conv, turn, reply = pick(messages)
        else:
            conv, turn, reply = None, 0, {"content": "ok"}
        self.log_request_body(conv, turn, body)
        u = usage_of(reply, messages)
        usage = {"input_tokens": u["prompt_tokens"], "output_tokens": u["completion_tokens"]}
        blocks = []
        if reply.get("content"):
            blocks.append({"type": "text", "text": reply["content"]})
        for i, c in enumerate(reply.get("tool_calls") or []):
            args = c.get("arguments", {})
            blocks.append(
                {
                    "type": "tool_use",
                    "id": c.get("id", f"toolu_{turn}_{i}"),
                    "name": c["name"],
                    "input": json.loads(args) if isinstance(args, str) else args,
                }
            )
        stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        message = {
            "id": f"msg_scripted_{turn}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "scripted"),
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            self.send_json(200, message)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(kind, data):
            data = {"type": kind, **data}
            self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

        event(
            "message_start",
            {"message": {**message, "content": [], "stop_reason": None, "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1}}},
        )
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                event("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}})
                event("content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": b["text"]}})
            else:
                event("content_block_start", {"index": i, "content_block": {**b, "input": {}}})
                event(
                    "content_block_delta",
                    {"index": i, "delta": {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}},
                )
            event("content_block_stop", {"index": i})
        event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": usage["output_tokens"]}})
        event("message_stop", {})
        self.wfile.flush()

    def responses_api(self, body):
        """OpenAI's Responses API (Codex), streamed or not. The input's items become messages:
        user text, and one assistant turn per run of the model's own items."""
        items = body.get("input") or []
        if isinstance(items, str):
            items = [{"type": "message", "role": "user", "content": items}]
        messages, in_turn = [], False
        for it in items:
            mine = it.get("type") in ("function_call", "reasoning") or (
                it.get("type") == "message" and it.get("role") == "assistant"
            )
            if mine and not in_turn:
                messages.append({"role": "assistant", "content": ""})
            elif not mine and it.get("type") == "message":
                messages.append({"role": it.get("role"), "content": it.get("content")})
            in_turn = mine
        conv, turn, reply = pick(messages)
        self.log_request_body(conv, turn, body)
        u = usage_of(reply, messages)
        output = []
        if reply.get("content"):
            output.append(
                {
                    "type": "message",
                    "id": f"msg_scripted_{turn}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": reply["content"], "annotations": []}],
                }
            )
        for c in tool_calls_of(reply, turn):
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{c['id']}",
                    "call_id": c["id"],
                    "name": c["function"]["name"],
                    "arguments": c["function"]["arguments"],
                    "status": "completed",
                }
            )
        response = {
            "id": f"resp_scripted_{turn}",
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model", "scripted"),
            "status": "completed",
            "output": output,
            "usage": {
                "input_tokens": u["prompt_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": u["completion_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": u["total_tokens"],
            },
        }
        if not body.get("stream"):
            self.send_json(200, response)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(kind, data):
            data = {"type": kind, **data}
            self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

        event("response.created", {"response": {**response, "status": "in_progress", "output": []}})
        for i, item in enumerate(output):
            event("response.output_item.added", {"output_index": i, "item": item})
            event("response.output_item.done", {"output_index": i, "item": item})
        event("response.completed", {"response": response})
        self.wfile.flush()

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
