/-
echo: a TCP echo server on the loopback interface.

    echo PORT [MAXCONN]

Listens on 127.0.0.1:PORT and echoes back every byte each client sends, until MAXCONN
connections were served (default 0: forever), then prints how many were served.  Under the
io_uring backend one thread serves every connection at once through its ring; under
`LEAN_IO_BACKEND=posix` the same program is the naive blocking server, one connection at a time.
-/
import Init.IO.Echo

def usage : String := "usage: echo PORT [MAXCONN]"

def parsePortMax (port max : String) : Option (UInt16 × UInt32) :=
  match port.toNat?, max.toNat? with
  | some p, some m =>
    if p < 65536 && m < 4294967296 then some (p.toUInt16, m.toUInt32) else none
  | _, _ => none

def parseArgs : List String → Option (UInt16 × UInt32)
  | [port] => parsePortMax port "0"
  | [port, max] => parsePortMax port max
  | _ => none

def main (args : List String) : IO UInt32 := do
  match parseArgs args with
  | none =>
    IO.eprintln usage
    return 2
  | some (port, max) =>
    try
      let served ← IO.Net.echoServe port max
      IO.println s!"echo: served {served} connections"
      return 0
    catch e =>
      IO.eprintln s!"echo: {e}"
      return 1
