#!/usr/bin/env python3
"""Module layers and import cycles of the workspace's crates (issue 12, point 3).

Usage: scripts/check-layers.py [--lenient-web] [--graph] [--root DIR]

For each crate (core/src, src, server/src, fault-proxy/src) this builds the graph of
imports between the crate's modules and

  * refuses every cycle: between top-level modules, and between the submodules of each
    module that has file submodules (a directory module `foo/mod.rs` + `foo/bar.rs`, or
    `foo.rs` + `foo/bar.rs`);
  * for the core (pwa-sync-core), checks the layer order in CORE_LAYERS below;
  * for the wasm crate (src/), checks the layer order in WEB_LAYERS below. With
    --lenient-web its findings are only listed as warnings (for work in progress while
    the web layer is restructured; `make lint` enforces them).

It prints one summary line per crate and every finding with the file and line of each
import that makes it (a cycle is shown as its path of modules: for every strongly
connected group of modules, the shortest cycle through each of them); --graph also prints
each crate's graph by layer. It exits 1 if anything enforced failed, 0 otherwise.

What counts as an import (edge A -> B, A and B modules of the same crate): any path
that starts with `crate::`, `$crate::`, `super::`, `self::`, or with the name of a file
submodule declared in the same file, in `use` trees (groups such as
`use crate::{a::X, b::{c::Y}}` included) and anywhere else in the code
(`crate::clock::MAX_FORWARD_DRIFT_MS` in an expression). The path is followed through the
module tree as far as it names modules, and through `pub use` re-exports (so
`crate::Error`, re-exported by lib.rs from `error`, is an import of `error`). Comments and
string literals are ignored; a path to the crate root itself (lib.rs items) is no edge,
since the root is not a module of the graph.

Test code:
  * items under a test-only attribute are removed before reading imports: `#[test]`,
    `#[wasm_bindgen_test]`, and `#[cfg(P)]` where P can only hold in a test build
    (`test`, `feature = "testing"`, `any(...)` of such, `all(...)` with one such, never
    `not(...)`). That removes `#[cfg(test)] mod tests { ... }` and test-only hooks;
  * a file module declared under such an attribute (`#[cfg(test)] mod fuzz;`,
    `#[cfg(any(test, feature = "testing"))] pub mod conformance;`: in the core `fake`,
    `fuzz`, `convergence` and `store::conformance`) is test code. It is a node of its
    own, named by its full path (`store::conformance`, not folded into `store`), its
    imports count for cycles (a test module may not take part in a cycle either), and it
    is exempt from the layer order (a conformance suite may call the engine).

Directory modules: for the graph between top-level modules, everything inside `store/`
(except test-only submodules, see above) is module `store`. Inside a module with file
submodules, the nodes are the module's own file (named like the module) and each child
(`store::memory`); an edge from the module's own file to a child that is only a
`pub use child::Item` re-export is not counted (the parent's file is then the facade of
its children, as lib.rs is of the crate), every other import is.

Layers: a table maps each top-level module to a layer number; a module may import from
lower layers and, inside its own layer, as said by the layer's kind:
  * "joined" (written with `/` in the issue's picture, e.g. `engine/session`): imports
    inside the layer are allowed (cycles are still refused);
  * "apart" (written with `|`, `store | mutation | conflict | sync`): the modules are
    siblings that do not import each other, except the edges listed with the layer
    (the planner `sync` combines local-write planning, `mutation`, and conflict
    resolution, `conflict`); the storage contract `store` imports none of them.
A module missing from the table is reported as "unlisted module" (a failure where the
table is enforced); modules in the table that do not exist yet are only mentioned with
--graph.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- tables

# (layer name as in the picture, kind, modules, same-layer edges allowed when apart)
CORE_LAYERS = [
    # `names` (event names, error codes, the sync tag shared with JS) sits with the protocol.
    # `fields` reads a JSON object's fields by hand (the config's reader).
    # `sorted_map` is the planner model's map (a sorted vector, no B-tree in the module).
    # `json` writes JSON text (serde_json; floats spelled by JS in the browser module).
    # `text` joins and cuts text for messages without std's generic string code.
    ("protocol/clock/patch/error", "joined", ["protocol", "clock", "patch", "error", "names", "value", "sort", "sorted_map", "fields", "json", "text"], []),
    # `export` is not in the picture: it parses the export format (the text is
    # rendered by js/export.js) and needs only `error`; it sits with the data definitions.
    # `migration` decides schema versions and checks a migration step's answer.
    ("config/record", "joined", ["config", "record", "export", "migration"], []),
    # `query`: the query model, planner and executor every store shares (issue 17).
    ("store model", "joined", ["model", "query"], []),
    (
        "store | mutation | conflict | sync",
        "apart",
        # `resolver` checks an app resolver's answer to a conflict: conflict's sibling.
        ["store", "mutation", "conflict", "sync", "resolver"],
        [("sync", "mutation"), ("sync", "conflict"), ("resolver", "conflict")],
    ),
    ("retry/schedule/metrics", "joined", ["retry", "schedule", "metrics"], []),
    # `eviction` decides whether an empty database on open was evicted.
    ("engine/session", "joined", ["engine", "session", "eviction"], []),
]

WEB_LAYERS = [
    # `error` (JS error objects), `convert` (JSON <-> JsValue) and `types` (the TypeScript
    # section) are not in the picture; every layer above uses the first two, so
    # they sit at the bottom with the typed bindings (`sys`).
    # `value` (the JS app value the stores hold) too: every layer above passes it along.
    # `reader` (structs read field by field off JS objects) serves `wire` and `idb`.
    ("bindings", "joined", ["sys", "error", "convert", "types", "value", "reader"], []),
    # `crypto` seals values at rest before an IndexedDB transaction opens: the store uses
    # it, so it sits beside `idb` rather than above it.
    # `migrate` runs the app's migration functions, inside the upgrade transaction too.
    ("idb/crypto", "joined", ["idb", "crypto", "migrate"], []),
    # `wire` reads the server's answers for `transport`; `background_sync` registers the
    # Background Sync tag.
    (
        "transport/events/locks/channel",
        "joined",
        ["transport", "wire", "events", "locks", "channel", "background_sync"],
        [],
    ),
    # `background` holds the client weakly and carries its timers and listeners out.
    ("client", "joined", ["client", "background"], []),
    ("api", "joined", ["api"], []),
]


@dataclass
class CrateSpec:
    src: str  # relative to the repository root
    name: str
    layers: list | None = None
    enforce: bool = True  # cycles and layers are failures (else warnings)


TEST_FEATURES = {"testing"}
TEST_ATTRIBUTES = {"test", "wasm_bindgen_test", "tokio::test"}
ROOT_FILES = ("lib.rs", "main.rs")

# --------------------------------------------------------------------------- lexing


def clean(text: str) -> tuple[str, list[str]]:
    """Comments blanked (newlines kept); each string or char literal replaced by `"N"`
    (N indexes the returned list of literal contents) followed by the newlines it held."""
    out: list[str] = []
    strings: list[str] = []
    i, n = 0, len(text)

    def literal(content: str) -> None:
        strings.append(content)
        out.append('"%d"' % (len(strings) - 1) + "\n" * content.count("\n"))

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j
            literal(text[m.end() : j])
            i = j + len(end)
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            start = j
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            literal(text[start:j])
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', '\''), else a lifetime or label.
            m = re.compile(r"'(\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'").match(text, i)
            if m:
                literal(m.group(1))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), strings


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def matching(text: str, i: int) -> int:
    """Index just past the bracket that closes the one at `i`."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    j = i + 1
    while j < len(text) and stack:
        c = text[j]
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            stack.pop()
        j += 1
    return j


