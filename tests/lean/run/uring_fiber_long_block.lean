/- A long `do` block in `Fiber`, 40 operations each inside `try`/`catch` and `try`/`finally`: it
must compile in seconds (the harness gives `lean -c` 300 s), which it did not while the monad's
binds copied their continuation into both arms of a match (2^n code). -/
import Init.IO.Fiber
open IO

def say (s : String) : Fiber Unit := IO.println s

def main : IO Unit := do
  let finals ← IO.mkRef 0
  Fiber.run do
    let r0 ← tryCatch (do Fiber.nop; if 0 % 4 == 0 then throw (IO.userError "e0") else pure "ok") fun e => pure (toString e)
    say s!"0: {r0}"
    let r1 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"1: {r1}"
    let r2 ← tryCatch (do Fiber.nop; if 2 % 4 == 0 then throw (IO.userError "e2") else pure "ok") fun e => pure (toString e)
    say s!"2: {r2}"
    let r3 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"3: {r3}"
    let r4 ← tryCatch (do Fiber.nop; if 4 % 4 == 0 then throw (IO.userError "e4") else pure "ok") fun e => pure (toString e)
    say s!"4: {r4}"
    let r5 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"5: {r5}"
    let r6 ← tryCatch (do Fiber.nop; if 6 % 4 == 0 then throw (IO.userError "e6") else pure "ok") fun e => pure (toString e)
    say s!"6: {r6}"
    let r7 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"7: {r7}"
    let r8 ← tryCatch (do Fiber.nop; if 8 % 4 == 0 then throw (IO.userError "e8") else pure "ok") fun e => pure (toString e)
    say s!"8: {r8}"
    let r9 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"9: {r9}"
    let r10 ← tryCatch (do Fiber.nop; if 10 % 4 == 0 then throw (IO.userError "e10") else pure "ok") fun e => pure (toString e)
    say s!"10: {r10}"
    let r11 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"11: {r11}"
    let r12 ← tryCatch (do Fiber.nop; if 12 % 4 == 0 then throw (IO.userError "e12") else pure "ok") fun e => pure (toString e)
    say s!"12: {r12}"
    let r13 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"13: {r13}"
    let r14 ← tryCatch (do Fiber.nop; if 14 % 4 == 0 then throw (IO.userError "e14") else pure "ok") fun e => pure (toString e)
    say s!"14: {r14}"
    let r15 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"15: {r15}"
    let r16 ← tryCatch (do Fiber.nop; if 16 % 4 == 0 then throw (IO.userError "e16") else pure "ok") fun e => pure (toString e)
    say s!"16: {r16}"
    let r17 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"17: {r17}"
    let r18 ← tryCatch (do Fiber.nop; if 18 % 4 == 0 then throw (IO.userError "e18") else pure "ok") fun e => pure (toString e)
    say s!"18: {r18}"
    let r19 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"19: {r19}"
    let r20 ← tryCatch (do Fiber.nop; if 20 % 4 == 0 then throw (IO.userError "e20") else pure "ok") fun e => pure (toString e)
    say s!"20: {r20}"
    let r21 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"21: {r21}"
    let r22 ← tryCatch (do Fiber.nop; if 22 % 4 == 0 then throw (IO.userError "e22") else pure "ok") fun e => pure (toString e)
    say s!"22: {r22}"
    let r23 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"23: {r23}"
    let r24 ← tryCatch (do Fiber.nop; if 24 % 4 == 0 then throw (IO.userError "e24") else pure "ok") fun e => pure (toString e)
    say s!"24: {r24}"
    let r25 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"25: {r25}"
    let r26 ← tryCatch (do Fiber.nop; if 26 % 4 == 0 then throw (IO.userError "e26") else pure "ok") fun e => pure (toString e)
    say s!"26: {r26}"
    let r27 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"27: {r27}"
    let r28 ← tryCatch (do Fiber.nop; if 28 % 4 == 0 then throw (IO.userError "e28") else pure "ok") fun e => pure (toString e)
    say s!"28: {r28}"
    let r29 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"29: {r29}"
    let r30 ← tryCatch (do Fiber.nop; if 30 % 4 == 0 then throw (IO.userError "e30") else pure "ok") fun e => pure (toString e)
    say s!"30: {r30}"
    let r31 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"31: {r31}"
    let r32 ← tryCatch (do Fiber.nop; if 32 % 4 == 0 then throw (IO.userError "e32") else pure "ok") fun e => pure (toString e)
    say s!"32: {r32}"
    let r33 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"33: {r33}"
    let r34 ← tryCatch (do Fiber.nop; if 34 % 4 == 0 then throw (IO.userError "e34") else pure "ok") fun e => pure (toString e)
    say s!"34: {r34}"
    let r35 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"35: {r35}"
    let r36 ← tryCatch (do Fiber.nop; if 36 % 4 == 0 then throw (IO.userError "e36") else pure "ok") fun e => pure (toString e)
    say s!"36: {r36}"
    let r37 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"37: {r37}"
    let r38 ← tryCatch (do Fiber.nop; if 38 % 4 == 0 then throw (IO.userError "e38") else pure "ok") fun e => pure (toString e)
    say s!"38: {r38}"
    let r39 ← try (do Fiber.nop; pure "ok") finally finals.modify (· + 1)
    say s!"39: {r39}"
  IO.println s!"finally ran {← finals.get} times"
