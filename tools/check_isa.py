#!/usr/bin/env python3
"""Checks that libdlinfer.so only executes AVX/AVX-512 (or BMI, MOVBE, ...) code inside its
per-ISA kernel modules, so the baseline engine can never run an instruction the CPU lacks.

    python3 tools/check_isa.py [path/to/libdlinfer.so]     (default .build/release/libdlinfer.so)

Every function is disassembled (objdump) and its instructions classified: VEX/EVEX-encoded ones
(AVX, AVX2, FMA, AVX-512: mnemonics starting with "v", mask-register ops) and the other
x86-64-v3 additions (BMI1/2, LZCNT, MOVBE). A function containing any must belong to a kernel
module (its Swift-mangled name starts with the module's prefix); the rest of the library must be
plain x86-64. Prints a table per module and exits 1 on a violation.
"""
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

KERNEL_MODULES = ("DLInferKernelsAVX512", "DLInferKernelsAVX2")
# tzcnt is left out: compilers emit it for baseline code as `rep bsf`, which older CPUs execute as
# bsf (same result for the nonzero inputs it is used on). lzcnt has no such fallback.
V3_EXTRAS = {"andn", "bextr", "blsi", "blsmsk", "blsr", "bzhi", "lzcnt", "mulx", "pdep", "pext",
             "rorx", "sarx", "shlx", "shrx", "movbe"}
NOT_AVX = {"verr", "verw"}
MASK_OPS = re.compile(r"^k(and|andn|or|xor|xnor|not|mov|shift|test|ortest|unpck|add)")


def module_of(symbol):
    """The Swift module a mangled symbol belongs to ($s<len><Module>...), else 'other'."""
    m = re.match(r"^\$s(\d+)", symbol)
    if m:
        n = int(m.group(1))
        start = m.end()
        return symbol[start:start + n]
    return "other"


def is_extended(mnemonic):
    return (mnemonic.startswith("v") and mnemonic not in NOT_AVX) or mnemonic in V3_EXTRAS or bool(MASK_OPS.match(mnemonic))


def main():
    lib = Path(sys.argv[1] if len(sys.argv) > 1 else ".build/release/libdlinfer.so")
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True, check=True).stdout
    functions = defaultdict(int)
    extended = defaultdict(int)
    current = None
    for line in out.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if head:
            current = head.group(1)
            functions[current] += 0
            continue
        ins = re.match(r"^\s+[0-9a-f]+:\s+([a-z][a-z0-9.]*)", line)
        if ins and current and is_extended(ins.group(1).split(".")[0]):
            extended[current] += 1
    per_module = defaultdict(lambda: [0, 0, 0])
    violations = []
    for f in functions:
        mod = module_of(f)
        row = per_module[mod]
        row[0] += 1
        if extended[f]:
            row[1] += 1
            row[2] += extended[f]
            if mod not in KERNEL_MODULES:
                violations.append((f, extended[f]))
    print("%-24s %9s %22s %14s" % ("module", "functions", "with AVX/v3 code", "instructions"))
    for mod, (n, with_ext, count) in sorted(per_module.items(), key=lambda kv: -kv[1][0])[:14]:
        print("%-24s %9d %22d %14d" % (mod, n, with_ext, count))
    for mod in KERNEL_MODULES:
        if per_module[mod][2] == 0:
            violations.append(("module %s has no AVX code at all (built without its -march?)" % mod, 0))
    if violations:
        print("\nFAIL: extended instructions outside the kernel modules:")
        for f, n in violations[:30]:
            print("  %5d  %s" % (n, f))
        return 1
    print("check_isa: PASS (AVX and x86-64-v3 code only in %s)" % ", ".join(KERNEL_MODULES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
