/-
Buffered reading and writing over flows (lean-uring), as Eio's `Buf_read` and `Buf_write`:
`BufRead` parses lines and fixed-size fields out of any `Flow.Source` with few reads,
`BufWrite` batches small writes into few writes to any `Flow.Sink`.

```
let r ← BufRead.create conn
match ← r.line with
| some l => IO.println l
| none => IO.println "end of input"
```

* `BufRead.peek` shows the buffered bytes in place, so a parser can look before it takes:
  `take n` and `line` copy only what they return.
* A line ends at `\n` (a `\r` before it is dropped); the last line of the input needs no
  `\n`.  A line longer than `maxSize` is an error rather than a buffer that grows without end.
* `BufWrite` flushes when its buffer is full, on `flush`, and when its switch finishes; flushes
  from several fibers go out one after the other, in order.
-/
prelude
import Init.IO.Flow

namespace IO

open Fiber Flow

/-- Whether `b[start, stop)` is well-formed UTF-8 (no overlong forms, no surrogates). -/
partial def validUtf8 (b : ByteArray) (start stop : Nat) : Bool :=
  let cont (i : Nat) : Bool := i < stop && b.get! i &&& 0xC0 == 0x80
  let rec go (i : Nat) : Bool :=
    if i ≥ stop then true else
    let c := b.get! i
    if c < 0x80 then go (i + 1)
    else if c < 0xC2 then false
    else if c < 0xE0 then cont (i + 1) && go (i + 2)
    else if c < 0xF0 then
      let c1 := b.get! (i + 1)
      cont (i + 1) && cont (i + 2) &&
        (c != 0xE0 || c1 ≥ 0xA0) && (c != 0xED || c1 < 0xA0) && go (i + 3)
    else if c < 0xF5 then
      let c1 := b.get! (i + 1)
      cont (i + 1) && cont (i + 2) && cont (i + 3) &&
        (c != 0xF0 || c1 ≥ 0x90) && (c != 0xF4 || c1 < 0x90) && go (i + 4)
    else false
  go start

/-- A buffered reader over a `Flow.Source`. -/
structure BufRead where
  src : Source
  /-- The buffer; the unread bytes are `[pos, size)`. -/
  buf : IO.Ref ByteArray
  pos : IO.Ref Nat
  eof : IO.Ref Bool
  /-- Bytes asked of each read of the source. -/
  readSize : Nat
  /-- The most the buffer holds: a longer line or `take` is an error. -/
  maxSize : Nat

namespace BufRead

/-- A reader over `src`, reading `readSize` bytes at a time. -/
def create [ToSource α] (src : α) (readSize : Nat := 64 * 1024) (maxSize : Nat := 16 * 1024 * 1024) :
    Fiber BufRead := do
  pure { src := ToSource.toSource src, buf := ← IO.mkRef (ByteArray.mkEmpty readSize),
         pos := ← IO.mkRef 0, eof := ← IO.mkRef false, readSize := max readSize 1,
         maxSize := max maxSize readSize }

/-- The number of buffered bytes not yet consumed. -/
def available (r : BufRead) : Fiber Nat := do
  pure ((← r.buf.get).size - (← r.pos.get))

/-- Read once more from the source into the buffer (moving the unread bytes to its start
first): `false` at the end of the source. -/
def fill (r : BufRead) : Fiber Bool := do
  if ← r.eof.get then return false
  let pos ← r.pos.get
  let b ← r.buf.swap ByteArray.empty
  let unread := b.size - pos
  if unread + 1 > r.maxSize then
    r.buf.set b
    throw (IO.userError s!"BufRead: more than {r.maxSize} bytes buffered from {r.src.name}")
  let want := min (unread + r.readSize) r.maxSize
  let b := if pos == 0 && b.capacity ≥ want then b
    else b.copySlice pos (ByteArray.mkEmpty want) 0 unread
  r.pos.set 0
  let (n, b) ← r.src.read b
  r.buf.set b
  if n == 0 then r.eof.set true
  pure (n > 0)

/-- Fill until at least `n` bytes are buffered: `false` if the source ended first. -/
partial def ensure (r : BufRead) (n : Nat) : Fiber Bool := do
  if (← r.available) ≥ n then return true
  if ← r.fill then r.ensure n else pure false

/-- The buffered bytes, without consuming them: the buffer and the offset where they start
(they end at its size).  Fills once if nothing is buffered; at the end the range is empty.
Read the buffer before the next call on `r`. -/
def peek (r : BufRead) : Fiber (ByteArray × Nat) := do
  if (← r.available) == 0 then discard r.fill
  pure (← r.buf.get, ← r.pos.get)

/-- Drop the next `n` buffered bytes (at most those buffered). -/
def consume (r : BufRead) (n : Nat) : Fiber Unit := do
  let avail ← r.available
  r.pos.modify (· + min n avail)

