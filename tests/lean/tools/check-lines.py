#!/usr/bin/env python3
"""check-lines: did every byte of every writer reach a file that several writers shared?

    check-lines.py FILE N PAYLOAD TAG[:stream]...

Writer TAG wrote the lines "TAG i PAYLOAD\\n", i = 0 .. N-1.  A plain TAG wrote each line with
one write, so each must be found whole, in order; at most one TAG:stream wrote its lines in
chunks of any size (a fully buffered stdout), so what is left of the file once the other
writers' lines are taken out must be exactly its lines.  Prints a summary (lines are counted
as newlines, as `wc -l` does); exits 1 when anything is missing, torn apart or extra.
"""
import sys

path, n, payload, specs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
data = open(path, "rb").read().decode("latin-1")
expected = {}
for spec in specs:
    tag = spec.split(":")[0]
    expected[tag] = ["%s %d %s\n" % (tag, i, payload) for i in range(n)]
total_bytes = sum(len(l) for ls in expected.values() for l in ls)

keep = bytearray(b"\x01") * len(data)
found = {}
for spec in specs:
    if spec.endswith(":stream"):
        continue
    pos, k = 0, 0
    for l in expected[spec]:
        at = data.find(l, pos)
        if at < 0:
            continue
        keep[at:at + len(l)] = b"\x00" * len(l)
        pos, k = at + len(l), k + 1
    found[spec] = k
rest = "".join(c for c, kept in zip(data, keep) if kept)
streams = [s.split(":")[0] for s in specs if s.endswith(":stream")]
rest_ok = rest == ("".join(expected[streams[0]]) if streams else "")

summary = ["%d of %d lines, %d of %d bytes" % (data.count("\n"), n * len(specs), len(data), total_bytes)]
summary += ["%s: %d of %d lines whole and in order" % (t, k, n) for t, k in found.items()]
if streams:
    summary.append("%s: the rest is %s" % (streams[0], "exactly its lines" if rest_ok else "not its lines"))
elif not rest_ok:
    summary.append("%d bytes of other text" % len(rest))
print("; ".join(summary))
sys.exit(0 if rest_ok and all(k == n for k in found.values()) and len(data) == total_bytes else 1)
