#!/usr/bin/env python3
"""The request set of tests/demos/http.sh: each case sends requests to the HTTP demo
(examples/http.lean) and compares every byte of the answers, then checks that the connection
was closed (reading to its end) or kept open (nothing more arrives, no end of stream).

    http_check.py PORT [BODY_SIZE]

Prints one PASS or FAIL line per case; exits 1 if any failed.  With BODY_SIZE (the server's
--body-size), only the cases about the body run.
"""
import socket
import sys
import time

PORT = int(sys.argv[1])
BODY_SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else None


def reply(status, body, conn=None, head=False, extra=""):
    header = f"HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    if conn:
        header += f"Connection: {conn}\r\n"
    return (header + "\r\n").encode() + (b"" if head else body)


HELLO = b"Hello, world\n"
OK = reply("200 OK", HELLO)
HEAD_OK = reply("200 OK", HELLO, head=True)
NOT_FOUND = reply("404 Not Found", b"Not Found\n")
NOT_ALLOWED = reply("405 Method Not Allowed", b"Method Not Allowed\n", extra="Allow: GET, HEAD\r\n")
BAD = reply("400 Bad Request", b"400 Bad Request\n", conn="close")
TOO_LARGE = reply("431 Request Header Fields Too Large",
                  b"431 Request Header Fields Too Large\n", conn="close")
NOT_IMPLEMENTED = reply("501 Not Implemented", b"501 Not Implemented\n", conn="close")

GET = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"


def padded(total):
    """A GET whose header, request line to blank line, is exactly `total` bytes."""
    base = len(b"GET / HTTP/1.1\r\nX-Pad: \r\n\r\n")
    return b"GET / HTTP/1.1\r\nX-Pad: " + b"p" * (total - base) + b"\r\n\r\n"


