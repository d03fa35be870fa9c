#!/usr/bin/python3
"""After detaching: every probed instruction in the live process is the one in
the file again (no int3, no trampoline call left behind).  With --attached,
the opposite while tracing: every site inspect lists is patched, so the
offsets inspect shows are the probes record attaches.

usage: sites_restored.py [--attached] PID INSPECT_JSON
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    attached = args[0] == "--attached"
    if attached:
        args = args[1:]
    pid = int(args[0])
    with open(args[1]) as f:
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
        # tokio's hooks, and the I/O phase probes record adds by default
        sites = info["sites"] + [s for s in info.get("io_sites") or [] if s["probed"]]
        if attached:
            # hooks off by default (raw::schedule) are not probed
            on = info["hooks_by_default"]
            sites = [s for s in sites if "hook" not in s or on[s["hook"]]["on"]]
        for site in sites:
            foff, n = site["file_offset"], max(1, site.get("insn_len", 1))
            binf.seek(foff)
            want = binf.read(n)
            for start, end, off in maps:
                if off <= foff < off + (end - start):
                    mem.seek(start + foff - off)
                    got = mem.read(n)
                    checked += 1
                    if attached and got[:1] == want[:1]:
                        bad += 1
                        print(f"  site {site.get('name', '?')} @ file 0x{foff:x}: "
                              f"not probed while attached (live {got.hex()})")
                    elif not attached and got != want:
                        bad += 1
                        print(f"  site {site.get('name', '?')} @ file 0x{foff:x}: "
                              f"live {got.hex()} != file {want.hex()}")
                    break
    io = sum(1 for s in info.get("io_sites") or [] if s["probed"])
    if attached:
        print(f"sites: {checked - bad} of {checked} patched while attached in {exe} "
              f"({io} of them I/O phase probes)")
    else:
        print(f"sites: {checked} checked in {exe} ({io} of them I/O phase probes), {bad} still patched")
    sys.exit(1 if bad or not checked else 0)


if __name__ == "__main__":
    main()