private def takeBuffered (r : BufRead) (n : Nat) : Fiber ByteArray := do
  let pos ← r.pos.get
  let b ← r.buf.get
  let n := min n (b.size - pos)
  r.pos.set (pos + n)
  pure (b.extract pos (pos + n))

/-- Exactly the next `n` bytes; an end of the source before them is an error
(`unexpectedEof`, named). -/
def take (r : BufRead) (n : Nat) : Fiber ByteArray := do
  if n > r.maxSize then
    throw (IO.userError s!"BufRead.take: {n} bytes is more than the buffer's {r.maxSize}")
  unless ← r.ensure n do
    throw (IO.Error.unexpectedEof.withContext
      s!"BufRead.take {n}: {← r.available} bytes before the end of {r.src.name}")
  r.takeBuffered n

/-- Everything left, until the end of the source. -/
partial def takeAll (r : BufRead) : Fiber ByteArray := do
  let rec go (acc : ByteArray) : Fiber ByteArray := do
    let acc := acc ++ (← r.takeBuffered (← r.available))
    if ← r.fill then go acc else pure acc
  go ByteArray.empty

/-- The offset of the first `\n` in `b[i, stop)`. -/
private partial def findNewline (b : ByteArray) (i stop : Nat) : Option Nat :=
  if i ≥ stop then none else if b.get! i == 10 then some i else findNewline b (i + 1) stop

private def lineOf (r : BufRead) (b : ByteArray) (start stop : Nat) : Fiber String := do
  let stop := if stop > start && b.get! (stop - 1) == 13 then stop - 1 else stop
  unless validUtf8 b start stop do
    throw (IO.userError s!"BufRead.line: the line from {r.src.name} is not valid UTF-8")
  pure (String.fromUTF8Unchecked (b.extract start stop))

/-- The next line, without its `\n` (or `\r\n`); `none` at the end of the source.  The last
line needs no `\n`. -/
partial def line (r : BufRead) : Fiber (Option String) := do
  let rec scan (from_ : Nat) : Fiber (Option String) := do
    let b ← r.buf.get
    let pos ← r.pos.get
    match findNewline b (pos + from_) b.size with
    | some nl =>
      r.pos.set (nl + 1)
      some <$> r.lineOf b pos nl
    | none =>
      let seen := b.size - pos
      if ← r.fill then scan seen
      else if seen == 0 then pure none
      else
        let b ← r.buf.get
        let pos ← r.pos.get
        r.pos.set b.size
        some <$> r.lineOf b pos b.size
  scan 0

/-- Read into `buffer`'s spare capacity, buffered bytes first: as a `Source` reads. -/
def read (r : BufRead) (buffer : ByteArray) : Fiber (Nat × ByteArray) := do
  if (← r.available) == 0 then
    if !(← r.fill) then return (0, buffer)
  let pos ← r.pos.get
  let b ← r.buf.get
  let n := min (buffer.capacity - buffer.size) (b.size - pos)
  r.pos.set (pos + n)
  pure (n, b.copySlice pos buffer buffer.size n)

end BufRead

instance : ToSource BufRead where
  toSource r := { name := r.src.name, read := r.read }

/-- A buffered writer over a `Flow.Sink`. -/
structure BufWrite where
  sink : Sink
  buf : IO.Ref ByteArray
  capacity : Nat
  /-- The flush in progress, which a later flush waits for. -/
  flushing : IO.Ref (Option (Promise Unit))

namespace BufWrite

/-- Flush what is buffered: after the flush in progress, if any. -/
partial def flush (w : BufWrite) : Fiber Unit := do
  if let some p ← w.flushing.get then
    p.await
    return ← w.flush
  let b ← w.buf.swap (ByteArray.mkEmpty w.capacity)
  if b.size == 0 then return
  let done ← Promise.create
  w.flushing.set (some done)
  try discard <| w.sink.write b
  finally do
    w.flushing.set none
    discard <| done.tryResolve ()

/-- A writer into `sink` holding up to `capacity` bytes, flushed when `sw` finishes. -/
def create [ToSink α] (sw : Switch) (sink : α) (capacity : Nat := 64 * 1024) : Fiber BufWrite := do
  let w : BufWrite := { sink := ToSink.toSink sink, buf := ← IO.mkRef (ByteArray.mkEmpty capacity),
                        capacity := max capacity 1, flushing := ← IO.mkRef none }
  sw.onRelease w.flush
  pure w

/-- Buffer `bytes`, flushing first if they do not fit; as many bytes as the buffer holds or
more go out at once. -/
def write (w : BufWrite) (bytes : ByteArray) : Fiber Unit := do
  if (← w.buf.get).size + bytes.size > w.capacity then w.flush
  w.buf.modify (· ++ bytes)
  if bytes.size ≥ w.capacity then w.flush

/-- Buffer the UTF-8 bytes of `s`. -/
def writeString (w : BufWrite) (s : String) : Fiber Unit := w.write s.toUTF8

end BufWrite

instance : ToSink BufWrite where
  toSink w := { name := w.sink.name, write := fun b => do w.write b; pure b }

end IO
