/-
Fibers (lean-uring): many operations in flight from plain sequential Lean code, in the style of
OCaml's Eio.  `Fiber.run` starts a scheduler on the calling thread; inside it, `Fiber.fork`
starts fibers on a `Switch`, each ring operation parks its fiber until its completion, and
`Promise`s pass values between fibers.

```
Fiber.run do
  Switch.run fun sw => do
    Fiber.fork sw (Fiber.sleep 10)
    let (n, buf) ← Fiber.readAt fd (ByteArray.mkEmpty 4096) 0
```

* **One scheduler per thread.**  A fiber is a continuation over its thread's scheduler
  (`Init.IO.Sched`); all fibers of a `Fiber.run` stay on its thread and share one ring, whose
  reference counts need no atomics.  `Fiber.runInThreads n` gives n threads a scheduler each.
* **Both backends.**  Under `LEAN_IO_BACKEND=posix` (or `auto` without io_uring) the same
  operations run on an emulation of the ring: regular-file operations run synchronously, pipes
  and sockets wait for readiness with `poll(2)`.  Programs give the same results on both.
* **Buffers move** into an operation and come back with its result, as in tokio-uring:
  `read` fills the buffer's spare capacity and returns `(n, buffer)`.  The runtime holds the
  buffer until the kernel is done with it, cancellation included (`IO.Ring`).
* **Structured concurrency.**  Every fiber belongs to a switch; `Switch.run` returns only when
  all its fibers have finished, then runs its release hooks, last registered first.  When a
  fiber fails, its switch cancels the others and `Switch.run` raises the first failure.
* **Cancellation** reaches a fiber when it suspends: at an operation, an `await`, a `yield` or
  a `sleep`, it raises `IO.Error.cancelled` (test with `IO.Error.isCancelled`).  A fiber whose
  ring operation is in flight when it is cancelled stays parked until that operation completes:
  if the operation finished anyway, the fiber gets its real result (no byte read is lost), and
  raises at its next suspension; an fd that arrives that late (`accept`, `openAt`) is closed.
* **Blocking** `IO` (a handle's `getLine`, `IO.sleep`) inside a fiber works but stops every
  fiber of the thread while it blocks: use the fiber operations instead.
-/
prelude
import Init.IO.Sched

namespace IO

/-- What a fiber runs in: its thread's scheduler and its cancellation context. -/
structure Fiber.Ctx where
  sched : Fiber.Sched
  cancel : Fiber.Cancel

open Fiber in
/-- A computation that runs as a fiber on the calling thread's scheduler (`Fiber.run`). -/
def Fiber (α : Type) : Type := Ctx → (Except IO.Error α → IO Unit) → IO Unit

namespace Fiber

open Sched (cancelledBy)

/-- A fiber that gives `a` at once. -/
@[inline] protected def pure (a : α) : Fiber α := fun ctx k =>
  ctx.sched.step (k (Except.ok a))

/- The continuations of `bind`, `tryCatch` and `tryFinally'` are functions of their own, never
inlined: inlined, each would copy the rest of the block (`k`) into both arms of its match, and a
`do` block of n operations would compile to code of size 2^n (ten `try`s took minutes). -/

/-- What `bind` continues with: `f` on a value, or the error passed on. -/
@[noinline] def bindCont (f : α → Fiber β) (ctx : Ctx) (k : Except IO.Error β → IO Unit) :
    Except IO.Error α → IO Unit
  | Except.ok a => f a ctx k
  | Except.error e => k (Except.error e)

/-- Run `x`, then `f` on its value; an error skips `f`. -/
@[inline] protected def bind (x : Fiber α) (f : α → Fiber β) : Fiber β := fun ctx k =>
  x ctx (bindCont f ctx k)

instance : Monad Fiber where
  pure := Fiber.pure
  bind := Fiber.bind

/-- What `tryCatch` continues with: the value passed on, or the handler on the error. -/
@[noinline] def catchCont (h : IO.Error → Fiber α) (ctx : Ctx) (k : Except IO.Error α → IO Unit) :
    Except IO.Error α → IO Unit
  | Except.ok a => k (Except.ok a)
  | Except.error e => h e ctx k

/-- What `tryFinally'` continues with: the finaliser, then the value or the first error. -/
@[noinline] def finallyCont (h : Option α → Fiber β) (ctx : Ctx)
    (k : Except IO.Error (α × β) → IO Unit) : Except IO.Error α → IO Unit
  | Except.ok a => h (some a) ctx fun r' => k (r'.map (a, ·))
  | Except.error e => h none ctx fun r' => k (Except.error (match r' with
    | Except.ok _ => e
    | Except.error e' => e'))

