"""Checks the JSON escaper's output with Python's own JSON parser and UTF-8
decoder, which share no code with it.

stdin: one case a line, "<input hex> <max> <output bytes>".  The output must be
strict UTF-8 (json.loads is handed text, so no bad byte gets past as an
escape), a JSON string with no raw control character or DEL, whose value is
the input up to its first NUL or max bytes with every byte outside valid
UTF-8 (one the strict decoder refuses) replaced by U+FFFD.
"""
import json
import re
import sys

# surrogateescape gives one U+DC80..U+DCFF per refused byte: the escaper's rule.
REFUSED = re.compile("[\udc80-\udcff]")
bad = 0
cases = 0
for line in sys.stdin.buffer:
    cases += 1
    hexin, maxlen, out = line.rstrip(b"\n").split(b" ", 2)
    raw = bytes.fromhex(hexin.decode())[: int(maxlen)].split(b"\0")[0]
    want = REFUSED.sub("\ufffd", raw.decode("utf-8", "surrogateescape"))
    try:
        text = out.decode("utf-8")
        got = json.loads(text)
        if any(c < 0x20 or c == 0x7F for c in out):
            raise ValueError("raw control character")
        if not isinstance(got, str) or got != want:
            raise ValueError("value %r, want %r" % (got, want))
    except ValueError as e:
        bad += 1
        if bad <= 20:
            print("input %s: %s: %r" % (hexin.decode(), e, out[:200]), file=sys.stderr)
if bad or cases == 0:
    print("%d of %d cases wrong" % (bad, cases), file=sys.stderr)
    sys.exit(1)
