/- The standard streams on a pseudo-terminal (issue #13, cases 5 and 6), run by run-backends.sh
   through tools/pty-run.py (on_pty), with stdout and stderr on a pty.  glibc line-buffers a
   terminal stdout and stderr is unbuffered; the bytes on the terminal must be the same under
   both backends (tty.<mode>.expected.out, glibc's).

     tty write    writes longer than the buffer (1,024 bytes on a pty): glibc writes the
                  whole blocks, then the rest up to its last newline, and keeps the tail
     tty prompt   a prompt without a newline, then a read of stdin: glibc flushes a line
                  buffered stdout before reading only when stdin is a terminal too
                  (run with stdin a pipe, and with stdin the same terminal) -/
def longWrite : IO Unit := do
  let mut long := ""
  for i in [0:100] do
    long := long ++ s!"line {i} of a long write ..............................\n"
  IO.print (long ++ "tail of the long write")
  IO.eprint "[stderr after the long write]"
  IO.print "short, no newline"
  IO.eprint "[stderr 2]"
  IO.println " then a newline"
  IO.eprint "[stderr 3]"
  IO.print (long ++ "second tail")
  IO.eprint "[stderr 4]"
  (← IO.getStdout).write "bytes via write\nand more".toUTF8
  IO.eprint "[stderr 5]"
  IO.println ""

def prompt : IO Unit := do
  IO.println "a line"
  (← IO.getStdout).write "bytes via write\nand more, ".toUTF8
  IO.print "name? "
  let name ← (← IO.getStdin).getLine
  IO.eprint "[stderr after the read]"
  IO.println s!"hello {name.trim}"
  IO.print "unterminated at exit"

def main (args : List String) : IO UInt32 := do
  match args with
  | ["write"] => longWrite
  | ["prompt"] => prompt
  | _ =>
    IO.eprintln "usage: tty write | prompt"
    return 2
  return 0
