/- File errors that need an environment: `fs_limits enospc DIR` fills a small filesystem (the
harness mounts it) through File.write, Flow.copy and a BufWrite flush; `fs_limits eacces FILE`
opens a file it may not read (the harness runs it as an unprivileged user).  Each error is
printed next to the blocking API's for the same mistake. -/
import Init.IO.BufIO
open IO Flow

def errorOf (act : IO α) : IO String :=
  tryCatch (do discard act; pure "ok") fun e => pure (toString e)

def fiberErrorOf (act : Fiber α) : IO String :=
  Fiber.run (tryCatch (do discard act; pure "ok") fun e => pure (toString e))

def big : ByteArray := (List.range 20).foldl (init := "0123456789abcdef".toUTF8) fun b _ => b ++ b

def enospc (dir : String) : IO Unit := do
  IO.println s!"blocking write: {← errorOf (IO.FS.writeBinFile s!"{dir}/blocking" big)}"
  IO.FS.removeFile s!"{dir}/blocking"
  IO.println s!"File.write: {← fiberErrorOf (Switch.run fun sw => do
    let f ← File.create sw s!"{dir}/a"
    f.write big)}"
  IO.FS.removeFile s!"{dir}/a"
  IO.println s!"Flow.copy: {← fiberErrorOf (Switch.run fun sw => do
    Flow.copy (← (Bytes.ofByteArray big : IO _)) (← File.create sw s!"{dir}/b"))}"
  IO.FS.removeFile s!"{dir}/b"
  IO.println s!"BufWrite flushed at the switch's end: {← fiberErrorOf (Switch.run fun sw => do
    let w ← BufWrite.create sw (← File.create sw s!"{dir}/c") (capacity := 1 <<< 22)
    w.write (big.extract 0 (1 <<< 21)))}"

def eacces (file : String) : IO Unit := do
  IO.println s!"blocking open: {← errorOf (IO.FS.Handle.mk file IO.FS.Mode.read)}"
  IO.println s!"File.open: {← fiberErrorOf (Switch.run fun sw => File.open sw file)}"
  IO.println s!"File.create: {← fiberErrorOf (Switch.run fun sw => File.create sw file)}"

def main : List String → IO Unit
  | ["enospc", dir] => enospc dir
  | ["eacces", file] => eacces file
  | _ => throw (IO.userError "usage: fs_limits enospc DIR | eacces FILE")