# --------------------------------------------------------------------------- cfg


def cfg_tokens(expr: str) -> list[str]:
    return re.findall(r'"\d+"|[A-Za-z_][\w:]*|[(),=]', expr)


def is_test_cfg(expr: str, strings: list[str]) -> bool:
    """Whether `#[cfg(expr)]` can only hold in a test build."""
    tokens = cfg_tokens(expr)
    pos = 0

    def parse():  # -> bool
        nonlocal pos
        if pos >= len(tokens):
            return False
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "=":
            pos += 1
            value = tokens[pos] if pos < len(tokens) else ""
            pos += 1
            text = strings[int(value.strip('"'))] if re.fullmatch(r'"\d+"', value) else value
            return name == "feature" and text in TEST_FEATURES
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            args = []
            while pos < len(tokens) and tokens[pos] != ")":
                if tokens[pos] == ",":
                    pos += 1
                    continue
                args.append(parse())
            pos += 1
            if name == "any":
                return bool(args) and all(args)
            if name == "all":
                return any(args)
            return False  # not(...) and anything else
        return name == "test"

    return parse()


ITEM_KEYWORDS = re.compile(
    r"(pub\b|pub\s*\(|fn\b|impl\b|struct\b|enum\b|mod\b|use\b|const\b|static\b|type\b|trait\b|unsafe\b|async\b|"
    r"extern\b|macro_rules\b|union\b)"
)