instance : MonadExceptOf IO.Error Fiber where
  throw e := fun _ k => k (Except.error e)
  tryCatch x h := fun ctx k => x ctx (catchCont h ctx k)

instance : MonadFinally Fiber where
  tryFinally' x h := fun ctx k => x ctx (finallyCont h ctx k)

instance : Inhabited (Fiber α) := ⟨fun _ k => k (Except.error (IO.userError "Fiber: no value"))⟩

/-- Run a (blocking) `IO` action in a fiber; the thread's other fibers wait while it runs. -/
@[inline] def liftIO (act : IO α) : Fiber α := fun ctx k => do
  let r ← tryCatch (Except.ok <$> act) (fun e => pure (Except.error e))
  ctx.sched.step (k r)

instance : MonadLift IO Fiber := ⟨liftIO⟩

/-- Raise this fiber's cancellation, if its context is cancelled. -/
def checkCancelled : Fiber Unit := fun ctx k => do
  match ← ctx.cancel.cancelled? with
  | some e => k (Except.error (cancelledBy e))
  | none => k (Except.ok ())

/-- Let the thread's other ready fibers run first. -/
def yield : Fiber Unit := fun ctx k => do
  match ← ctx.cancel.cancelled? with
  | some e => k (Except.error (cancelledBy e))
  | none => ctx.sched.enqueue (k (Except.ok ()))

private def internal (what : String) : IO.Error :=
  IO.userError s!"Fiber: internal error: {what}"

/-- Queue one multishot ring operation (`op` gets the thread's ring and the `userData` to give
it) and park until its final completion, which is returned whatever its result; each earlier
completion (with `IORING_CQE_F_MORE`) goes to `more` as it arrives, the fiber still parked
(`more` runs in the fiber's context; what it raises is dropped).
Cancelling the fiber cancels the operation, whose final completion then ends it.  A cancelled
fiber submits nothing and raises. -/
def submitMany (op : Ring → UInt64 → IO Unit) (more : Ring.Cqe → Fiber Unit) : Fiber Ring.Cqe :=
  fun ctx k => do
    if let some e ← ctx.cancel.cancelled? then
      k (Except.error (cancelledBy e))
      return
    let tag ← ctx.sched.park {
      cancel := ctx.cancel, onRing := true, resume := k, more := fun c => more c ctx fun _ => pure () }
    tryCatch (op ctx.sched.ring tag) fun e => do
      if (← ctx.sched.unpark tag).isSome then
        ctx.sched.note fun _ => s!"raise {Sched.slotOf tag} {Sched.genOf tag}"
      k (Except.error e)

/-- Queue one ring operation and park until its completion, which is returned whatever its
result: the low-level entry point beneath the typed operations. -/
@[inline] def submit (op : Ring → UInt64 → IO Unit) : Fiber Ring.Cqe :=
  submitMany op fun _ => Fiber.pure ()

/-- An operation's result as a count; a negative one raises its `IO.Error`, which for a
cancelled fiber's `ECANCELED` is the fiber's cancellation. -/
def checkRes (res : Int) (fname : String := "") : Fiber Nat := fun ctx k => do
  if res ≥ 0 then
    k (Except.ok res.toNat)
    return
  match ← ctx.cancel.cancelled? with
  | some e => if res == -125 then k (Except.error (cancelledBy e)) else k (Except.error (Ring.errorOf res fname))
  | none => k (Except.error (Ring.errorOf res fname))

/-- A completion's result, as `checkRes`. -/
def check (c : Ring.Cqe) (fname : String := "") : Fiber Nat :=
  checkRes c.res fname

/-- A completion that hands a buffer back: `(count, buffer)`, or the error. -/
def bufferResult (c : Ring.Cqe) : Fiber (Nat × ByteArray) := do
  let (res, buf) := c.take
  pure (← checkRes res, buf)

/-- A completion that carries a new fd.  One that arrives after its fiber was cancelled is
closed (the fiber never sees it, so nothing else can close it twice) and the fiber raises. -/
def checkFd (c : Ring.Cqe) (fname : String := "") : Fiber Int := fun ctx k => do
  if c.res ≥ 0 then
    if let some e ← ctx.cancel.cancelled? then
      ctx.sched.ring.close c.res 0
      k (Except.error (cancelledBy e))
      return
  check c fname ctx fun r => k (r.map Int.ofNat)

/-- A no-op through the ring: one submission and one completion. -/
def nop : Fiber Unit := do
  discard <| check (← submit fun r u => r.nop u)

/-- Read at `fd`'s position into `buffer`'s spare capacity: `(n, buffer)` with the buffer `n`
bytes longer; `n = 0` at end of file.  The capacity is the most read: `ByteArray.mkEmpty 4096`. -/
def read (fd : Int) (buffer : ByteArray) : Fiber (Nat × ByteArray) := do
  bufferResult (← submit fun r u => r.read fd buffer u)

/-- Read at `offset` into `buffer`'s spare capacity, as `read`; `fd`'s position does not move. -/
def readAt (fd : Int) (buffer : ByteArray) (offset : UInt64) : Fiber (Nat × ByteArray) := do
  bufferResult (← submit fun r u => r.readAt fd buffer offset u)

/-- Write `buffer` at `fd`'s position: `(n, buffer)`, `n` the bytes written (a short write is a
result, not an error). -/
def write (fd : Int) (buffer : ByteArray) : Fiber (Nat × ByteArray) := do
  bufferResult (← submit fun r u => r.write fd buffer u)

