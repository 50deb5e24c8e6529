#!/usr/bin/env python3
"""pty-run: run a command with stdout and stderr on a new pseudo-terminal, print every byte that
reaches the terminal, and exit with the command's exit code.

    pty-run.py pipe|tty INPUT COMMAND [ARGS...]

stdin is a pipe holding INPUT (`pipe`), or the same terminal (`tty`), where INPUT is typed
once the command has printed "? " (a prompt) or after 5 s, whichever comes first.  The
terminal does not echo, so what is printed is only the command's output (with the
terminal's \\n -> \\r\\n).  The command gets 20 s, then it is killed.
"""
import os
import select
import signal
import sys
import termios
import time

mode, text, cmd = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
master, slave = os.openpty()
attrs = termios.tcgetattr(slave)
attrs[3] &= ~termios.ECHO
termios.tcsetattr(slave, termios.TCSANOW, attrs)
if mode == "pipe":
    stdin_r, stdin_w = os.pipe()
else:
    stdin_r, stdin_w = slave, None

pid = os.fork()
if pid == 0:
    os.setsid()
    os.dup2(stdin_r, 0)
    os.dup2(slave, 1)
    os.dup2(slave, 2)
    os.closerange(3, 256)
    os.execvp(cmd[0], cmd)
os.close(slave)
if stdin_w is not None:
    os.close(stdin_r)
    os.write(stdin_w, text)
    os.close(stdin_w)
    text = None

out = b""
start = time.monotonic()
while time.monotonic() - start < 20:
    if text is not None and (b"? " in out or time.monotonic() - start > 5):
        os.write(master, text)
        text = None
    ready, _, _ = select.select([master], [], [], 0.1)
    if ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the command and everything it started closed the terminal
            break
        if not data:
            break
        out += data
else:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out + b"\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)  # killed by signal N: 128 + N, as the shell says