def item_end(text: str, i: int) -> int:
    """Index just past the item (or field, arm, statement) that starts at `i`."""
    is_item = bool(ITEM_KEYWORDS.match(text, i))
    j = i
    while j < len(text):
        c = text[j]
        if c == "{":
            return matching(text, j)
        if c in "([":
            j = matching(text, j)
            continue
        if c == ";":
            return j + 1
        if c == "," and not is_item:
            return j + 1
        if c in ")]}":
            return j  # the end of the enclosing list
        j += 1
    return j


ATTRIBUTE = re.compile(r"#\s*(!?)\s*\[")


def strip_test_items(text: str, strings: list[str]) -> tuple[str, list[str], bool]:
    """Blank the test-only items. Returns the text, the names of test-only file modules
    declared (`#[cfg(test)] mod x;`), and whether the whole file is test-only (`#![cfg(test)]`)."""
    chars = list(text)
    test_mods: list[str] = []
    whole_file = False
    i = 0
    while m := ATTRIBUTE.search(text, i):
        start = m.start()
        close = matching(text, m.end() - 1)
        content = text[m.end() : close - 1].strip()
        i = close
        test = False
        cm = re.fullmatch(r"cfg\s*\((.*)\)", content, re.S)
        if cm and is_test_cfg(cm.group(1), strings):
            test = True
        elif content in TEST_ATTRIBUTES or re.fullmatch(r"(wasm_bindgen_test|test)(\s*\(.*\))?", content, re.S):
            test = True
        if not test:
            continue
        if m.group(1):  # inner attribute: the enclosing file or module
            whole_file = True
            continue
        # Skip the other attributes of the item, then blank the item.
        j = close
        while True:
            k = j
            while k < len(text) and text[k].isspace():
                k += 1
            a = ATTRIBUTE.match(text, k)
            if not a or a.group(1):
                break
            j = matching(text, a.end() - 1)
        while j < len(text) and text[j].isspace():
            j += 1
        end = item_end(text, j)
        decl = re.match(r"(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*;", text[j:end])
        if decl:
            test_mods.append(decl.group(1))
        for k in range(start, end):
            if chars[k] != "\n":
                chars[k] = " "
        i = end
    return "".join(chars), test_mods, whole_file


# --------------------------------------------------------------------------- modules


@dataclass
class Module:
    path: tuple[str, ...]
    file: str
    test: bool
    text: str = ""
    children: list[str] = field(default_factory=list)
    reexports: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Edge:
    src: tuple[str, ...]
    dst: tuple[str, ...]
    file: str
    line: int
    what: str
    reexport: bool  # a `pub use` of the source's own descendant


def child_file(src_dir: str, module_file: str, is_root_or_modrs: bool, name: str) -> str | None:
    base = os.path.dirname(module_file) if is_root_or_modrs else os.path.splitext(module_file)[0]
    for candidate in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
        if os.path.isfile(os.path.join(src_dir, candidate)):
            return candidate
    return None


