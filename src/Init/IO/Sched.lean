/-
The per-thread fiber scheduler (lean-uring): a run queue, the table of parked fibers, the
cancellation contexts, and the run loop that turns completions into resumed fibers.
`Init.IO.Fiber` builds the `Fiber` monad on it; programs use that module, not this one.

The run loop:
1. runs the ready fibers, which queue their ring operations (`IO.Ring`);
2. if none is ready, sleeps in one wait on the ring (one `io_uring_enter`) until at least one
   completion arrives, timers included, since a sleep is a ring timeout;
3. resumes the fiber each completion names.

A parked fiber is a `Waiter` in a table indexed by slot.  The `userData` its operation carries
is `gen <<< 32 ||| slot`, and a slot's generation changes each time it is reused, so a
completion for a waiter that is gone (a cancel's own completion, or a stale one) resumes
nothing.  The ring itself keeps each operation's buffer until the kernel is done with it
(`IO.Ring`), so a mistake here can lose a wakeup but never make the kernel touch freed memory.
-/
prelude
import Init.IO.Ring
import Init.Data.Range

namespace IO

/-- The error a cancelled fiber sees, and the test for it: the errno is `ECANCELED` (125), as an
operation the ring cancelled reports it, so both are recognised alike. -/
def Error.cancelled (reason : String) : IO.Error :=
  IO.Error.otherError 125 s!"cancelled: {reason}"

/-- Whether an error is a cancellation (`IO.Error.cancelled`, or an operation's `ECANCELED`). -/
def Error.isCancelled : IO.Error → Bool
  | IO.Error.otherError code _ => code == 125
  | _ => false

namespace Fiber

/-- A cancellation context: the scope that cancellation acts on.  Contexts nest (a switch's is
inside its creator's); cancelling one cancels every context inside it, so a context keeps the
flags of itself and all its ancestors. -/
structure Cancel where
  reason : IO.Ref (Option IO.Error)
  chain : Array (IO.Ref (Option IO.Error))
  /-- The context's name in a scheduler trace (`Sched.freshId`); 0 when nothing traces. -/
  id : Nat := 0

namespace Cancel

/-- A context that nothing outside can cancel. -/
def root (id : Nat := 0) : IO Cancel := do
  let r ← IO.mkRef none
  pure { reason := r, chain := #[r], id := id }

/-- A context inside `c`: cancelled with it, or alone. -/
def child (c : Cancel) (id : Nat := 0) : IO Cancel := do
  let r ← IO.mkRef none
  pure { reason := r, chain := c.chain.push r, id := id }

/-- Why this context is cancelled (its own reason or an ancestor's), if it is. -/
def cancelled? (c : Cancel) : IO (Option IO.Error) :=
  c.chain.foldlM (init := none) fun found r => match found with
    | some e => pure (some e)
    | none => r.get

end Cancel

/-- A parked fiber's continuation is resumed with the completion of its ring operation, with
`ready` (no completion) when what it waited for off the ring is there, or with an error when it
is cancelled off the ring (one whose ring operation is in flight stays parked until that
operation's own completion).  The completion is passed as it is, never wrapped: a wrapper the
continuation took apart would keep the completion, and so its buffer, shared. -/
abbrev Resume := Except IO.Error Ring.Cqe → IO Unit

/-- What a fiber parked off the ring is resumed with when it may go on. -/
def ready : Except IO.Error Ring.Cqe := Except.ok Inhabited.default

/-- A parked fiber: its context, its continuation, and whether its ring operation is in flight. -/
structure Waiter where
  cancel : Cancel
  resume : Resume
  onRing : Bool
  /-- A multishot operation's: called with each completion that has `IORING_CQE_F_MORE`,
  while the waiter stays parked for the final one, which `resume` gets. -/
  more : Ring.Cqe → IO Unit := fun _ => pure ()
  /-- A switch waiting for its children: no deadlock is declared on it while they can run. -/
  join : Bool := false
  cancelSent : Bool := false

/-- One entry of the table of parked fibers; `gen` changes each time the entry is reused. -/
structure Slot where
  gen : UInt32
  waiter : Option Waiter

instance : Inhabited Slot := ⟨{ gen := 1, waiter := none }⟩

/-- The parked fibers, by slot, with the free slots and the counts the run loop needs. -/
structure Table where
  slots : Array Slot := #[]
  free : Array Nat := #[]
  parked : Nat := 0
  onRing : Nat := 0

/-- Synchronous steps a fiber may take before it bounces through the run queue: continuations
are ordinary calls, so a loop that never suspends would otherwise grow the stack without end. -/
def maxDepth : Nat := 128

/-- The scheduler's steps, one line each (spec/Sched/Exec.lean reads them back and replays
them against the model), kept in memory and appended as one block, when the scheduler ends, to
the file `path.N`, N different for any two schedulers alive together: two threads appending a
megabyte each to one file through handles were seen to interleave, under either backend.
`ids` names contexts and promises. -/
structure Trace where
  path : String
  lines : IO.Ref (Array String)
  ids : IO.Ref Nat

/-- One thread's scheduler. -/
structure Sched where
  ring : Ring
  runQueue : IO.Ref (Array (IO Unit))
  table : IO.Ref Table
  depth : IO.Ref Nat
  trace : Option Trace := none

namespace Sched

/-- A scheduler over `ring`, with nothing ready and nothing parked; it traces its steps when
`LEAN_FIBER_TRACE` is set (to a path prefix, `Trace`). -/
def new (ring : Ring) : IO Sched := do
  let trace ← match ← IO.getEnv "LEAN_FIBER_TRACE" with
    | some path => if path.isEmpty then pure none else
      pure (some { path := path, lines := ← IO.mkRef #["sched"], ids := ← IO.mkRef 1 })
    | none => pure none
  pure { ring := ring, runQueue := ← IO.mkRef #[], table := ← IO.mkRef {}, depth := ← IO.mkRef 0,
         trace := trace }

/-- Record one step, when tracing; `line` is only built then. -/
@[inline] def note (s : Sched) (line : Unit → String) : IO Unit :=
  match s.trace with
  | some t => t.lines.modify (·.push (line ()))
  | none => pure ()

/-- A new name for a context or a promise in the trace (0 when not tracing). -/
def freshId (s : Sched) : IO Nat :=
  match s.trace with
  | some t => t.ids.modifyGet fun n => (n, n + 1)
  | none => pure 0

/-- A number no other live scheduler's trace has: the address of its line buffer. -/
private unsafe def traceNameImpl (t : @& Trace) : USize := ptrAddrUnsafe t.lines

@[implementedBy traceNameImpl] private constant traceName (t : @& Trace) : USize

/-- Append the trace, when tracing, to its file. -/
def writeTrace (s : Sched) : IO Unit := do
  if let some t := s.trace then
    let mut out := ""
    for l in ← t.lines.get do
      out := out ++ l ++ "\n"
    let h ← IO.FS.Handle.mk s!"{t.path}.{traceName t}" IO.FS.Mode.append
    h.putStr out
    h.flush

/-- Make `act` ready: it runs in a later turn of the run loop, in the order of `enqueue`s. -/
@[inline] def enqueue (s : Sched) (act : IO Unit) : IO Unit :=
  s.runQueue.modify (·.push act)

/-- Run `act` now, unless this fiber has taken `maxDepth` synchronous steps since it was last
resumed by the run loop: then it bounces through the run queue. -/
@[inline] def step (s : Sched) (act : IO Unit) : IO Unit := do
  let d ← s.depth.get
  if d < maxDepth then
    s.depth.set (d + 1)
    act
  else
    s.enqueue act

/-- The `userData` that names slot `i` in generation `gen`. -/
def tagOf (gen : UInt32) (i : Nat) : UInt64 :=
  gen.toUInt64 <<< 32 ||| i.toUInt64

/-- The slot a tag names, and the generation it names it in (`tagOf`'s inverse). -/
def slotOf (tag : UInt64) : Nat := (tag &&& (0xFFFFFFFF : UInt64)).toNat
def genOf (tag : UInt64) : UInt32 := (tag >>> (32 : UInt64)).toUInt32

/-- Park a fiber: its waiter gets a slot, and the tag returned names it.  `awaits` names the
promise an off-ring waiter waits for, in the trace. -/
def park (s : Sched) (w : Waiter) (awaits : Nat := 0) : IO UInt64 := do
  let tag ← s.table.modifyGet fun t =>
    let t := { t with parked := t.parked + 1, onRing := if w.onRing then t.onRing + 1 else t.onRing }
    if t.free.isEmpty then
      let i := t.slots.size
      (tagOf 1 i, { t with slots := t.slots.push { gen := 1, waiter := some w } })
    else
      let i := t.free.back
      let gen := (t.slots.get! i).gen
      (tagOf gen i, { t with free := t.free.pop, slots := t.slots.set! i { gen := gen, waiter := some w } })
  s.note fun _ => s!"park {slotOf tag} {genOf tag} {w.cancel.id} {if w.onRing then 1 else 0} {awaits}"
  pure tag

/-- Take the waiter `tag` names out of the table, if it is still there. -/
def unpark (s : Sched) (tag : UInt64) : IO (Option Waiter) :=
  s.table.modifyGet fun t =>
    let i := slotOf tag
    let gen := genOf tag
    if h : i < t.slots.size then
      let slot := t.slots.get ⟨i, h⟩
      match slot.waiter with
      | some w =>
        if slot.gen != gen then (none, t) else
        let next := if slot.gen == 0x7FFFFFFF then 1 else slot.gen + 1
        (some w, { t with slots := t.slots.set ⟨i, h⟩ { gen := next, waiter := none },
                          free := t.free.push i, parked := t.parked - 1,
                          onRing := if w.onRing then t.onRing - 1 else t.onRing })
      | none => (none, t)
    else (none, t)

/-- The waiter `tag` names, left in the table. -/
def peek (s : Sched) (tag : UInt64) : IO (Option Waiter) := do
  let t ← s.table.get
  let i := slotOf tag
  if h : i < t.slots.size then
    let slot := t.slots.get ⟨i, h⟩
    pure (if slot.gen == genOf tag then slot.waiter else none)
  else pure none

/-- Record a completion with what `dispatch` did with it. -/
@[inline] def noteCqe (s : Sched) (tag : UInt64) (fmore : Bool) (what : String) : IO Unit :=
  s.note fun _ => s!"cqe {genOf tag} {slotOf tag} {if fmore then 1 else 0} {what}"

/-- Resume the fiber a completion names, or, for one with `IORING_CQE_F_MORE`, hand it to the
waiter's `more`; completions of no waiter (a cancel's own, tag 0) are dropped. -/
def dispatch (s : Sched) (c : Ring.Cqe) : IO Unit := do
  let tag := c.userData
  let fmore := c.flags &&& Ring.cqeFMore != 0
  if tag == 0 then
    s.noteCqe tag fmore "drop"
    return
  s.depth.set 0
  if fmore then
    match ← s.peek tag with
    | some w => s.noteCqe tag fmore "more"; w.more c
    | none => s.noteCqe tag fmore "drop"
  else match ← s.unpark tag with
    | some w => s.noteCqe tag fmore "resume"; w.resume (Except.ok c)
    | none => s.noteCqe tag fmore "drop"

/-- The error a fiber sees when its context was cancelled because of `reason`. -/
def cancelledBy (reason : IO.Error) : IO.Error :=
  if reason.isCancelled then reason else Error.cancelled (toString reason)

/-- The waiters for which `pick` holds, as tags: taken from a snapshot of the table that is
released before anything is changed, so the changes happen in place. -/
def select (s : Sched) (pick : Waiter → IO Bool) : IO (Array (UInt64 × Waiter)) := do
  let t ← s.table.get
  let mut out := #[]
  let n := t.slots.size
  for i in [0:n] do
    let slot := t.slots.get! i
    if let some w := slot.waiter then
      if ← pick w then out := out.push (tagOf slot.gen i, w)
  pure out

/-- Dispatch a wait's completions in order, moving each out of the array first: a completion
the array still held would keep its buffer shared while its fiber runs. -/
partial def dispatchAll (s : Sched) (cqes : Array Ring.Cqe) (i : Nat := 0) : IO Unit := do
  if h : i < cqes.size then
    let c := cqes.get ⟨i, h⟩
    let cqes := cqes.set ⟨i, h⟩ Inhabited.default
    s.dispatch c
    s.dispatchAll cqes (i + 1)

/-- Send the waiter `tag` names an `IORING_OP_ASYNC_CANCEL` for its operation, once: it stays
parked until the operation's own completion. -/
def cancelOnRing (s : Sched) (tag : UInt64) (w : Waiter) : IO Unit := do
  s.table.modify fun t =>
    { t with slots := t.slots.modify (slotOf tag) fun slot => { slot with waiter := some { w with cancelSent := true } } }
  s.note fun _ => s!"cancel {slotOf tag}"
  s.ring.cancel tag 0

/-- Cancel the ring operation of the waiter `tag` names, if it is still parked and was not sent
a cancel: an operation gets at most one (`cancelSent`), and the trace records each. -/
def cancelTag (s : Sched) (tag : UInt64) : IO Unit := do
  if let some w ← s.peek tag then
    if w.onRing && !w.cancelSent then s.cancelOnRing tag w

/-- Cancel the context `c` with `reason`, unless it is already: every fiber parked in it or in
a context inside it is told.  One waiting off the ring is woken with the cancellation; one
with a ring operation in flight gets an `IORING_OP_ASYNC_CANCEL` and stays parked until the
operation's own completion, which brings its buffer back. -/
def cancel (s : Sched) (c : Cancel) (reason : IO.Error) : IO Unit := do
  if (← c.reason.get).isSome then return
  c.reason.set (some reason)
  let victims ← s.select fun w => do
    pure (!w.cancelSent && !w.join && (← w.cancel.cancelled?).isSome)
  s.note fun _ => victims.foldl (init := s!"fail {c.id}") fun line v => line ++ s!" {v.2.cancel.id}"
  for v in victims do
    let (tag, w) := v
    let why := cancelledBy ((← w.cancel.cancelled?).getD reason)
    if w.onRing then s.cancelOnRing tag w
    else if let some w ← s.unpark tag then
      s.note fun _ => s!"wake {slotOf tag}"
      s.enqueue (w.resume (Except.error why))
  s.note fun _ => "done"

/-- How many ready fibers a turn of the run loop runs before it looks at the ring again. -/
def turnBudget : Nat := 1024

/-- Run the ready fibers, in order; those they make ready wait for the next batch.  The
number run is returned. -/
def runBatch (s : Sched) : IO Nat := do
  let batch ← s.runQueue.swap #[]
  for act in batch do
    s.depth.set 0
    act
  pure batch.size

/-- Run ready fibers, including those they make ready, until none is left or `turnBudget`
have run: a fork or a wakeup costs no trip to the kernel, and a fiber that keeps yielding
still cannot starve the completions.  (Each loop here recurses only in tail position, which
`lean --run`'s interpreter turns into a jump; a call through a `do` join point it would not.) -/
partial def runReady (s : Sched) (ran : Nat := 0) : IO Unit := do
  let ran := ran + (← s.runBatch)
  let more := !(← s.runQueue.get).isEmpty
  if ran < turnBudget && more then s.runReady ran else pure ()

/-- Every fiber is parked off the ring, so nothing can ever wake them: wake each with an
error rather than hang. -/
def deadlock (s : Sched) : IO Unit := do
  for v in ← s.select fun w => pure !w.join do
    if let some w ← s.unpark v.1 then
      s.note fun _ => s!"deadlock {slotOf v.1}"
      s.enqueue (w.resume (Except.error (IO.userError
        "Fiber: deadlock: every fiber waits for a promise that no running fiber can resolve")))

/-- One turn of the run loop: run what is ready, then wait for completions (or only collect
them, if fibers are still ready); `true` once `finished`. -/
def turn (s : Sched) (finished : IO Bool) : IO Bool := do
  s.runReady
  if ← finished then return true
  let t ← s.table.get
  let ready := !(← s.runQueue.get).isEmpty
  if t.onRing > 0 then
    s.dispatchAll (← if ready then s.ring.poll else s.ring.wait)
  else if !ready then
    if t.parked == 0 then
      throw (IO.userError "Fiber: internal error: the main fiber neither finished nor waits")
    s.deadlock
    if (← s.runQueue.get).isEmpty then
      throw (IO.userError "Fiber: deadlock: only switches wait, for children that cannot run")
  pure false

/-- The run loop, until `finished`. -/
partial def loop (s : Sched) (finished : IO Bool) : IO Unit := do
  let done ← s.turn finished
  if done then pure () else s.loop finished

/-- Dispatch one wait's completions; `false` once nothing is in flight. -/
def drainOnce (s : Sched) : IO Bool := do
  if (← s.ring.inflight) == 0 then return false
  s.dispatchAll (← s.ring.wait)
  pure true

/-- Wait out the ring operations that no fiber waits for, so the thread's next scheduler starts
on a quiet ring: cancels' own completions, and operations that outlived every fiber (a
receiver's recv on a socket left open), which are cancelled first, since nothing can use them. -/
partial def drain (s : Sched) : IO Unit := do
  for v in ← s.select fun w => pure (w.onRing && !w.cancelSent) do
    s.cancelOnRing v.1 v.2
  let more ← s.drainOnce
  if more then s.drain else pure ()

end Sched

end Fiber
end IO
