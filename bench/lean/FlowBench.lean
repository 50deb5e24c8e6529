/- Flow.copy for bench/flow.sh (compiled):
     flow_bench file SRC DST [off]    copy a file (fast paths off with `off`)
     flow_bench relay PORT HOST:PORT  accept one connection on PORT and copy it to HOST:PORT
     flow_bench relay-off PORT HOST:PORT   the same with splice off
   Each prints `bytes N`. -/
import Init.IO.Flow
open IO Net Flow

def main (args : List String) : IO Unit := do
  let n ← Fiber.run <| Switch.run fun sw => do
    match args with
    | ["file", src, dst] => Flow.copy (← File.open sw src) (← File.create sw dst)
    | ["file", src, dst, "off"] =>
      Flow.copy (← File.open sw src) (← File.create sw dst) { copyFileRange := false, splice := false }
    | [mode, port, to] =>
      let l ← listen sw { ip := IpAddr.loopback4, port := port.toNat!.toUInt16 }
      let out ← connect sw (← SockAddr.parse to)
      let inp ← accept sw l
      let opts : CopyOptions := if mode == "relay-off" then { splice := false } else {}
      let n ← Flow.copy inp out opts
      out.shutdown 1
      pure n
    | _ => throw (IO.userError "usage: flow_bench file SRC DST [off] | relay[-off] PORT HOST:PORT")
  IO.println s!"bytes {n}"
