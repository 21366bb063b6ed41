#!/usr/bin/env python3
"""Copy a WebAssembly module without its `target_features` custom section.

    scripts/strip-target-features.py IN.wasm OUT.wasm

wasm-bindgen turns on its multi-value transform when that section lists `multivalue`
(rustc's default for wasm32), but the release build strips the section (`strip = true`),
so the package ships without it. The browser suites' runner (scripts/wasm-test-runner.sh)
passes their modules through this script so they run the same glue as the package.
"""
import sys


def leb128(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def strip(data):
    if data[:8] != b"\0asm\x01\0\0\0":
        raise SystemExit("strip-target-features: not a WebAssembly module (version 1)")
    out = bytearray(data[:8])
    at = 8
    while at < len(data):
        section_id = data[at]
        size, body = leb128(data, at + 1)
        end = body + size
        if end > len(data):
            raise SystemExit("strip-target-features: a section runs past the end of the module")
        if section_id == 0:
            name_length, name = leb128(data, body)
            if data[name:name + name_length] == b"target_features":
                at = end
                continue
        out += data[at:end]
        at = end
    return bytes(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], "rb") as f:
        stripped = strip(f.read())
    with open(sys.argv[2], "wb") as f:
        f.write(stripped)
