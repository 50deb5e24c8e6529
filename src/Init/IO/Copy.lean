/-
Copying a whole file in the runtime (lean-uring's copy engine, `src/runtime/uring/copy.h`):
under the io_uring backend many reads and writes are in flight on the calling thread's ring;
under POSIX it is a plain read/write loop.  Either way the bytes never pass through Lean.
-/
prelude
import Init.System.IO

namespace IO.FS

/--
Copy the contents of `src` to `dst`, which is created (mode `0o666` minus the umask) or
truncated.  The copy is not synced to disk.  An error names `src` when opening or reading the
source failed, and `dst` when creating or writing the destination failed.
-/
@[extern "lean_io_copy_file"] constant copyFile (src dst : @& System.FilePath) : IO Unit

end IO.FS