# A case: a name, its steps (the pieces to send, each after a short pause, and the exact bytes
# to expect back before the next step), and whether the server must close the connection.
CASES = [
    ("simple GET", [([GET], OK)], False),
    ("HEAD", [([b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n"], HEAD_OK)], False),
    ("GET with a query", [([b"GET /?a=1 HTTP/1.1\r\nHost: test\r\n\r\n"], OK)], False),
    ("keep-alive: 3 requests, one after the other",
     [([GET], OK), ([GET], OK), ([b"HEAD / HTTP/1.1\r\n\r\n"], HEAD_OK)], False),
    ("3 pipelined requests in one send",
     [([GET + b"HEAD / HTTP/1.1\r\n\r\n" + b"GET /x HTTP/1.1\r\n\r\n"], OK + HEAD_OK + NOT_FOUND)],
     False),
    ("pipelined, the last request split over two sends",
     [([GET + GET[:10], GET[10:]], OK + OK)], False),
    ("a request split into 1-byte sends", [([bytes([c]) for c in GET], OK)], False),
    ("404", [([b"GET /nope HTTP/1.1\r\nHost: test\r\n\r\n"], NOT_FOUND)], False),
    ("HEAD 404", [([b"HEAD /nope HTTP/1.1\r\n\r\n"], reply("404 Not Found", b"Not Found\n", head=True))],
     False),
    ("POST with a body: 405, body discarded, then GET",
     [([b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello" + GET], NOT_ALLOWED + OK)],
     False),
    ("POST, its body in a later send",
     [([b"POST / HTTP/1.1\r\ncontent-LENGTH:  11 \r\n\r\n", b"hello", b" world" + GET],
       NOT_ALLOWED + OK)], False),
    ("POST with a 1 MB body in pieces, then GET",
     [([b"PUT /up HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n"] + [b"b" * 100000] * 10 + [GET],
       NOT_ALLOWED + OK)], False),
    ("GET with a body", [([b"GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + GET], OK + OK)], False),
    ("the same Content-Length twice",
     [([b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab" + GET],
       NOT_ALLOWED + OK)], False),
    ("lower-case method: 405", [([b"get / HTTP/1.1\r\n\r\n"], NOT_ALLOWED)], False),
    ("HTTP/1.0: answered, then closed",
     [([b"GET / HTTP/1.0\r\n\r\n"], reply("200 OK", HELLO, conn="close"))], True),
    ("HTTP/1.0 with keep-alive, twice",
     [([b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"], reply("200 OK", HELLO, conn="keep-alive")),
      ([b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
       reply("200 OK", HELLO, conn="keep-alive", head=True))], False),
    ("Connection: close",
     [([b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"], reply("200 OK", HELLO, conn="close"))],
     True),
    ("Connection: close among options, then requests that are ignored",
     [([b"GET / HTTP/1.1\r\nConnection: foo, CLOSE\r\n\r\n" + GET], reply("200 OK", HELLO, conn="close"))],
     True),
    ("malformed request line", [([b"GARBAGE\r\n\r\n"], BAD)], True),
    ("request line without a version", [([b"GET /\r\n\r\n"], BAD)], True),
    ("HTTP/2.0", [([b"GET / HTTP/2.0\r\n\r\n"], BAD)], True),
    ("two spaces in the request line", [([b"GET  / HTTP/1.1\r\n\r\n"], BAD)], True),
    ("bare LF line ends", [([b"GET / HTTP/1.1\nHost: test\n\n"], BAD)], True),
    ("header line without a colon", [([b"GET / HTTP/1.1\r\nHost test\r\n\r\n"], BAD)], True),
    ("space before a header's colon", [([b"GET / HTTP/1.1\r\nHost : test\r\n\r\n"], BAD)], True),
    ("folded header line", [([b"GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n"], BAD)], True),
    ("control byte in a header value", [([b"GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n"], BAD)], True),
    ("a 400 after good pipelined requests", [([GET + b"BAD\r\n\r\n" + GET], OK + BAD)], True),
    ("bad Content-Length", [([b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"], BAD)], True),
    ("negative Content-Length", [([b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"], BAD)], True),
    ("empty Content-Length", [([b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"], BAD)], True),
    ("conflicting Content-Lengths",
     [([b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"], BAD)], True),
    ("Transfer-Encoding: chunked: 501",
     [([b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"], NOT_IMPLEMENTED)],
     True),
    ("a header of exactly 8192 bytes", [([padded(8192)], OK)], False),
    ("a header of 8193 bytes: 431", [([padded(8193)], TOO_LARGE)], True),
    ("a 20 KiB header: 431", [([padded(20480)], TOO_LARGE)], True),
    ("a 20 KiB header in pieces: 431",
     [([padded(20480)[i:i + 1000] for i in range(0, 20480, 1000)], TOO_LARGE)], True),
]

if BODY_SIZE is not None:
    BIG = b"x" * BODY_SIZE
    CASES = [
        (f"GET, a body of {BODY_SIZE} bytes", [([GET, GET], reply("200 OK", BIG) * 2)], False),
        (f"HEAD, a body of {BODY_SIZE} bytes", [([b"HEAD / HTTP/1.1\r\n\r\n"], reply("200 OK", BIG, head=True))],
         False),
    ]


def read_exactly(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def run(steps, closes):
    """None if the server answered as expected, else what went wrong."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for pieces, expected in steps:
            for p in pieces:
                s.sendall(p)
                if len(pieces) > 1:
                    time.sleep(0.002)
            got = read_exactly(s, len(expected))
            if got != expected:
                return f"expected {expected[:300]!r}..., got {got[:300]!r}..."
        if closes:
            rest = s.recv(65536)
            if rest:
                return f"more bytes after the last answer: {rest[:200]!r}"
        else:
            s.settimeout(0.2)
            try:
                rest = s.recv(65536)
                return "connection closed" if not rest else f"more bytes: {rest[:200]!r}"
            except socket.timeout:
                pass
        return None
    except OSError as e:
        return f"{type(e).__name__}: {e}"
    finally:
        s.close()


failed = 0
for name, steps, closes in CASES:
    why = run(steps, closes)
    if why is None:
        print(f"PASS: {name}")
    else:
        failed += 1
        print(f"FAIL: {name}: {why}")
sys.exit(1 if failed else 0)
