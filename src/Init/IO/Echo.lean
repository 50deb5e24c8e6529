/-
The TCP echo server of lean-uring's runtime (`src/runtime/uring/echo.h`): under the io_uring
backend one thread serves many connections at once on its ring; under POSIX it is the naive
blocking server, one connection at a time.
-/
prelude
import Init.System.IO

namespace IO.Net

/--
Listen on `127.0.0.1:port` (with `SO_REUSEADDR`) and echo back every byte each client sends,
until `maxConnections` connections were accepted and have all closed (`0`: forever).  Returns
the number of connections served.  The calling thread is busy for the whole serve, so run it
in a dedicated task to do anything else meanwhile.  Fails with the socket's error if the port
cannot be bound (e.g. already in use) or listening fails.
-/
@[extern "lean_io_echo_serve"] constant echoServe (port : UInt16) (maxConnections : UInt32) : IO UInt32

end IO.Net
