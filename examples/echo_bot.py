"""A livechat bot: answers whoever mentions it, or messages it, with what they said."""

import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = os.environ["LIVECHAT_BOT_KEY"].encode()  # printed by `livechat bot … --webhook URL`


class Bot(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stamp = self.headers["X-Livechat-Timestamp"]
        mac = hmac.new(KEY, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(f"sha256={mac}", self.headers["X-Livechat-Signature"])
        if not signed or abs(time.time() - int(stamp)) > 300:
            self.send_error(401)  # not from livechat, or replayed
            return
        message = json.loads(body)["message"]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(f"{message['author']['name']}, you said: {message['body']}".encode())


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8001"))), Bot).serve_forever()