MOD_DECL = re.compile(r"(?<![\w])(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*;")


def load_modules(src_dir: str, root_file: str, problems: list[str]) -> dict[tuple[str, ...], Module]:
    modules: dict[tuple[str, ...], Module] = {}

    def visit(path: tuple[str, ...], rel: str, test: bool) -> None:
        with open(os.path.join(src_dir, rel), encoding="utf-8") as f:
            raw = f.read()
        text, strings = clean(raw)
        text, test_mods, whole = strip_test_items(text, strings)
        module = Module(path, rel, test or whole, text)
        modules[path] = module
        own_dir = rel in ROOT_FILES or os.path.basename(rel) == "mod.rs"
        declared = [(name, False) for name in MOD_DECL.findall(text)] + [(name, True) for name in test_mods]
        for name, is_test in declared:
            child = child_file(src_dir, rel, own_dir, name)
            if child is None:
                problems.append(f"{rel}: module `{name}` is declared but its file is missing")
                continue
            module.children.append(name)
            visit(path + (name,), child, module.test or is_test)

    visit((), root_file, False)
    return modules


IDENT = r"[A-Za-z_]\w*"


def parse_use_tree(text: str) -> list[list[str]]:
    """The leaf paths of a use tree (`crate::{a::X, b::{self, c::*}}` ->
    [[crate,a,X],[crate,b,self],[crate,b,c,*]]); `as` aliases are dropped."""
    tokens = re.findall(r"\$crate|::|[{},*]|" + IDENT, text)
    pos = 0

    def tree(prefix: list[str]) -> list[list[str]]:
        nonlocal pos
        segs = list(prefix)
        while pos < len(tokens):
            t = tokens[pos]
            if t == "{":
                pos += 1
                leaves = []
                while pos < len(tokens) and tokens[pos] != "}":
                    if tokens[pos] == ",":
                        pos += 1
                        continue
                    leaves += tree(segs)
                pos += 1
                return leaves
            if t == "::":
                pos += 1
                continue
            if t in (",", "}"):
                break
            if t == "as":
                pos += 2
                continue
            segs.append(t)
            pos += 1
        return [segs]

    leaves = []
    while pos < len(tokens):
        if tokens[pos] in (",", "}"):
            pos += 1
            continue
        leaves += tree([])
    return leaves


USE_STMT = re.compile(r"(?<![\w])(pub(?:\s*\([^)]*\))?\s+)?use\s+")
EXPR_PATH = re.compile(r"(?<![\w:$])(?<!in )(\$crate|crate|super|self)((?:\s*::\s*" + IDENT + r")+)")


def resolve(
    modules: dict[tuple[str, ...], Module], current: tuple[str, ...], segs: list[str]
) -> tuple[str, ...] | None:
    """The module a path names (as deep as it names modules), or None if the path does
    not start inside this crate."""
    if not segs:
        return None
    first, rest = segs[0], segs[1:]
    if first in ("crate", "$crate"):
        at: tuple[str, ...] = ()
    elif first == "super":
        at = current[:-1]
        while rest and rest[0] == "super":
            at, rest = at[:-1], rest[1:]
    elif first == "self":
        at = current
    elif first in modules[current].children:
        at, rest = current, segs
    else:
        return None
    for seg in rest:
        if seg == "self":
            continue
        if at + (seg,) in modules:
            at = at + (seg,)
        elif seg in modules[at].reexports:
            return modules[at].reexports[seg]
        else:
            break
    return at


def use_statements(text: str):
    for m in USE_STMT.finditer(text):
        end = m.end()
        while end < len(text) and text[end] != ";":
            end = matching(text, end) if text[end] == "{" else end + 1
        yield m.start(), end + 1, bool(m.group(1)), text[m.end() : end]


