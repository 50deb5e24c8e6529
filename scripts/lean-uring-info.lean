/-
lean-uring-info: what this toolchain is and what it does on this machine.  It prints the pinned
upstream commit, the overlay's commit and tree hash (recorded by scripts/build-toolchain.sh in
<toolchain>/lib/lean-uring/build-info) and the backend `LEAN_IO_BACKEND=auto` picks here, with
its reason.  `--smoke` adds a copy of 64 KiB through the ring: memory → file → pipe → memory,
on fibers (under posix, on the ring's emulation), checked byte for byte.

scripts/build-toolchain.sh compiles it into <toolchain>/bin/lean-uring-info and runs
`lean-uring-info --smoke` at the end of every build.

  lean-uring-info [--smoke]
-/
import Init.IO.Backend
import Init.IO.Flow
open IO

def buildInfo : IO String := do
  let bin ← appPath
  let info := (bin.parent.getD ".").join ".." |>.join "lib" |>.join "lean-uring" |>.join "build-info"
  try FS.readFile info catch _ => pure s!"(no build record at {info})\n"

/-- "name (reason)" of this process's backend. -/
def backendNow : IO String := do
  pure s!"{← backendName} ({← backendReason})"

/-- The backend `auto` picks: this process's when it runs under `auto`, else a child's. -/
def autoBackend : IO String := do
  let requested := (← getEnv "LEAN_IO_BACKEND").getD ""
  if requested == "" || requested == "auto" then backendNow
  else
    let out ← Process.output { cmd := (← appPath).toString, args := #["--backend"],
                               env := #[("LEAN_IO_BACKEND", some "auto")] }
    if out.exitCode != 0 then throw (userError s!"lean-uring-info --backend: {out.stderr}")
    pure (out.stdout.trimRight)

def pattern (n : Nat) : ByteArray := do
  let mut b := ByteArray.mkEmpty n
  for i in [0:n] do
    b := b.push (i * 7 % 251 : Nat).toUInt8
  b

/-- Write `data` to a file, copy the file into a pipe and the pipe into memory. -/
def copyThrough (path : String) (data : ByteArray) : IO ByteArray := do
  let out ← Flow.Buffer.create
  Fiber.run <| Switch.run fun sw => do
    let f ← File.create sw path
    discard <| f.write data
    f.seek 0
    let (r, w) ← Flow.Pipe.create sw
    Fiber.fork sw do
      discard <| Flow.copy f w
      w.close
    discard <| Flow.copy r out
    File.unlink path
  out.get

def smoke : IO Unit := do
  let data := pattern 65536
  let path := s!"/tmp/lean-uring-smoke.{← IO.monoMsNow}"
  let t0 ← IO.monoMsNow
  let got ← copyThrough path data
  let ms := (← IO.monoMsNow) - t0
  let via := if (← backendName) == "uring" then "the ring" else "the ring's emulation (posix)"
  if got == data then
    IO.println s!"copy: 64 KiB memory → file → pipe → memory through {via} in {ms} ms, identical"
  else
    throw (userError s!"copy through {via}: {got.size} bytes came back, not the 65536 written")

def main (args : List String) : IO UInt32 := do
  if args == ["--backend"] then
    IO.println (← backendNow)
    return 0
  if args != [] && args != ["--smoke"] then
    IO.eprintln "usage: lean-uring-info [--smoke]"
    return 2
  IO.print (← buildInfo)
  IO.println s!"backend auto picks here: {← autoBackend}"
  if args == ["--smoke"] then smoke
  pure 0
