#!/bin/bash
# Writes the seed inputs of tests/fuzz/corpus/ and tests/fuzz/corpus-slots/ (the formats are
# described in fuzz_ops.cc and fuzz_slots.cc: an opcode byte, then its arguments; the slot byte
# comes first).  Run from anywhere: bash gen_corpus.sh
set -e
dir=$(dirname "$0")/corpus
mkdir -p "$dir"
seed() { printf "$2" >"$dir/$1"; }
# open a RDWR|CREAT, write 150, pread 200 at 0, pwrite 120 at 10, fsync, close, close again
seed file '\x00\x00\x02\x00\x01\x00\x96\x03\x03\x00\xc8\x00\x04\x00\x78\x05\x05\x05\x00\x06\x00\x06\x00'
# mkdir d, create d/a, write, rename d/a over a, rmdir d, unlink a twice
seed dirs '\x08\x02\x00\x01\x01\x03\x01\x01\x20\x04\x09\x03\x00\x07\x06\x07\x00\x07\x00'
# pipe in slots 2 and 3, write 40, read 100, close the writer, read at EOF
seed pipe '\x0a\x02\x01\x03\x28\x02\x02\x02\x64\x06\x03\x02\x02\x10'
# socket pair in slots 4 and 5, send both ways, recv, read
seed socket '\x0b\x04\x0c\x04\x30\x01\x0d\x05\xff\x0c\x05\x10\x00\x02\x04\x20'
# handle on a by "w+", write 200, flush, close; again by "r", getline, read 80
seed handle '\x0e\x00\x00\x04\x11\x00\x00\xc8\x07\x13\x00\x00\x14\x00\x00\x0e\x00\x01\x00\x12\x00\x01\x10\x00\x01\x50'
# handles on both ends of a pipe: write, getline, read, close the writer, read at EOF
seed handle-pipe '\x0a\x00\x0f\x01\x00\x02\x0f\x00\x01\x01\x11\x00\x00\x50\x00\x12\x00\x01\x10\x00\x01\x20\x14\x00\x00\x06\x01\x10\x00\x01\xff'

# fuzz_slots: the first byte is the buffer group (here 4 buffers of 16 bytes, unless said).
dir=$(dirname "$0")/corpus-slots
mkdir -p "$dir"
# open a RDWR|CREAT, write 150, pread 200 at 0, pwrite 120 at 10, statx a and by fd, close
seed file '\x05\x00\x00\x02\x00\x03\x00\x96\x03\x04\x00\xc8\x00\x05\x00\x78\x05\x05\x06\x00\x00\x06\x00\x02\x01\x00'
# mkdir d, open d/a, write, rename d/a over a, rmdir d, unlink a twice
seed dirs '\x05\x07\x02\x00\x01\x02\x03\x03\x01\x20\x04\x09\x03\x00\x08\x06\x08\x00\x08\x00'
# write 200 to a, splice it into the pipe twice, then out of the pipe into b
seed splice '\x05\x00\x00\x02\x00\x03\x00\xc8\x01\x0a\x00\x64\x00\x0a\x00\xff\xff\x00\x01\x01\x01\x0b\x01\xff\xff\x0b\x01\x10\x05'
# send 48, recv it, a recv that waits, send 64 to it, recv MSG_DONTWAIT, shutdown, recv at EOF
seed socket '\x05\x0c\x00\x30\x01\x0d\x01\xff\x0d\x01\x20\x0c\x00\x40\x02\x0d\x03\x10\x0f\x00\x0d\x01\x40'
# one 8-byte buffer: multishot recv, send 5, send 64 (-ENOBUFS), recv the rest, arm again, shutdown
seed multishot '\x00\x0e\x01\x0c\x00\x05\x01\x0c\x00\x40\x02\x0d\x01\xff\x0e\x01\x0c\x00\x03\x03\x0f\x00'
# timeouts of 0.5, 0 and 2 ms, cancel the first, a waiting recv, cancel it, cancel nothing
seed timeouts '\x05\x10\x05\x10\x00\x10\x14\x11\x00\x0d\x00\x10\x11\x04\x11\x63'
# the synchronous path among batch operations: open a, a 2 ms timeout, sync pwrite 150 and
# pread 200, multishot recv on channel 0, sync send to it, sync send 32 the other way and
# sync recv it in two, shutdown
seed sync '\x05\x00\x00\x02\x00\x10\x14\x12\x04\x96\x03\x00\x12\x00\xc8\x00\x00\x0e\x01\x13\x02\x30\x01\x13\x03\x20\x02\x13\x00\x10\x00\x13\x00\xff\x00\x0f\x00'
