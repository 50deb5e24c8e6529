/- IO.Net.echoServe (the echo server) on 127.0.0.1: clients (python3, the Lean of this
   toolchain has no socket client) get back exactly what they send, a port already in use
   fails with the socket's error while the first server keeps serving, and the serve returns
   the number of connections once maxConnections have closed. -/
import Init.IO.Echo

def python (script : String) (args : Array String := #[]) : IO String := do
  let out ← IO.Process.output { cmd := "python3", args := #["-c", script] ++ args }
  if out.exitCode != 0 then
    throw <| IO.userError s!"python3 failed: {out.stderr}"
  return out.stdout

/-- A port free on 127.0.0.1 right now (the kernel picks it). -/
def freePort : IO UInt16 := do
  let s ← python "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
  return s.trim.toNat!.toUInt16

/-- A client that connects (retrying while the server starts), sends `n` bytes in pieces,
    reads them back concurrently and says whether they came back exactly. -/
def client : String := "
import socket, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(200):
    try:
        c = socket.create_connection(('127.0.0.1', port), timeout=10)
        break
    except ConnectionRefusedError:
        time.sleep(0.05)
data = bytes((i * 7 + i // 251) % 256 for i in range(n))
def send():
    for i in range(0, n, 65536):
        c.sendall(data[i:i + 65536])
    c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
back = b''
while True:
    b = c.recv(65536)
    if not b:
        break
    back += b
t.join()
print(len(back), 'bytes back, equal:', back == data)
"

def main : IO Unit := do
  let port ← freePort
  let server ← IO.asTask (IO.Net.echoServe port 3) Task.Priority.dedicated
  IO.print (← python client #[toString port, "1"])
  try
    discard <| IO.Net.echoServe port 1
    IO.println "second server on the same port: no error"
  catch e =>
    IO.println s!"second server on the same port: {e}"
  IO.print (← python client #[toString port, "100000"])
  IO.print (← python client #[toString port, "1048576"])
  match server.get with
  | Except.ok n => IO.println s!"served: {n}"
  | Except.error e => IO.println s!"server: {e}"