def collect_reexports(modules: dict[tuple[str, ...], Module]) -> None:
    for _ in range(3):  # re-exports of re-exports
        for module in modules.values():
            for _, _, public, body in use_statements(module.text):
                if not public:
                    continue
                for leaf in parse_use_tree(body):
                    if len(leaf) < 2 or leaf[-1] in ("*", "self"):
                        continue
                    target = resolve(modules, module.path, leaf[:-1])
                    if target is not None and target + (leaf[-1],) not in modules and target != module.path:
                        module.reexports[leaf[-1]] = target


def collect_edges(modules: dict[tuple[str, ...], Module], src_dir: str) -> list[Edge]:
    edges: list[Edge] = []
    for module in modules.values():
        if not module.path:
            continue  # the crate root (lib.rs) is not a node: it declares and re-exports
        rel = os.path.join(src_dir, module.file)
        text = module.text
        rest = list(text)
        for start, end, public, body in use_statements(text):
            for k in range(start, end):
                if rest[k] != "\n":
                    rest[k] = " "
            for leaf in parse_use_tree(body):
                target = resolve(modules, module.path, leaf)
                if target is None or target == module.path or target == ():
                    continue
                is_reexport = public and target[: len(module.path)] == module.path
                what = "use " + "::".join(seg for seg in leaf if seg != "self")
                edges.append(Edge(module.path, target, rel, line_of(text, start), what, is_reexport))
        rest_text = "".join(rest)
        children = module.children
        patterns = [EXPR_PATH]
        if children:
            names = "|".join(re.escape(c) for c in children)
            patterns.append(re.compile(r"(?<![\w:$.])(" + names + r")((?:\s*::\s*" + IDENT + r")+)"))
        for pattern in patterns:
            for m in pattern.finditer(rest_text):
                segs = [m.group(1)] + re.findall(IDENT, m.group(2))
                target = resolve(modules, module.path, segs)
                if target is None or target == module.path or target == ():
                    continue
                edges.append(Edge(module.path, target, rel, line_of(text, m.start()), "::".join(segs), False))
    return edges


# --------------------------------------------------------------------------- graphs


def node_name(path: tuple[str, ...]) -> str:
    return "::".join(path) if path else "(root)"


