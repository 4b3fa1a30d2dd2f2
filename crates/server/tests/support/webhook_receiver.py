#!/usr/bin/env python3
"""A webhook receiver for the tests: verifies Standard Webhooks signatures with its own code
(Python's hmac, not the portal's), answers as scripted, and tells what it received.

    python3 webhook_receiver.py [PORT]

Prints the port it listens on, then serves:
  POST /control   {"secret": "whsec_...", "script": [500, 500, 200], "retry_after": 1, "delay_ms": 300,
                   "reply": "text"}
                  sets the secret to verify with, the statuses of the next answers (then 200),
                  how long each answer takes, and what its body says
  GET  /received  every webhook request so far, as JSON
  POST anything else: a webhook delivery
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"secrets": [], "script": [], "retry_after": None, "delay_ms": 0, "reply": None, "received": []}


def verify(headers, body):
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "").split(" ")
    try:
        if abs(time.time() - int(timestamp)) > 300:
            return False
    except ValueError:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for secret in state["secrets"]:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, s) for s in signatures):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/received":
            with lock:
                body = json.dumps(state["received"]).encode()
            return self.answer(200, body, [("content-type", "application/json")])
        self.answer(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/control":
            control = json.loads(body)
            with lock:
                if "secret" in control:
                    state["secrets"] = [control["secret"]] + control.get("also", [])
                state["script"] = list(control.get("script", []))
                state["retry_after"] = control.get("retry_after")
                state["delay_ms"] = control.get("delay_ms", 0)
                state["reply"] = control.get("reply")
            return self.answer(204)
        with lock:
            status = state["script"].pop(0) if state["script"] else 200
            state["received"].append({
                "id": self.headers.get("webhook-id"),
                "signatures": self.headers.get("webhook-signature", "").count("v1,"),
                "verified": verify(self.headers, body),
                "status": status,
                "at": time.time(),
                "event": json.loads(body) if body else None,
                "body": body.decode("utf-8", "replace"),
                "headers": {k.lower(): v for k, v in self.headers.items()
                            if k.lower() in ("content-type", "user-agent", "webhook-id", "webhook-timestamp")},
            })
            retry_after = state["retry_after"]
            delay = state["delay_ms"] / 1000
            reply = state["reply"]
        time.sleep(delay)
        headers = [("retry-after", str(retry_after))] if retry_after and status in (429, 503) else []
        self.answer(status, (reply if reply is not None else f"answered {status}").encode(), headers)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
