"""One keep-alive connection, N requests one after the other, each answer read whole before
the next request: a server whose per-request loop grows its stack dies before the end.

    python3 tests/demos/http_long.py PORT N     (prints "N answers"; exit 1 on a short one)
"""
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
s.sendall(request)
first = b""
while b"\r\n\r\n" not in first:
    first += s.recv(4096)
head, _, body = first.partition(b"\r\n\r\n")
length = int([line.split(b":", 1)[1] for line in head.split(b"\r\n")
              if line.lower().startswith(b"content-length:")][0])
while len(body) < length:
    body += s.recv(4096)
size = len(head) + 4 + length
for i in range(1, n):
    s.sendall(request)
    got = 0
    while got < size:
        chunk = s.recv(size - got)
        if not chunk:
            print(f"the connection ended after {i} answers")
            sys.exit(1)
        got += len(chunk)
print(f"{n} answers")