/-- Write `buffer` at `offset`, as `write`; `fd`'s position does not move. -/
def writeAt (fd : Int) (buffer : ByteArray) (offset : UInt64) : Fiber (Nat × ByteArray) := do
  bufferResult (← submit fun r u => r.writeAt fd buffer offset u)

/-- `openat(dirfd, path, flags, mode)`: the new fd (`Ring.atFdCwd` for paths relative to the
current directory). -/
def openAt (dirfd : Int) (path : String) (flags mode : UInt32) : Fiber Int := do
  checkFd (← submit fun r u => r.openAt dirfd path flags mode u) path

/-- Register `fd` with this thread's ring (`Ring.registerFile`): whether it is. -/
def registerFile (fd : Int) : Fiber Bool := fun ctx k =>
  liftIO (ctx.sched.ring.registerFile fd) ctx k

/-- `close(fd)`. -/
def close (fd : Int) : Fiber Unit := do
  discard <| check (← submit fun r u => r.close fd u)

/-- `statx(dirfd, path, flags, mask)`: what it found (`Ring.Stat`). -/
def statx (dirfd : Int) (path : String) (flags mask : UInt32) : Fiber Ring.Stat := do
  let c ← submit fun r u => r.statx dirfd path flags mask u
  discard <| check c path
  match c.held with
  | Ring.Held.stat s => pure s
  | _ => throw (internal "statx completed without metadata")

/-- Accept a connection on the listening socket `fd`: the connection's fd. -/
def accept (fd : Int) (flags : UInt32 := 0) : Fiber Int := do
  checkFd (← submit fun r u => r.accept fd flags u)

/-- Connect the socket `fd` to the IPv4 address `addr` (host order) and `port`. -/
def connect (fd : Int) (addr : UInt32) (port : UInt16) : Fiber Unit := do
  discard <| check (← submit fun r u => r.connect fd addr port u)

/-- Receive into `buffer`'s spare capacity, as `read`: `n = 0` when the peer has shut down. -/
def recv (fd : Int) (buffer : ByteArray) (flags : UInt32 := 0) : Fiber (Nat × ByteArray) := do
  bufferResult (← submit fun r u => r.recv fd buffer flags u)

/-- Send `buffer`, as `write`. -/
def send (fd : Int) (buffer : ByteArray) (flags : UInt32 := 0) : Fiber (Nat × ByteArray) := do
  bufferResult (← submit fun r u => r.send fd buffer flags u)

