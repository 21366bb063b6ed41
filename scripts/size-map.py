#!/usr/bin/env python3
"""Where the bytes of the wasm module go: `twiggy top` of a names-kept build, by part.

    scripts/size-map.py MODULE.wasm [N]

MODULE.wasm must keep its name section; build it as bench/README.md "Size" says (v0
symbol mangling, so generic instances carry their type arguments, and wasm-opt with -g).
Prints a Markdown table of parts (raw bytes: the name section itself is left out) and
the N largest generic functions by their total over all instances.
"""
import collections
import csv
import io
import re
import subprocess
import sys

PARTS = [
    # (part, test on the cleaned name `s` with leading `<`/`&` removed, or on `c`, the whole)
    ("drop glue (core::ptr::drop_in_place::<T>)", lambda s, c: "core::ptr::drop_in_place" in c[:40]),
    ("serde derives (our types' Serialize/Deserialize impls, visitors)",
     lambda s, c: re.search(r"_::<impl serde(_core)?::(de::Deserialize|ser::Serialize) for|__FieldVisitor|__Visitor|__Field\b|__DeserializeWith|__SerializeWith", c)),
    ("serde_json (parser, printer, Value, a deserialize_* per type)",
     lambda s, c: s.startswith(("serde_json", "zmij", "itoa", "ryu", "memchr"))),
    ("serde / serde_core (incl. untagged/internally tagged `Content`)", lambda s, c: s.startswith(("serde_core", "serde::"))),
    ("allocator", lambda s, c: s.startswith(("dlmalloc", "talc", "lol_alloc")) or re.search(r"__rust_(alloc|realloc|dealloc)|__rdl_", c)),
    ("BTreeMap/BTreeSet instances", lambda s, c: s.startswith("alloc::collections::btree")),
    ("alloc: Vec/String/Rc/Box/VecDeque, hashbrown", lambda s, c: s.startswith(("alloc::", "hashbrown", "std::collections", "std::hash", "core::hash"))),
    ("core::slice::sort instances", lambda s, c: s.startswith("core::slice::sort")),
    ("core::fmt, float formatting, Display/Debug impls",
     lambda s, c: s.startswith(("core::fmt", "core::num::flt2dec", "core::unicode", "core::char", "thiserror")) or re.search(r"as core::fmt::(Display|Debug)>::fmt", c)),
    ("panics, index checks", lambda s, c: s.startswith(("core::panicking", "core::panic", "std::panicking", "std::panic", "core::option::unwrap_failed", "core::result::unwrap_failed", "core::option::expect_failed", "core::slice::index", "core::str::slice_error", "std::process::abort", "std::rt", "std::alloc"))),
    ("core/std other (iterators, closures, str, slices)", lambda s, c: s.startswith(("core::", "std::"))),
    ("wasm-bindgen-futures (future_to_promise, spawn_local)", lambda s, c: s.startswith(("wasm_bindgen_futures", "js_sys::futures"))),
    ("wasm-bindgen / js-sys / web-sys / gloo", lambda s, c: s.startswith(("wasm_bindgen", "js_sys", "web_sys", "__wbindgen", "__wbg", "__externref", "gloo"))),
    ("AES-GCM, base64 (encryption at rest)", lambda s, c: s.startswith(("aes", "polyval", "ghash", "base64", "cipher", "ctr", "generic_array", "aead", "universal_hash", "crypto_common"))),
    ("idb crate", lambda s, c: s.startswith("idb::")),
    ("futures-util/channel, tokio's oneshot", lambda s, c: s.startswith(("futures_", "futures::", "tokio"))),
    ("pwa_sync_core (ours)", lambda s, c: s.startswith("pwa_sync_core::")),
    ("pwa_sync::idb (ours)", lambda s, c: s.startswith("pwa_sync::idb")),
    ("pwa_sync web layer other than idb (ours; with what LTO inlined into it)", lambda s, c: s.startswith("pwa_sync::")),
]


def part(name):
    if "names" in name and "subsection" in name:
        return None
    if name.startswith(("data segment", '"data segment')):
        return "data: .rodata (strings, tables)"
    if re.match(r'^"?(import|export|type|table|elem|global|memory|custom|code section)', name):
        return "imports, exports, types, tables"
    c = re.sub(r"\[[0-9a-f]{6,16}\]", "", name)
    s = re.sub(r"^[<&\s]*(mut\s+)?(dyn\s+)?", "", c)
    for label, test in PARTS:
        if test(s, c):
            return label
    return "other (primitive impls: str parsing, itoa, exports' shims)"


def without_type_arguments(name):
    """`<Vec<T> as Foo>::bar::<u8>` -> `<Vec as Foo>::bar`: `<...>` after a name or `::` is
    dropped, a qualified path's `<... as ...>` is kept."""
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch == "<" and out and (out[-1].isalnum() or out[-1] in "_:"):
            depth = 0
            while i < len(name):
                depth += {"<": 1, ">": -1}.get(name[i], 0)
                i += 1
                if depth == 0:
                    break
            while out and out[-1] == ":":
                out.pop()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def main():
    module = sys.argv[1]
    top_n = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    out = subprocess.run(["twiggy", "top", "-n", "1000000", "--format", "csv", module],
                         check=True, capture_output=True, text=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    size = collections.Counter()
    count = collections.Counter()
    generic = collections.Counter()
    instances = collections.Counter()
    total = 0
    for row in rows:
        name, bytes_ = row["Name"], int(row["ShallowSize"])
        label = part(name)
        if label is None:
            continue
        total += bytes_
        size[label] += bytes_
        count[label] += 1
        # A generic function: its name with every type argument list taken out.
        bare = without_type_arguments(re.sub(r"\[[0-9a-f]{6,16}\]", "", name))
        generic[bare] += bytes_
        instances[bare] += 1
    print(f"| part | functions | bytes | share |\n| --- | ---: | ---: | ---: |")
    for label, bytes_ in size.most_common():
        print(f"| {label} | {count[label]} | {bytes_:,} | {100 * bytes_ / total:.1f} % |")
    print(f"| total (without the name section) | {sum(count.values())} | {total:,} | |")
    print(f"\n| generic function (all instances) | instances | bytes |\n| --- | ---: | ---: |")
    shown = [(b, k) for k, b in generic.items() if instances[k] >= 3]
    for bytes_, name in sorted(shown, reverse=True)[:top_n]:
        print(f"| `{name[:110]}` | {instances[name]} | {bytes_:,} |")


if __name__ == "__main__":
    main()
