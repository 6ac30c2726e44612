"""A small HTTP client for the battery: one connection per call, a bound on every wait, an
optional client source address (127.0.0.2 is a second client), and raw-socket requests for
framing cases. No answer within the bound raises Hang."""

import datetime
import http.client
import json
import socket
import time


def parse_time(text):
    """An API timestamp ("2026-12-05T05:51:48.479Z") as a datetime, or None."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class Hang(Exception):
    """No answer within the time bound."""


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def is_json_error(self):
        body = self.json
        return (isinstance(body, dict) and isinstance(body.get("error"), dict)
                and isinstance(body["error"].get("code"), str) and isinstance(body["error"].get("message"), str))

    def brief(self):
        return f"{self.status} {self.text[:160]!r}"


class Client:
    def __init__(self, address, timeout=30, source=None, observe=None):
        self.address, self.timeout, self.source = address, timeout, source
        self.observe = observe  # called with (method, path, status) for every answer

    def request(self, method, path, body=None, token=None, raw=None, headers=None, timeout=None,
                content_type="application/json"):
        """body is JSON-encoded; raw is sent as it is."""
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
        if data is not None and content_type and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = content_type
        if token:
            hdrs["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection(self.address[0], self.address[1], timeout=timeout or self.timeout,
                                          source_address=(self.source, 0) if self.source else None)
        start = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=hdrs)
            answer = conn.getresponse()
            payload = answer.read()
        except socket.timeout as error:
            raise Hang(f"{method} {path}: no answer within {timeout or self.timeout} s") from error
        finally:
            conn.close()
        response = Response(answer.status, answer.getheaders(), payload, time.monotonic() - start)
        if self.observe:
            self.observe(method, path, response.status)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)


def connect(address, source=None, timeout=10):
    sock = socket.create_connection(address, timeout=timeout, source_address=(source, 0) if source else None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def parse_head(data):
    """(status, headers dict lower-cased, body) of a raw HTTP answer, or None if incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        status = 0
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return status, headers, data[end + 4:]


def raw_exchange(address, data, half_close=True, source=None, timeout=10, chunk=65536):
    """Sends bytes as they are and reads one answer: until its Content-Length is in, the
    connection closes, or timeout (Hang). Returns (Response or None if closed without an
    answer, note)."""
    start = time.monotonic()
    sock = connect(address, source=source, timeout=timeout)
    note = ""
    try:
        try:
            for i in range(0, len(data), chunk):
                sock.sendall(data[i:i + chunk])
        except (BrokenPipeError, ConnectionResetError) as error:
            note = f"the server stopped reading ({error.__class__.__name__}) after part of the request"
        except socket.timeout:
            raise Hang(f"the server stopped reading the request for {timeout} s")
        if half_close:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        received = b""
        deadline = start + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Hang(f"no complete answer within {timeout} s (got {len(received)} bytes)")
            sock.settimeout(remaining)
            try:
                piece = sock.recv(65536)
            except socket.timeout:
                raise Hang(f"no complete answer within {timeout} s (got {len(received)} bytes)")
            except ConnectionResetError:
                piece = b""
                note = (note + "; " if note else "") + "connection reset"
            if not piece:
                break
            received += piece
            head = parse_head(received)
            if head and "content-length" in head[1]:
                try:
                    if len(head[2]) >= int(head[1]["content-length"]):
                        break
                except ValueError:
                    pass
        head = parse_head(received)
        if head is None:
            return None, note or f"closed without an answer ({len(received)} bytes)"
        status, headers, body = head
        return Response(status, list(headers.items()), body, time.monotonic() - start), note
    finally:
        sock.close()