def test_root(modules, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The outermost test-only module containing `path`, if any."""
    for k in range(1, len(path) + 1):
        if modules[path[:k]].test:
            return path[:k]
    return None


def top_node(modules, path: tuple[str, ...]) -> tuple[str, ...]:
    return test_root(modules, path) or path[:1]


def find_cycles(nodes: set, adj: dict) -> list[list]:
    """For every strongly connected component with more than one node: the shortest
    cycle through each of its nodes, without repeats."""
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def strongconnect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(adj.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            strongconnect(v)
    cycles, seen = [], set()
    for comp in sccs:
        if len(comp) < 2:
            continue
        members = set(comp)
        for start in sorted(comp):
            # BFS from start back to start inside the component.
            prev = {start: None}
            queue, found = [start], None
            while queue and found is None:
                nxt = []
                for v in queue:
                    for w in sorted(adj.get(v, ())):
                        if w not in members:
                            continue
                        if w == start:
                            found = v
                            break
                        if w not in prev:
                            prev[w] = v
                            nxt.append(w)
                    if found is not None:
                        break
                queue = nxt
            if found is None:
                continue
            path = [found]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            path.reverse()  # start ... found
            k = path.index(min(path))
            canonical = tuple(path[k:] + path[:k])
            if canonical not in seen:
                seen.add(canonical)
                cycles.append(list(canonical))
    return cycles


@dataclass
class Graph:
    label: str
    nodes: set
    edges: dict  # (a, b) -> [Edge]

    def adjacency(self) -> dict:
        adj: dict = {}
        for a, b in self.edges:
            adj.setdefault(a, set()).add(b)
        return adj


def build_graphs(modules, edges: list[Edge]) -> list[Graph]:
    graphs = []
    top = Graph("between top-level modules", set(), {})
    for path in modules:
        if path:
            top.nodes.add(top_node(modules, path))
    for e in edges:
        a, b = top_node(modules, e.src), top_node(modules, e.dst)
        if a != b:
            top.edges.setdefault((a, b), []).append(e)
    graphs.append(top)
    for path, module in sorted(modules.items()):
        if not path or not module.children:
            continue
        sub = Graph(f"inside {node_name(path)}", {path} | {path + (c,) for c in module.children}, {})
        depth = len(path)
        for e in edges:
            if e.src[:depth] != path or e.dst[:depth] != path:
                continue
            a, b = e.src[: depth + 1], e.dst[: depth + 1]
            if a == b or (e.reexport and a == path):
                continue
            sub.edges.setdefault((a, b), []).append(e)
        graphs.append(sub)
    return graphs


# --------------------------------------------------------------------------- checks


@dataclass
class Report:
    crate: CrateSpec
    modules: int = 0
    test_modules: int = 0
    edges: int = 0
    test_edges: int = 0
    cycles: list = field(default_factory=list)  # messages
    layer_findings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    graph_lines: list = field(default_factory=list)

    def failed(self) -> bool:
        return self.crate.enforce and bool(self.cycles or self.layer_findings)


def evidence(edge_list: list[Edge]) -> str:
    e = edge_list[0]
    more = f" (+{len(edge_list) - 1} more)" if len(edge_list) > 1 else ""
    return f"{e.file}:{e.line} `{e.what}`{more}"


def check_layers(spec: CrateSpec, modules, top: Graph, report: Report) -> None:
    layer_of, kind_of, allowed, names = {}, {}, set(), {}
    for number, (name, kind, members, intra) in enumerate(spec.layers):
        for member in members:
            layer_of[member] = number
            kind_of[member] = kind
        names[number] = name
        allowed |= set(intra)
    present = {n[0] for n in top.nodes if not modules[n].test}
    for module in sorted(present - set(layer_of)):
        report.layer_findings.append(
            f"unlisted module `{module}`: add it to the layer table in scripts/check-layers.py"
        )
    for missing in sorted(set(layer_of) - present):
        report.notes.append(f"layer table lists `{missing}`, which does not exist (yet)")
    for (a, b), edge_list in sorted(top.edges.items()):
        if modules[a].test or modules[b].test:
            continue
        ma, mb = a[0], b[0]
        if ma not in layer_of or mb not in layer_of:
            continue
        la, lb = layer_of[ma], layer_of[mb]
        if lb > la:
            report.layer_findings.append(
                f"`{ma}` (layer {la}: {names[la]}) imports `{mb}` from a layer above "
                f"(layer {lb}: {names[lb]}): {evidence(edge_list)}"
            )
        elif lb == la and kind_of[ma] == "apart" and (ma, mb) not in allowed:
            report.layer_findings.append(
                f"`{ma}` imports `{mb}`, a sibling in layer {la} ({names[la]}) that it may not import: "
                f"{evidence(edge_list)}"
            )
    for number, (name, _, members, _) in enumerate(spec.layers):
        report.graph_lines.append(f"  layer {number}: {name}")
        for member in members:
            if (member,) not in modules:
                continue
            deps = sorted(node_name(b) for (a, b) in top.edges if a == (member,))
            report.graph_lines.append(f"    {member} -> {', '.join(deps) if deps else '(nothing)'}")
    tests = sorted(n for n in top.nodes if modules[n].test)
    if tests:
        report.graph_lines.append("  test-only (exempt from the order, counted for cycles)")
        for t in tests:
            deps = sorted(node_name(b) for (a, b) in top.edges if a == t)
            report.graph_lines.append(f"    {node_name(t)} -> {', '.join(deps) if deps else '(nothing)'}")
    unlisted = sorted(present - set(layer_of))
    if unlisted:
        report.graph_lines.append("  unlisted")
        for u in unlisted:
            deps = sorted(node_name(b) for (a, b) in top.edges if a == (u,))
            report.graph_lines.append(f"    {u} -> {', '.join(deps) if deps else '(nothing)'}")


def check_crate(repo: str, spec: CrateSpec) -> list[Report]:
    src_dir = os.path.join(repo, spec.src)
    reports = []
    roots = [r for r in ROOT_FILES if os.path.isfile(os.path.join(src_dir, r))]
    for root in roots:
        problems: list[str] = []
        modules = load_modules(src_dir, root, problems)
        if len(modules) == 1 and root != roots[0]:
            continue  # a main.rs with no modules of its own
        label = spec.src if root == roots[0] else f"{spec.src} ({root})"
        report = Report(CrateSpec(label, spec.name, spec.layers if root == roots[0] else None, spec.enforce))
        report.notes += problems
        collect_reexports(modules)
        edges = collect_edges(modules, spec.src)
        graphs = build_graphs(modules, edges)
        report.modules = len(modules) - 1
        report.test_modules = sum(1 for p, m in modules.items() if p and m.test)
        report.edges = len(graphs[0].edges)
        report.test_edges = sum(1 for (a, b) in graphs[0].edges if modules[a].test or modules[b].test)
        for graph in graphs:
            adj = graph.adjacency()
            for cycle in find_cycles(graph.nodes, adj):
                ring = cycle + [cycle[0]]
                hops = "; ".join(
                    f"{node_name(a)} -> {node_name(b)} at {evidence(graph.edges[(a, b)])}" for a, b in zip(ring, ring[1:])
                )
                report.cycles.append(f"cycle {graph.label}: {' -> '.join(node_name(n) for n in ring)}\n      {hops}")
        if report.crate.layers is not None:
            check_layers(report.crate, modules, graphs[0], report)
        else:
            report.graph_lines.append("  between top-level modules")
            for a in sorted(graphs[0].nodes):
                deps = sorted(node_name(b) for (x, b) in graphs[0].edges if x == a)
                report.graph_lines.append(f"    {node_name(a)} -> {', '.join(deps) if deps else '(nothing)'}")
        for graph in graphs[1:]:
            report.graph_lines.append(f"  {graph.label}")
            for a in sorted(graph.nodes):
                deps = sorted(node_name(b) for (x, b) in graph.edges if x == a)
                report.graph_lines.append(f"    {node_name(a)} -> {', '.join(deps) if deps else '(nothing)'}")
        reports.append(report)
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lenient-web", action="store_true", help="only warn about the wasm crate's layers and cycles")
    parser.add_argument("--graph", action="store_true", help="print each crate's module graph by layer")
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = parser.parse_args()
    crates = [
        CrateSpec("core/src", "pwa-sync-core", CORE_LAYERS),
        CrateSpec("src", "pwa-sync (wasm)", WEB_LAYERS, enforce=not args.lenient_web),
        CrateSpec("server/src", "pwa-sync-server"),
        CrateSpec("fault-proxy/src", "pwa-sync-fault-proxy"),
    ]
    failed = False
    for spec in crates:
        if not os.path.isdir(os.path.join(args.root, spec.src)):
            print(f"{spec.src}: missing")
            failed = True
            continue
        for r in check_crate(args.root, spec):
            layers = "no layer table"
            if r.crate.layers is not None:
                layers = "layer order: " + ("ok" if not r.layer_findings else f"{len(r.layer_findings)} findings")
            cycles = f"cycles: {len(r.cycles)}"
            enforced = "" if r.crate.enforce else " (warnings only: --lenient-web)"
            verdict = "FAIL" if r.failed() else "ok"
            print(
                f"{verdict:4} {r.crate.src} ({spec.name}): {r.modules} modules ({r.test_modules} test-only), "
                f"{r.edges - r.test_edges} edges (+{r.test_edges} of test modules), {cycles}, {layers}{enforced}"
            )
            level = "error" if r.crate.enforce else "warning"
            for message in r.cycles + r.layer_findings:
                print(f"  {level}: {message}")
            if args.graph:
                for note in r.notes:
                    print(f"  note: {note}")
                print("\n".join(r.graph_lines))
            else:
                for note in r.notes:
                    if "missing" in note and "declared" in note:
                        print(f"  note: {note}")
            failed |= r.failed()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
