/- An uncaught IO.Error.unexpectedEof must be reported. At the pinned upstream the POSIX path
   crashes here (lean_io_result_show_error calls inc_ref on a boxed scalar): see
   uring_uncaught_eof.lean.posix.expected.out and docs/differences.md. -/
def main : IO Unit := do
  IO.println "before"
  throw IO.Error.unexpectedEof
