"""A plain Python upstream for `backout proxy` tests: JSON echo, big streamed downloads, body
counting uploads, a slow route, and a minimal WebSocket echo. Prints its port, then serves."""
import base64
import hashlib
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHUNK = 64 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path.startswith("/big/"):
            size = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b"x" * CHUNK
            sent = 0
            while sent < size:
                part = block[: min(CHUNK, size - sent)]
                self.wfile.write(part)
                sent += len(part)
            return
        if self.path.startswith("/slow/"):
            time.sleep(float(self.path.split("/")[2]))
        self.reply(200, {"ok": True, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})

    def do_POST(self):
        received = 0
        digest = hashlib.sha256()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                left = size
                while left:
                    data = self.rfile.read(min(CHUNK, left))
                    digest.update(data)
                    left -= len(data)
                received += size
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                data = self.rfile.read(min(CHUNK, left))
                if not data:
                    break
                digest.update(data)
                received += len(data)
                left -= len(data)
        self.reply(200, {"received": received, "sha256": digest.hexdigest()})

    def websocket(self):
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        conn = self.connection
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(self.rfile.read(2), "big")
            elif length == 127:
                length = int.from_bytes(self.rfile.read(8), "big")
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 0x8:
                conn.sendall(b"\x88\x00")
                return
            reply = b"echo: " + payload
            conn.sendall(bytes([0x81, len(reply)]) + reply if len(reply) < 126 else bytes([0x81, 126]) + len(reply).to_bytes(2, "big") + reply)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