/-- `shutdown(fd, how)` (`0` read, `1` write, `2` both). -/
def shutdown (fd : Int) (how : UInt32) : Fiber Unit := do
  discard <| check (← submit fun r u => r.shutdown fd how u)

/-- Splice at most `length` bytes from `fdIn` to `fdOut` (one of them a pipe): the count moved. -/
def splice (fdIn : Int) (offIn : UInt64) (fdOut : Int) (offOut : UInt64) (length : UInt32) :
    Fiber Nat := do
  check (← submit fun r u => r.splice fdIn offIn fdOut offOut length 0 u)

/-- Park this fiber for `ms` milliseconds (a ring timeout; the other fibers run meanwhile). -/
def sleep (ms : UInt32) : Fiber Unit := do
  let c ← submit fun r u => r.timeout (ms.toUInt64 * 1000000) u
  if c.res != -62 then discard <| check c

end Fiber

/-- A value that some fiber will provide: fibers that `await` it park until it is resolved.
A promise belongs to the thread whose fibers use it. -/
structure Promise (α : Type) where
  state : IO.Ref (Sum (Array UInt64) α)
  /-- The promise's name in a scheduler trace (`Sched.freshId`). -/
  id : Nat := 0

namespace Promise

open Fiber
open Fiber.Sched (cancelledBy)

