#!/usr/bin/python3
"""After detaching: every probed instruction in the live process is the one in
the file again (no int3, no trampoline call left behind).

usage: sites_restored.py PID INSPECT_JSON
"""
import json
import os
import sys


def main():
    pid = int(sys.argv[1])
    with open(sys.argv[2]) as f:
        info = json.load(f)
    exe = os.readlink(f"/proc/{pid}/exe")
    st = os.stat(f"/proc/{pid}/exe")
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            off, inode = int(parts[2], 16), int(parts[4])
            if inode == st.st_ino:
                maps.append((start, end, off))
    checked = bad = 0
    with open(f"/proc/{pid}/exe", "rb") as binf, open(f"/proc/{pid}/mem", "rb") as mem:
        for site in info["sites"]:
            foff, n = site["file_offset"], max(1, site.get("insn_len", 1))
            binf.seek(foff)
            want = binf.read(n)
            for start, end, off in maps:
                if off <= foff < off + (end - start):
                    mem.seek(start + foff - off)
                    got = mem.read(n)
                    checked += 1
                    if got != want:
                        bad += 1
                        print(f"  site {site.get('name', '?')} @ file 0x{foff:x}: "
                              f"live {got.hex()} != file {want.hex()}")
                    break
    print(f"sites: {checked} checked in {exe}, {bad} still patched")
    sys.exit(1 if bad or not checked else 0)


if __name__ == "__main__":
    main()
