/-
http: a minimal HTTP/1.1 server in Lean on fibers (`Init.IO.Net`), with the naive blocking server
beside it as the baseline; both share one parser, pure Lean over the received bytes.

    http [--threads N] [--blocking] [--plain-recv] [--body-size B] [--max-header H] [--host H] PORT

`GET /` answers `200` with a body of B bytes (default 13, `Hello, world\n`; any other B is B
bytes of `x`), `HEAD /` the same headers without the body; any other path is `404`, any other
method `405`.  Every response has a `Content-Length`.  Connections are kept alive (HTTP/1.1,
unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`), and pipelined requests
are answered in order, the answers to one receive going out in one send.  A request body with
a `Content-Length` is read and discarded.  The connection is answered and then closed on:
  * a malformed request (request line, header line, a bad or conflicting `Content-Length`):
    `400 Bad Request`;
  * a header (request line to blank line) longer than H bytes (`--max-header`, default 8192):
    `431 Request Header Fields Too Large`;
  * any `Transfer-Encoding` (chunked bodies are not supported): `501 Not Implemented`.

Fiber mode (the default): N threads (default 1), each a `Fiber.run` scheduler with a listener of
its own on the same address (`SO_REUSEPORT`) and a fiber per connection, which reads through a
`Receiver` (one multishot recv per connection, armed once); `--plain-recv`: a `recv` per read
instead, into one buffer that passes through the ring and comes back.  `--blocking`: one
listener and one dedicated thread per connection making blocking calls.  It prints
`http: listening on ADDR` once every listener is bound (PORT 0 picks a free port) and serves
until killed.  Build: `lean -c http.c http.lean && leanc -O3 -o http http.c`; run under
`LEAN_IO_BACKEND=uring` or `=posix`.
-/
import Init.IO.Net
open IO Net

structure Config where
  threads : Nat := 1
  blocking : Bool := false
  plainRecv : Bool := false
  bodySize : Nat := 13
  maxHeader : Nat := 8192
  host : String := "127.0.0.1"
  port : Option Nat := none

def usage : String :=
  "usage: http [--threads N] [--blocking] [--plain-recv] [--body-size B] [--max-header H] [--host H] PORT"

partial def parseArgs (cfg : Config) : List String → Option Config
  | [] => if cfg.port.isSome then some cfg else none
  | "--threads" :: n :: rest => match n.toNat? with
    | some n => if n > 0 then parseArgs { cfg with threads := n } rest else none
    | none => none
  | "--blocking" :: rest => parseArgs { cfg with blocking := true } rest
  | "--plain-recv" :: rest => parseArgs { cfg with plainRecv := true } rest
  | "--body-size" :: n :: rest => match n.toNat? with
    | some n => parseArgs { cfg with bodySize := n } rest
    | none => none
  | "--max-header" :: n :: rest => match n.toNat? with
    | some n => if n > 0 then parseArgs { cfg with maxHeader := n } rest else none
    | none => none
  | "--host" :: h :: rest => parseArgs { cfg with host := h } rest
  | p :: rest => match p.toNat?, cfg.port with
    | some p, none => if p < 65536 then parseArgs { cfg with port := some p } rest else none
    | _, _ => none

/-! Responses, built once: a request copies its answer into the batch to send. -/

/-- The prepared responses.  `table` is indexed by `(kind * 3 + conn) * 2 + head`: kind 0 is
`200`, 1 `404`, 2 `405`; conn 0 adds no `Connection` header (HTTP/1.1 kept alive), 1 adds
`close`, 2 `keep-alive` (HTTP/1.0 kept alive); head 1 leaves out the body. -/
structure Replies where
  table : Array ByteArray
  badRequest : ByteArray
  tooLarge : ByteArray
  notImplemented : ByteArray

def response (status extra : String) (body : ByteArray) (conn : Nat) (head : Bool) : ByteArray :=
  let connection := match conn with
    | 1 => "Connection: close\r\n"
    | 2 => "Connection: keep-alive\r\n"
    | _ => ""
  let header := s!"HTTP/1.1 {status}\r\n{extra}Content-Type: text/plain\r\n" ++
    s!"Content-Length: {body.size}\r\n{connection}\r\n"
  if head then header.toUTF8 else header.toUTF8 ++ body

def Replies.make (bodySize : Nat) : Replies := Id.run do
  let hello := if bodySize == 13 then "Hello, world\n".toUTF8
    else ByteArray.mk (mkArray bodySize 120)
  let kinds := #[("200 OK", "", hello), ("404 Not Found", "", "Not Found\n".toUTF8),
    ("405 Method Not Allowed", "Allow: GET, HEAD\r\n", "Method Not Allowed\n".toUTF8)]
  let mut table := #[]
  for k in kinds do
    for conn in [0:3] do
      table := table.push (response k.1 k.2.1 k.2.2 conn false)
      table := table.push (response k.1 k.2.1 k.2.2 conn true)
  let closing (status : String) := response status "" (status ++ "\n").toUTF8 1 false
  { table := table, badRequest := closing "400 Bad Request",
    tooLarge := closing "431 Request Header Fields Too Large",
    notImplemented := closing "501 Not Implemented" }

/-! The parser: indices into the received bytes, one class lookup per byte, no copies. -/

/-- Byte classes, one bit each: a token character (methods, header names, `Connection`
options), a field-value character, a request-target character, optional whitespace. -/
def tcharBit : UInt8 := 1
def valueBit : UInt8 := 2
def targetBit : UInt8 := 4
def owsBit : UInt8 := 8

def classOf (c : Nat) : UInt8 :=
  let tchar := (48 ≤ c && c ≤ 57) || (65 ≤ c && c ≤ 90) || (97 ≤ c && c ≤ 122) ||
    "!#$%&'*+-.^_`|~".contains (Char.ofNat c)
  let value := c == 9 || (32 ≤ c && c != 127)
  let target := 32 < c && c != 127
  let ows := c == 9 || c == 32
  (if tchar then tcharBit else 0) ||| (if value then valueBit else 0) |||
    (if target then targetBit else 0) ||| (if ows then owsBit else 0)

def classes : ByteArray := ByteArray.mk ((List.range 256).toArray.map classOf)

@[inline] def inClass (bit : UInt8) (c : UInt8) : Bool := (classes.get! c.toNat &&& bit) != 0

/-- The first index from `i` on, below `stop`, whose byte is not of class `bit`; or `stop`. -/
partial def scan (b : ByteArray) (bit : UInt8) (i stop : Nat) : Nat :=
  if i < stop && inClass bit (b.get! i) then scan b bit (i + 1) stop else i

/-- `[s, e)` without its trailing whitespace: the end. -/
partial def trimEnd (b : ByteArray) (s e : Nat) : Nat :=
  if s < e && inClass owsBit (b.get! (e - 1)) then trimEnd b s (e - 1) else e

/-- Whether the bytes from `i` on are `lit`'s from `j` on, ASCII letters in either case when
`fold`. -/
partial def bytesAt (b : ByteArray) (i : Nat) (lit : ByteArray) (fold : Bool) (j : Nat := 0) :
    Bool :=
  if j ≥ lit.size then true else
  let c := b.get! (i + j)
  let c := if fold && 65 ≤ c && c ≤ 90 then c + 32 else c
  c == lit.get! j && bytesAt b i lit fold (j + 1)

/-- Whether `[i, e)` is `lit` (lower case), in any case. -/
def isName (b : ByteArray) (i e : Nat) (lit : ByteArray) : Bool :=
  e - i == lit.size && bytesAt b i lit true

def getLit : ByteArray := "GET".toUTF8
def headLit : ByteArray := "HEAD".toUTF8
def versionLit : ByteArray := "HTTP/1.1\r\n".toUTF8
def contentLengthLit : ByteArray := "content-length".toUTF8
def transferEncodingLit : ByteArray := "transfer-encoding".toUTF8
def connectionLit : ByteArray := "connection".toUTF8
def closeLit : ByteArray := "close".toUTF8
def keepAliveLit : ByteArray := "keep-alive".toUTF8

/-- Whether the bytes from `i` below `stop` can begin `HTTP/1.0\r\n` or `HTTP/1.1\r\n`. -/
partial def versionPrefix (b : ByteArray) (i stop : Nat) (j : Nat := 0) : Bool :=
  if j ≥ versionLit.size || i + j ≥ stop then true else
  let c := b.get! (i + j)
  let ok := if j == 7 then c == 48 || c == 49 else c == versionLit.get! j
  ok && versionPrefix b i stop (j + 1)

/-- Whether `[i, e)`, one option of a comma-separated list, names `lit` among them. -/
partial def hasToken (b : ByteArray) (i e : Nat) (lit : ByteArray) : Bool :=
  if i ≥ e then false else
  let t := scan b tcharBit i e
  if t == i then hasToken b (i + 1) e lit
  else isName b i t lit || hasToken b t e lit

/-- A `Content-Length` value: digits only (at most 18: nothing near a real limit). -/
partial def digits (b : ByteArray) (i e acc : Nat) : Option Nat :=
  if i ≥ e then some acc else
  let c := b.get! i
  if 48 ≤ c && c ≤ 57 then digits b (i + 1) e (acc * 10 + c.toNat - 48) else none

def contentLength (b : ByteArray) (i e : Nat) : Option Nat :=
  if i < e && e - i ≤ 18 then digits b i e 0 else none

/-- The header lines after the request line. -/
inductive Head where
  | short -- more bytes are needed
  | bad (reply : ByteArray) -- answer with `reply` and close
  -- The blank line ends at `next`; the body's length; `Connection` said close, keep-alive.
  | done (next bodyLen : Nat) (close keep : Bool)

instance : Inhabited Head := ⟨Head.short⟩

/-- The header lines from `i` on, none read at or past `stop`; `limit` is where the maximum
header size ends. -/
partial def headers (r : Replies) (b : ByteArray) (i stop limit : Nat) (length : Option Nat)
    (close keep : Bool) : Head :=
  let short := if stop == limit then Head.bad r.tooLarge else Head.short
  if i ≥ stop then short else
  if b.get! i == 13 then
    if i + 1 ≥ stop then short
    else if b.get! (i + 1) == 10 then Head.done (i + 2) (length.getD 0) close keep
    else Head.bad r.badRequest
  else
  -- A name right up to the colon: a line that starts with whitespace (obsolete folding) or has
  -- whitespace before its colon is malformed.
  let ne := scan b tcharBit i stop
  if ne == stop then short else
  if ne == i || b.get! ne != 58 then Head.bad r.badRequest else
  let vs := scan b owsBit (ne + 1) stop
  let ve := scan b valueBit vs stop
  if ve == stop then short else
  if b.get! ve != 13 then Head.bad r.badRequest else
  if ve + 1 == stop then short else
  if b.get! (ve + 1) != 10 then Head.bad r.badRequest else
  let vend := trimEnd b vs ve
  let next := ve + 2
  if isName b i ne contentLengthLit then
    match contentLength b vs vend, length with
    | some n, none => headers r b next stop limit (some n) close keep
    | some n, some m =>
      if n == m then headers r b next stop limit length close keep else Head.bad r.badRequest
    | none, _ => Head.bad r.badRequest
  else if isName b i ne transferEncodingLit then Head.bad r.notImplemented
  else if isName b i ne connectionLit then
    headers r b next stop limit length (close || hasToken b vs vend closeLit)
      (keep || hasToken b vs vend keepAliveLit)
  else headers r b next stop limit length close keep

/-- One request, parsed. -/
inductive Parsed where
  | incomplete
  | bad (reply : ByteArray) -- answer with `reply` and close
  -- Its header ends at `next`, its body is `bodyLen` bytes, and `reply` answers it.
  | request (next bodyLen : Nat) (keepAlive : Bool) (reply : ByteArray)

/-- The request that starts at `start` in `b`. -/
def parse (r : Replies) (maxHeader : Nat) (b : ByteArray) (start : Nat) : Parsed :=
  let limit := start + maxHeader
  let stop := min b.size limit
  let short := if stop == limit then Parsed.bad r.tooLarge else Parsed.incomplete
  let me := scan b tcharBit start stop
  if me == stop then short else
  if me == start || b.get! me != 32 then Parsed.bad r.badRequest else
  let ts := me + 1
  let te := scan b targetBit ts stop
  if te == stop then short else
  if te == ts || b.get! te != 32 then Parsed.bad r.badRequest else
  let vs := te + 1
  if !versionPrefix b vs stop then Parsed.bad r.badRequest else
  if vs + versionLit.size > stop then short else
  match headers r b (vs + versionLit.size) stop limit none false false with
  | Head.short => Parsed.incomplete
  | Head.bad reply => Parsed.bad reply
  | Head.done next bodyLen close keep =>
    let http10 := b.get! (vs + 7) == 48
    let keepAlive := !close && (keep || !http10)
    let conn := if !keepAlive then 1 else if http10 then 2 else 0
    let isHead := me - start == 4 && bytesAt b start headLit false
    let isGet := me - start == 3 && bytesAt b start getLit false
    let root := b.get! ts == 47 && (te - ts == 1 || b.get! (ts + 1) == 63)
    let kind := if !isGet && !isHead then 2 else if root then 0 else 1
    let reply := r.table.get! ((kind * 3 + conn) * 2 + (if isHead then 1 else 0))
    Parsed.request next bodyLen keepAlive reply

/-! A connection: what to send for the bytes received, shared by both modes. -/

structure Env where
  replies : Replies
  maxHeader : Nat
  /-- A connection's receive buffer: room for a whole header and one more byte, so a request
  that does not fit is known to be too large. -/
  bufSize : Nat
  plainRecv : Bool

/-- What one receive leads to: the answers to send, where the unparsed bytes begin, how many
body bytes to discard beyond the buffer, and whether to close after sending. -/
structure Batch where
  out : ByteArray
  rest : Nat
  skip : Nat
  close : Bool
  deriving Inhabited

/-- Answer every complete request in `b` from `pos` on, appending to `out`. -/
partial def answer (env : Env) (b : ByteArray) (pos : Nat) (out : ByteArray) : Batch :=
  if pos ≥ b.size then { out := out, rest := pos, skip := 0, close := false } else
  match parse env.replies env.maxHeader b pos with
  | Parsed.incomplete => { out := out, rest := pos, skip := 0, close := false }
  | Parsed.bad reply => { out := out ++ reply, rest := b.size, skip := 0, close := true }
  | Parsed.request next bodyLen keepAlive reply =>
    let out := out ++ reply
    if next + bodyLen > b.size then
      { out := out, rest := b.size, skip := next + bodyLen - b.size, close := !keepAlive }
    else if !keepAlive then { out := out, rest := b.size, skip := 0, close := true }
    else answer env b (next + bodyLen) out

/-- The receive buffer for the next round: emptied, or its unparsed tail moved to the front. -/
def compact (env : Env) (buf : ByteArray) (rest : Nat) : ByteArray :=
  if rest ≥ buf.size then Ring.clear buf
  else if rest == 0 then buf
  else buf.copySlice rest (ByteArray.mkEmpty env.bufSize) 0 (buf.size - rest)

/-- After the last answer, the request bytes still coming are read and dropped (up to this
many) before closing: closing with bytes unread sends a reset, which can destroy the answer
before the client reads it. -/
def lingerBytes : Nat := 1048576

/-- A reset or broken connection is the peer's choice, not worth a line each. -/
def report (e : IO.Error) : IO Unit :=
  match e with
  | IO.Error.resourceVanished .. => pure ()
  | e => IO.eprintln s!"http: {e}"

/-! Fiber mode -/

partial def drainFiber (c : Socket) (buf : ByteArray) (left : Nat) : Fiber Unit := do
  let (n, buf) ← c.recv buf
  if n > 0 && n < left then drainFiber c (Ring.clear buf) (left - n)

partial def serveFiber (env : Env) (c : Socket) (buf out : ByteArray) (skip : Nat) :
    Fiber Unit := do
  let (n, buf) ← c.recv buf
  if n == 0 then return
  if skip ≥ buf.size then serveFiber env c (Ring.clear buf) out (skip - buf.size) else
  let ⟨out, rest, skip, close⟩ := answer env buf skip out
  let out ← if out.size > 0 then c.sendAll out else pure out
  if close then
    c.shutdown 1
    drainFiber c (Ring.clear buf) lingerBytes
  else serveFiber env c (compact env buf rest) (Ring.clear out) skip

partial def drainChunks (rx : Receiver) (left : Nat) : Fiber Unit := do
  let n := (← rx.recv).size
  if n > 0 && n < left then drainChunks rx (left - n)

/-- `serveFiber` on a receiver: each chunk is parsed as it came when nothing is left over from
the last one, else appended to what is. -/
partial def serveChunks (env : Env) (c : Socket) (rx : Receiver) (buf out : ByteArray)
    (skip : Nat) : Fiber Unit := do
  let chunk ← rx.recv
  if chunk.size == 0 then return
  let buf := if buf.size == 0 then chunk else buf ++ chunk
  if skip ≥ buf.size then serveChunks env c rx ByteArray.empty out (skip - buf.size) else
  let ⟨out, rest, skip, close⟩ := answer env buf skip out
  let out ← if out.size > 0 then c.sendAll out else pure out
  if close then
    c.shutdown 1
    drainChunks rx lingerBytes
  else
    let left := if rest ≥ buf.size then ByteArray.empty
      else buf.copySlice rest (ByteArray.mkEmpty (buf.size - rest)) 0 (buf.size - rest)
    serveChunks env c rx left (Ring.clear out) skip

def fiberThread (env : Env) (fd : Int) (addr : SockAddr) : Fiber Unit :=
  Switch.run fun sw => do
    let l : Listener := { fd := ← (Fiber.Fd.mk' fd s!"listener {addr}" : IO _), addr := addr }
    l.fd.closeOn sw
    acceptFork sw l (fun e => report e) fun c _ => do
      c.setNoDelay
      if env.plainRecv then serveFiber env c (ByteArray.mkEmpty env.bufSize) (ByteArray.mkEmpty 4096) 0
      else serveChunks env c (← c.receiver) ByteArray.empty (ByteArray.mkEmpty 4096) 0

/-! Blocking mode -/

partial def drainBlocking (c : Socket) (buf : ByteArray) (left : Nat) : IO Unit := do
  let buf ← Blocking.recv c buf
  if buf.size > 0 && buf.size < left then drainBlocking c (Ring.clear buf) (left - buf.size)

/-- One recv and the answers to it: what the next round starts from, or `none` once the
connection is done. -/
def roundBlocking (env : Env) (c : Socket) (buf out : ByteArray) (skip : Nat) :
    IO (Option (ByteArray × ByteArray × Nat)) := do
  let before := buf.size
  let buf ← Blocking.recv c buf
  if buf.size == before then return none
  if skip ≥ buf.size then return some (Ring.clear buf, out, skip - buf.size)
  let ⟨out, rest, skip, close⟩ := answer env buf skip out
  if out.size > 0 then Blocking.sendAll c out
  if close then
    Blocking.shutdown c 1
    drainBlocking c (Ring.clear buf) lingerBytes
    return none
  return some (compact env buf rest, Ring.clear out, skip)

/- A call to itself as the very last thing, so that it compiles to a loop: a keep-alive
connection makes one round per request, and a round that left a continuation behind overflowed
the thread's stack after some 30,000 requests. -/
partial def serveBlocking (env : Env) (c : Socket) (buf out : ByteArray) (skip : Nat) :
    IO Unit := do
  match ← roundBlocking env c buf out skip with
  | some (buf, out, skip) => serveBlocking env c buf out skip
  | none => pure ()

def connBlocking (env : Env) (c : Socket) : IO Unit := do
  try
    c.setNoDelay
    serveBlocking env c (ByteArray.mkEmpty env.bufSize) (ByteArray.mkEmpty 4096) 0
  catch e => report e
  try Blocking.close c catch e => report e

partial def acceptBlocking (env : Env) (l : Listener) : IO Unit := do
  match ← tryCatch (some <$> Blocking.accept l) (fun e => do report e; pure none) with
  | none =>
    IO.sleep 10   -- out of fds, say: let connections end before accepting again
    acceptBlocking env l
  | some c =>
    discard <| IO.asTask (connBlocking env c) Task.Priority.dedicated
    acceptBlocking env l

/-! Start -/

def announce (addr : SockAddr) : IO Unit := do
  IO.println s!"http: listening on {addr}"
  (← IO.getStdout).flush

def run (cfg : Config) (addr : SockAddr) : IO Unit := do
  let env : Env := { replies := Replies.make cfg.bodySize, maxHeader := cfg.maxHeader,
                     bufSize := max 16384 (cfg.maxHeader + 1), plainRecv := cfg.plainRecv }
  if cfg.blocking then
    let l ← Blocking.listen addr
    announce l.addr
    acceptBlocking env l
  else
    -- Every listener is bound before the announcement, the first one choosing the port.
    let (fd, bound) ← listenFd addr (reusePort := true)
    let mut fds := #[fd]
    for _ in [1:cfg.threads] do
      fds := fds.push (← listenFd bound (reusePort := true)).1
    announce bound
    Fiber.runInThreads cfg.threads fun i => fiberThread env (fds.get! i) bound

def main (args : List String) : IO UInt32 := do
  match parseArgs {} args with
  | none =>
    IO.eprintln usage
    return 2
  | some cfg =>
    let port := cfg.port.getD 0
    let text := if cfg.host.contains ':' then s!"[{cfg.host}]:{port}" else s!"{cfg.host}:{port}"
    try
      run cfg (← SockAddr.parse text)
      return 0
    catch e =>
      IO.eprintln s!"http: {e}"
      return 1