/-- A new unresolved promise. -/
def create : Fiber (Promise α) := fun ctx k => do
  let p : Promise α := { state := ← IO.mkRef (Sum.inl #[]), id := ← ctx.sched.freshId }
  ctx.sched.step (k (Except.ok p))

/-- The value, if the promise is resolved. -/
def peek? (p : Promise α) : Fiber (Option α) := do
  match ← p.state.get with
  | Sum.inr a => pure (some a)
  | Sum.inl _ => pure none

/-- Resolve with `a` and wake every fiber awaiting; `false` (and no effect) if the promise is
resolved already. -/
def tryResolve (p : Promise α) (a : α) : Fiber Bool := fun ctx k => do
  match ← p.state.swap (Sum.inr a) with
  | Sum.inr old =>
    p.state.set (Sum.inr old)
    k (Except.ok false)
  | Sum.inl tags =>
    ctx.sched.note fun _ => s!"resolve {p.id}"
    for tag in (tags : Array UInt64) do
      if let some w ← ctx.sched.unpark tag then
        ctx.sched.note fun _ => s!"pwake {Sched.slotOf tag} {p.id}"
        ctx.sched.enqueue (w.resume Fiber.ready)
    k (Except.ok true)

/-- Resolve with `a`, as `tryResolve`; a promise takes one value only, so resolving it again
raises. -/
def resolve (p : Promise α) (a : α) : Fiber Unit := do
  unless ← p.tryResolve a do
    throw (IO.userError "Promise.resolve: the promise is already resolved")

/-- `await`, parked in the context `cancel` (a switch waits for its fibers in one nothing
cancels, marked `join` so that no deadlock is declared on it while they can run). -/
def awaitIn (p : Promise α) (cancel : Cancel) (join : Bool) : Fiber α := fun ctx k => do
  match ← p.state.get with
  | Sum.inr a =>
    ctx.sched.note fun _ => s!"ready {p.id}"
    ctx.sched.step (k (Except.ok a))
  | Sum.inl _ =>
    if let some e ← cancel.cancelled? then
      k (Except.error (cancelledBy e))
      return
    let tag ← ctx.sched.park {
      cancel := cancel, onRing := false, join := join,
      resume := fun r => match r with
        | Except.ok _ => do
          match ← p.state.get with
          | Sum.inr a => k (Except.ok a)
          | Sum.inl _ => k (Except.error (IO.userError "Fiber: internal error: woken by an unresolved promise"))
        | Except.error e => k (Except.error e) } p.id
    p.state.modify fun s => match s with
      | Sum.inl tags => Sum.inl (tags.push tag)
      | s => s

/-- The value, parking until the promise is resolved.  If no fiber is left that could resolve
it, the scheduler wakes the awaiting fibers with an error instead of hanging. -/
def await (p : Promise α) : Fiber α := fun ctx k =>
  p.awaitIn ctx.cancel false ctx k

/-- Await a promise that carries a fiber's result (`Fiber.forkPromise`): its value, or its
error raised. -/
def awaitExn (p : Promise (Except IO.Error α)) : Fiber α := do
  match ← p.await with
  | Except.ok a => pure a
  | Except.error e => throw e

end Promise

/-- A scope for fibers: `Switch.run` returns once every fiber forked on its switch has
finished, and then runs the switch's release hooks. -/
structure Switch where
  sched : Fiber.Sched
  cancel : Fiber.Cancel
  children : IO.Ref Nat
  failure : IO.Ref (Option IO.Error)
  hooks : IO.Ref (List (Fiber Unit))
  joined : IO.Ref (Option (Promise Unit))
  finished : IO.Ref Bool

namespace Switch

open Fiber

/-- Record the switch's first failure and cancel everything in it. -/
def fail (sw : Switch) (e : IO.Error) : Fiber Unit := do
  if (← sw.failure.get).isNone then
    sw.failure.set (some e)
    sw.sched.cancel sw.cancel e

/-- A fiber of the switch ended with `e`: a failure, unless it is the cancellation the switch
itself caused. -/
private def childFailed (sw : Switch) (e : IO.Error) : Fiber Unit := do
  if e.isCancelled && (← sw.cancel.cancelled?).isSome then return
  sw.fail e

private def childDone (sw : Switch) : Fiber Unit := do
  let n ← sw.children.modifyGet fun n => (n - 1, n - 1)
  if n == 0 then
    if let some p ← sw.joined.get then discard <| p.tryResolve ()

/-- Cancel the switch's fibers without failing it (how `Fiber.first` stops the loser). -/
def cancelFibers (sw : Switch) (reason : String) : Fiber Unit :=
  sw.sched.cancel sw.cancel (IO.Error.cancelled reason)

/-- Run `hook` when the switch finishes, after all its fibers; hooks run last registered
first, and are not cancelled. -/
def onRelease (sw : Switch) (hook : Fiber Unit) : Fiber Unit := do
  if ← sw.finished.get then throw (IO.userError "Switch.onRelease: the switch has finished")
  sw.hooks.modify (hook :: ·)

private def join (sw : Switch) : Fiber Unit := do
  if (← sw.children.get) == 0 then return
  let p ← Promise.create
  sw.joined.set (some p)
  p.awaitIn (← Cancel.root (← sw.sched.freshId)) true

private partial def releaseHooks (sw : Switch) : Fiber Unit := do
  let next ← sw.hooks.modifyGet fun hs => match hs with
    | [] => (none, [])
    | h :: rest => (some h, rest)
  match next with
  | none => pure ()
  | some hook =>
    try hook catch e => if (← sw.failure.get).isNone then sw.failure.set (some e)
    releaseHooks sw

/-- Run `body` with a new switch: wait for every fiber forked on it, run its release hooks, then
return `body`'s value.  If `body` or a fiber fails, the switch is cancelled (every fiber of it
and `body` itself) and, once all have finished, the first failure is raised. -/
def run (body : Switch → Fiber α) : Fiber α := fun ctx k => do
  let cancel ← ctx.cancel.child (← ctx.sched.freshId)
  let sw : Switch := {
    sched := ctx.sched, cancel := cancel, children := ← IO.mkRef 0,
    failure := ← IO.mkRef none, hooks := ← IO.mkRef [], joined := ← IO.mkRef none,
    finished := ← IO.mkRef false }
  let protect : Fiber.Ctx := { ctx with cancel := ← Cancel.root (← ctx.sched.freshId) }
  body sw { ctx with cancel := cancel } fun r => do
    let finish : Fiber α := do
      if let Except.error e := r then sw.fail e
      sw.join
      sw.sched.note fun _ => s!"end {cancel.id}"
      sw.finished.set true
      releaseHooks sw
      match ← sw.failure.get with
      | some e => throw e
      | none => match r with
        | Except.ok a => pure a
        | Except.error e => throw e
    finish protect k

end Switch

namespace Fiber

/-- Start `f` as a new fiber on `sw`: it runs at once, until it first suspends, and then the
caller goes on.  If `f` fails, `sw` fails: its other fibers are cancelled and `Switch.run`
raises the error. -/
def fork (sw : Switch) (f : Fiber Unit) : Fiber Unit := fun ctx k => do
  if ← sw.finished.get then
    k (Except.error (IO.userError "Fiber.fork: the switch has finished"))
    return
  sw.children.modify (· + 1)
  ctx.sched.enqueue (k (Except.ok ()))
  let child : Ctx := { ctx with cancel := sw.cancel }
  f child fun r => do
    let done : Fiber Unit := do
      if let Except.error e := r then sw.childFailed e
      sw.childDone
    done child fun _ => pure ()

/-- Start `f` as a new fiber on `sw`, as `fork`, but hand its result or error to the promise
returned instead of failing the switch. -/
def forkPromise (sw : Switch) (f : Fiber α) : Fiber (Promise (Except IO.Error α)) := do
  let p ← Promise.create
  fork sw do
    let r ← tryCatch (Except.ok <$> f) fun e => pure (Except.error e)
    discard <| p.tryResolve r
  pure p

/-- Run `f` and `g` concurrently and return both values; if either fails, the other is
cancelled and the failure raised. -/
def both (f : Fiber α) (g : Fiber β) : Fiber (α × β) := do
  let out ← IO.mkRef none
  let a ← Switch.run fun sw => do
    fork sw do out.set (some (← g))
    f
  match ← out.get with
  | some b => pure (a, b)
  | none => throw (internal "both: the second fiber finished without a value")

/-- Run `f` and `g` concurrently; the first to finish gives the value and the other is
cancelled.  A failure of either, before the other finishes, is raised. -/
def first (f g : Fiber α) : Fiber α :=
  Switch.run fun sw => do
    let winner ← Promise.create
    let race (x : Fiber α) : Fiber Unit := do
      let a ← x
      if ← winner.tryResolve a then sw.cancelFibers "Fiber.first: the other fiber finished first"
    fork sw (race f)
    fork sw (race g)
    winner.await

/-- Run `main` as the first fiber of a new scheduler on this thread, until it finishes; its
value is returned and its error raised.  Schedulers do not nest: inside a fiber, fork. -/
def run (main : Fiber α) : IO α := do
  let ring ← Ring.forScheduler
  tryFinally (do
    let s ← Sched.new ring
    let out ← IO.mkRef none
    let ctx : Ctx := { sched := s, cancel := ← Cancel.root (← s.freshId) }
    s.enqueue (main ctx fun r => out.set (some r))
    s.loop (return (← out.get).isSome)
    s.drain
    s.writeTrace
    match ← out.get with
    | some (Except.ok a) => pure a
    | some (Except.error e) => throw e
    | none => throw (internal "the main fiber did not finish"))
    (Ring.endScheduler ring)

/-- Count this thread in once: it has its ring, or will never have one. -/
private def arrive (here : IO.Ref Bool) (arrived : IO.Ref Nat) : IO Unit := do
  unless ← here.get do
    here.set true
    arrived.modify (· + 1)

private partial def awaitArrivals (arrived : IO.Ref Nat) (n : Nat) : Fiber Unit := do
  if (← arrived.get) < n then
    sleep 1
    awaitArrivals arrived n

/-- Run `main i` for each `i < n`, each on a new thread with a scheduler of its own, and wait
for all of them; the first error (by `i`) is raised once all have ended.  No `main` starts
before every thread has made its ring (or failed to): a ring takes a descriptor while it is set
up, and under a low `ulimit -n` the files one thread opens would otherwise leave another
without its ring. -/
def runInThreads (n : Nat) (main : Nat → Fiber Unit) : IO Unit := do
  let arrived ← IO.mkRef 0
  let mut tasks := #[]
  for i in [0:n] do
    let here ← IO.mkRef false
    let body : Fiber Unit := do
      liftIO (arrive here arrived)
      awaitArrivals arrived n
      main i
    let t ← IO.asTask (tryFinally (run body) (arrive here arrived)) Task.Priority.dedicated
    tasks := tasks.push t
  let mut failure := none
  for t in tasks do
    if let Except.error e ← IO.wait t then
      if failure.isNone then failure := some e
  if let some e := failure then throw e

end Fiber
end IO
