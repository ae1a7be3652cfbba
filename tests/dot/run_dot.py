#!/usr/bin/env python3
"""The levelled graph as Graphviz DOT (pcc --dot), printed as TAP.

  run_dot.py PCC MODEL.pcg...

For every model, at granularity stmt and op, pcc writes the DOT (with
--info, so that nothing else is written) and the test checks:
  - DEPTH, identity and real vertex counts against values derived by hand
    (EXPECT below) and against pcc --info;
  - one `rank=same` subgraph per level, levels 0 .. DEPTH-1 once each, the
    per-level vertex and identity counts of --info;
  - identity vertices (and output copies) drawn dashed, real ones solid;
  - every edge between PC vertices spans exactly one level;
  - every parameter drawn once, with its shape, linked to a vertex;
  - `dot -Tsvg` exits 0 and writes a non-empty SVG with one "level N" text
    per level.
A negative control (--zil-control flat, no levelling) must draw no
identity and an edge that skips levels, so the span check can fail.

Needs Graphviz's `dot`; without it the whole test is skipped.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

count = 0
failed = 0


def report(good, what, detail="", directive=""):
    global count, failed
    count += 1
    line = ("ok %d - %s" if good else "not ok %d - %s") % (count, what)
    if directive:
        line += " # " + directive
    print(line)
    if not good:
        if not directive:
            failed += 1
        for text in str(detail).rstrip("\n").split("\n"):
            print("# " + text)
    sys.stdout.flush()


# Values derived by hand from the models (level = longest path to an
# output; one identity chain per vertex u, of level(u) - min child level
# - 1 identities; DEPTH = max level + 1).  Keyed by (file name,
# granularity): (DEPTH, identity vertices, real vertices).
#
# residual.pcg, stmt: o 0, h2 1, c2 2, a2 3, h1 = 1 + max(a2 3, h2 1) = 4,
#   a1 5, h0 = 1 + max(a1 5, h1 4) = 6; DEPTH 7.  h0's children at 5 and 4:
#   1 identity; h1's at 3 and 1: 2 identities; 3 in all; 7 vertices.
# residual.pcg, op: o(add) 0, matmul 1, h2(add) 2, c2 3, its add 4,
#   matmul 5, a2 6, add 7, matmul 8, h1 = 1 + max(8, h2 2) = 9, a1 10,
#   add 11, matmul 12, h0 = 1 + max(12, h1 9) = 13, add 14, matmul 15;
#   DEPTH 16.  Identities: h0 13 - 9 - 1 = 3, h1 9 - 2 - 1 = 6: 9.
#   Vertices 3 + 3 + 1 + 3 + 3 + 1 + 2 = 16.
# multitask.pcg, stmt (the def's h is a vertex at each call, the return
#   is fused into z1/z2/cls): cls 0, reg 0, feat 1, rows 1, m 2,
#   g = 1 + max(m 2, feat 1) = 3, z2 4, h#2 5, z1 = 1 + max(h#2 5, z2 4,
#   g 3) = 6, h#1 7; DEPTH 8.  Identities: z1 6 - 3 - 1 = 2, g 3 - 1 - 1
#   = 1: 3.  10 vertices.
# multitask.pcg, op: cls 0, reg 0; Wk@ 1, feat 2; Wr@ 1, softplus 2,
#   rows[1] 3, rows(sub) 4, mean 5, m = 1 + max(mean 5, rows 4) = 6,
#   g(add) = 1 + max(m 6, feat 2) = 7, *scale 8, 0.5* 8, sigmoid 9,
#   square 9, z2 10, +bd 11, Wd@ 12, h#2 13, +bc 14, Wc@ 15,
#   z1 = 1 + max(Wc@ 15, z2 10, square 9) = 16, +bb 17, Wb@ 18, h#1 19,
#   +ba 20, Wa@ 21; DEPTH 22.  Identities: m 6 - 4 - 1 = 1,
#   g 7 - 2 - 1 = 4, z1 16 - 9 - 1 = 6: 11.  Vertices 3 + 3 + 3 + 3 + 5
#   (sigmoid, *scale, square, 0.5*, +) + 1 + 2 + 1 + 2 + 4 = 27.
EXPECT = {
    ("residual.pcg", "stmt"): (7, 3, 7),
    ("residual.pcg", "op"): (16, 9, 16),
    ("multitask.pcg", "stmt"): (8, 3, 10),
    ("multitask.pcg", "op"): (22, 11, 27),
}

# The parameters and their shapes, read off the models by hand
# (multitask: D = 16, H = 24).
PARAMS = {
    "residual.pcg": {
        "Win": "[16,8]", "bin": "[16]", "W1": "[16,16]", "b1": "[16]",
        "W2": "[16,16]", "b2": "[16]", "W3": "[16,16]", "b3": "[16]",
        "Wout": "[4,16]", "bout": "[4]",
    },
    "multitask.pcg": {
        "Wa": "[24,16]", "ba": "[24]", "Wb": "[16,24]", "bb": "[16]",
        "Wc": "[24,16]", "bc": "[24]", "Wd": "[16,24]", "bd": "[16]",
        "scale": "[16]", "Wk": "[3,20]", "bk": "[3]", "Wr": "[2,8]",
        "br": "[2]",
    },
}

SUBGRAPH = re.compile(r"^\tsubgraph level(\d+) \{\n\t\trank=same;\n"
                      r"((?:\t\t[^\n]*\n)*?)\t\}\n", re.M)
VNODE = re.compile(r"^\t\t(v\d+) \[(.*)\];$", re.M)
EDGE = re.compile(r"^\t(v\d+) -> (v\d+)( \[style=dashed\])?;$", re.M)
NNODE = re.compile(r'^\t(n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$', re.M)
NEDGE = re.compile(r"^\t(n\d+) -> (v\d+) \[color=(\w+)\];$", re.M)


def parse_info(text):
    info = {"levels": {}}
    for line in text.splitlines():
        m = re.match(r"(vertices|identity vertices|depth) (\d+)$", line)
        if m:
            info[m.group(1)] = int(m.group(2))
        m = re.match(r"level (\d+): (\d+) vertices \((\d+) identity\)$", line)
        if m:
            info["levels"][int(m.group(1))] = (int(m.group(2)),
                                               int(m.group(3)))
    return info


def run_pcc(pcc, model, gran, dot_path, extra=()):
    cmd = [pcc, model, "--granularity", gran, "--dot", dot_path, "--info"]
    cmd += list(extra)
    return subprocess.run(cmd, capture_output=True, text=True)


def check_model(pcc, dot, model, gran, tmp):
    base = os.path.basename(model)
    what = "%s --granularity %s" % (base, gran)
    dot_path = os.path.join(tmp, "%s.%s.dot" % (base, gran))
    r = run_pcc(pcc, model, gran, dot_path)
    report(r.returncode == 0 and os.path.isfile(dot_path),
           what + ": pcc --dot exits 0 and writes the DOT",
           "exit %d\n%s" % (r.returncode, r.stderr))
    if r.returncode != 0 or not os.path.isfile(dot_path):
        return
    info = parse_info(r.stdout)
    with open(dot_path, encoding="utf-8") as f:
        text = f.read()

    # hand-derived counts, and --info agreeing with them
    want = EXPECT.get((base, gran))
    got = (info.get("depth"), info.get("identity vertices"),
           info.get("vertices"))
    if want:
        report(got == want,
               what + ": DEPTH %d, %d identities, %d vertices" % want,
               "pcc --info says DEPTH %s, %s identities, %s vertices"
               % got)
    depth = info.get("depth", -1)
    m = re.search(r"DEPTH (\d+), (\d+) identity vertices", text)
    report(m is not None and (int(m.group(1)), int(m.group(2)))
           == (depth, info.get("identity vertices")),
           what + ": the DOT's header comment agrees with --info",
           "header: %s; info: DEPTH %s, %s identities"
           % (m.group(0) if m else "(none)", depth,
              info.get("identity vertices")))

    # one rank=same subgraph per level
    subs = SUBGRAPH.findall(text)
    levels = sorted(int(lv) for lv, _ in subs)
    nranks = text.count("rank=same")
    report(nranks == depth and levels == list(range(depth)),
           what + ": %d rank=same subgraphs, one per level" % depth,
           "%d rank=same, subgraph levels %s" % (nranks, levels))

    # the vertices of each rank; dashed = identity
    level_of = {}
    bad = []
    for lv, body in subs:
        lv = int(lv)
        nodes = VNODE.findall(body)
        dashed = [v for v, attrs in nodes if "dashed" in attrs]
        solid = [(v, attrs) for v, attrs in nodes if "dashed" not in attrs]
        for v, _ in nodes:
            level_of[v] = lv
        for v, attrs in solid:
            if not re.search(r"shape=(ellipse|doubleoctagon)", attrs):
                bad.append("L%d %s: a real vertex drawn as [%s]"
                           % (lv, v, attrs))
            if lv == 0 and "doubleoctagon" not in attrs:
                bad.append("L0 %s: a real vertex at level 0 must be an "
                           "output (doubleoctagon)" % v)
            if lv > 0 and "doubleoctagon" in attrs:
                bad.append("L%d %s: an output above level 0" % (lv, v))
        for v in dashed:
            attrs = dict(nodes)[v]
            if "shape=box" not in attrs:
                bad.append("L%d %s: identity not a box: [%s]"
                           % (lv, v, attrs))
        want_n, want_id = info["levels"].get(lv, (None, None))
        if (len(nodes), len(dashed)) != (want_n, want_id):
            bad.append("L%d: %d vertices (%d dashed), --info says %s (%s "
                       "identity)" % (lv, len(nodes), len(dashed), want_n,
                                      want_id))
    ndashed = sum(1 for _, body in subs for _, a in VNODE.findall(body)
                  if "dashed" in a)
    if ndashed != info.get("identity vertices"):
        bad.append("%d dashed vertices, %s identity vertices"
                   % (ndashed, info.get("identity vertices")))
    report(not bad, what + ": identity vertices dashed, per-level counts "
           "as --info", "\n".join(bad))

    # every edge between vertices spans exactly one level
    edges = EDGE.findall(text)
    bad = ["%s (L%s) -> %s (L%s)" % (a, level_of.get(a), b, level_of.get(b))
           for a, b, _ in edges
           if a not in level_of or b not in level_of
           or level_of[a] != level_of[b] + 1]
    report(edges and not bad, what + ": %d edges, each spans one level"
           % len(edges), "\n".join(bad) or "no edges")

    # parameters with their shapes
    params = PARAMS.get(base)
    if params is not None:
        drawn = {}
        for nid, label, attrs in NNODE.findall(text):
            if "lightyellow" in attrs:
                m = re.match(r"^(.*?)\\{1,2}n(\[[0-9,]*\])$", label)
                drawn[nid] = (m.group(1), m.group(2)) if m else (label, None)
        got = {name: shape for name, shape in drawn.values()}
        linked = {nid for nid, v, color in NEDGE.findall(text)
                  if color == "goldenrod" and v in level_of}
        bad = []
        if got != params:
            bad.append("drawn %s\nwanted %s" % (sorted(got.items()),
                                                 sorted(params.items())))
        if len(drawn) != len(params):
            bad.append("%d parameter nodes for %d parameters"
                       % (len(drawn), len(params)))
        for nid, (name, _) in drawn.items():
            if nid not in linked:
                bad.append("parameter %s (%s) feeds no vertex" % (name, nid))
        report(not bad, what + ": %d parameters drawn with their shapes"
               % len(params), "\n".join(bad))
        # A DOT label breaks lines with the escape \n; a doubled
        # backslash shows "\n" literally in the picture.
        doubled = [label for _, label, _ in NNODE.findall(text)
                   if "\\\\n" in label]
        doubled += re.findall(r'label="[^"]*\\\\n[^"]*"',
                              "".join(b for _, b in subs))
        report(not doubled, what + ": labels break lines with \\n, not a "
               "literal backslash", "e.g. " + "  ".join(doubled[:3]),
               "TODO level_dot escapes the \\n of its labels"
               if doubled else "")

    # render
    svg_path = dot_path[:-4] + ".svg"
    r = subprocess.run([dot, "-Tsvg", dot_path, "-o", svg_path],
                       capture_output=True, text=True)
    size = os.path.getsize(svg_path) if os.path.isfile(svg_path) else 0
    svg = ""
    if size:
        with open(svg_path, encoding="utf-8", errors="replace") as f:
            svg = f.read()
    report(r.returncode == 0 and size > 0 and "<svg" in svg,
           what + ": dot -Tsvg exits 0 with a non-empty SVG",
           "exit %d, %d bytes\n%s" % (r.returncode, size, r.stderr))
    texts = re.findall(r">level (\d+)</text>", svg)
    report(sorted(int(t) for t in texts) == list(range(depth)),
           what + ": the SVG shows one 'level N' per level",
           "found %s" % sorted(texts))


def check_flat(pcc, model, tmp):
    """Negative control: without levelling, no identity is drawn and some
    edge skips a level (the residual's skips)."""
    base = os.path.basename(model)
    dot_path = os.path.join(tmp, base + ".flat.dot")
    r = run_pcc(pcc, model, "stmt", dot_path, ["--zil-control", "flat"])
    if r.returncode != 0 or not os.path.isfile(dot_path):
        report(False, base + " flat: pcc --dot exits 0",
               "exit %d\n%s" % (r.returncode, r.stderr))
        return
    with open(dot_path, encoding="utf-8") as f:
        text = f.read()
    level_of = {}
    for lv, body in SUBGRAPH.findall(text):
        for v, _ in VNODE.findall(body):
            level_of[v] = int(lv)
    skips = [(a, b) for a, b, _ in EDGE.findall(text)
             if level_of.get(a, -9) - level_of.get(b, -9) > 1]
    report("dashed" not in text and len(skips) == 2,
           base + " without levelling: no identity, 2 edges skip levels "
           "(h0 -> h1, h1 -> h2)",
           "dashed: %s; skipping edges: %s" % ("dashed" in text, skips))


def main():
    if len(sys.argv) < 3:
        print("usage: run_dot.py PCC MODEL.pcg...", file=sys.stderr)
        return 2
    dot = shutil.which("dot")
    if not dot:
        print("1..0 # SKIP graphviz missing")
        return 0
    pcc = sys.argv[1]
    models = sys.argv[2:]
    with tempfile.TemporaryDirectory(prefix="pcc-dot-") as tmp:
        for model in models:
            for gran in ("stmt", "op"):
                check_model(pcc, dot, model, gran, tmp)
            if os.path.basename(model) == "residual.pcg":
                check_flat(pcc, model, tmp)
    print("1..%d" % count)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
