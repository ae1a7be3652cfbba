#!/usr/bin/env python3
"""The pcg package's contract beyond the bits (docs/python.md): bad
arrays are ValueErrors naming the member, a model that does not compile
is a CompileError carrying file:line:col, the cache serves a second
compile without running pcc and rebuilds a changed model, functions a
model lacks raise MissingFunctionError, checkpoints round-trip through
read_checkpoint (parsed in Python) and refuse damage, optimizers check
their hyper-parameters and save their state."""
import os
import subprocess
import sys
import tempfile

from common import tap, np, pcg, need_numpy, example, SRC

need_numpy()
ok = tap.ok


def raises(exc, fn, *words):
    """(raised, message): whether fn() raised exc with every word in its
    message."""
    try:
        fn()
    except exc as e:
        return all(w in str(e) for w in words), str(e)
    except Exception as e:  # noqa: BLE001 - reported as a failure
        return False, "%s: %s" % (type(e).__name__, e)
    return False, "nothing raised"


def arrays(tmp):
    m = pcg.compile(example("digits.pcg"), batch=4, real="float")
    m.init(1)
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[[1, 2, 3]]
    cases = [
        ("wrong shape", lambda: m.grad_bp(x=x[:, :60].copy(), y=y), "x",
         "shape"),
        ("wrong rank", lambda: m.grad_bp(x=x.reshape(3, 8, 8), y=y), "x"),
        ("float64 into a float model", lambda: m.grad_bp(
            x=x.astype(np.float64), y=y), "x", "float64"),
        ("more samples than the batch", lambda: m.train_zil(
            x=np.zeros((5, 64), np.float32), y=np.zeros((5, 10),
                                                         np.float32),
            lr=0.1), "x", "batch=4"),
        ("no samples", lambda: m.predict(x=np.zeros((0, 64), np.float32)),
         "x"),
        ("non-contiguous", lambda: m.predict(
            x=np.zeros((3, 128), np.float32)[:, ::2]), "x", "contiguous"),
        ("a missing target", lambda: m.grad_bp(x=x), "y", "missing"),
        ("an unknown member", lambda: m.predict(x=x, z=x), "z"),
        ("samples differ", lambda: m.grad_bp(x=x, y=y[:2]), "y"),
        ("a list", lambda: m.predict(x=x.tolist()), "x"),
    ]
    for what, fn, *words in cases:
        good, msg = raises(ValueError, fn, *words)
        ok(good, "ValueError naming the member: %s" % what, msg)
    good, msg = raises(TypeError, lambda: m.train_zil(x=x, y=y), "lr")
    ok(good, "train_zil without lr: TypeError naming lr", msg)

    # the rule: numpy's safe casts are accepted
    d = pcg.compile(example("digits.pcg"), batch=4, real="double")
    d.init(1)
    g32 = d.grad_bp(x=x, y=y)
    g64 = d.grad_bp(x=x.astype(np.float64), y=y.astype(np.float64))
    ok(all(np.array_equal(g32[k], g64[k]) for k in g32),
       "a float32 array into a double model (a safe cast) is converted")
    # pc_grad: a ValueError before any PC inference (grad_bp ran last);
    # after pc_init and 3 pc_step calls, grad_pc(3)'s bits, through
    # another path of the generated code; 2 steps differ (the control)
    good, msg = raises(ValueError, d.pc_grad, "pc_init")
    ok(good, "pc_grad before any PC inference: ValueError", msg)
    d.pc_init(x=x, y=y)
    for _ in range(3):
        d.pc_step(0.1)
    ga = d.pc_grad()
    gb = d.grad_pc(3, 0.1, x=x, y=y)
    gc = d.grad_pc(2, 0.1, x=x, y=y)
    ok(all(np.array_equal(ga[k], gb[k]) for k in ga) and
       not all(np.array_equal(ga[k], gc[k]) for k in ga),
       "pc_grad after pc_init and 3 steps is grad_pc(3, 0.1) bit for bit "
       "(and not grad_pc(2, 0.1))")
    t = pcg.compile(example("textcls.pcg"), batch=4)
    t.init(1)
    tok = np.random.default_rng(1).integers(0, 50, (2, 16))
    lab = np.array([0, 2])
    good, msg = raises(ValueError, lambda: t.grad_bp(tok=tok, label=lab),
                       "tok", "int64")
    ok(good, "int64 ids (not a safe cast to int32): ValueError naming tok",
       msg)
    ga = t.grad_bp(tok=tok.astype(np.int16), label=lab.astype(np.int8))
    gb = t.grad_bp(tok=tok.astype(np.int32), label=lab.astype(np.int32))
    ok(all(np.array_equal(ga[k], gb[k]) for k in ga),
       "int16 and int8 ids (safe casts) are converted")
    bad = tok.astype(np.int32)
    bad[1, 5] = 50
    good, msg = raises(ValueError, lambda: t.grad_bp(tok=bad, label=lab
                                                     .astype(np.int32)),
                       "tok", "50", "sample 1")
    ok(good, "an id out of range: ValueError naming the member and "
       "sample", msg)

    # copies in, copies out
    xs = x.copy()
    m.set_data(x=xs, y=y)
    before = m.state_bytes()
    xs[:] = 7
    ok(m.state_bytes() == before, "set_data copies: changing the array "
       "afterwards leaves the state as it was")
    out = m.predict(x=x)
    out["o"][:] = 0
    ok(not np.array_equal(m.outputs()["o"], out["o"]),
       "predict returns copies")
    ok(m.n == 3, "the state's n is the samples passed")
    w = m.params["W1"]
    w[0, 0] = 0.25
    ok(m.state_dict()["W1"][0, 0] == np.float32(0.25)
       and w.flags.writeable and w.dtype == np.float32
       and w.shape == (32, 64),
       "params are writable float32 views of the parameter memory")
    m.params["b2"] = np.arange(10, dtype=np.float32)
    ok(m.state_dict()["b2"][3] == 3 and m.params["b2"] is m.params["b2"],
       "assigning to params[name] copies into the parameter")
    good, msg = raises(ValueError, lambda: m.params.__setitem__(
        "b2", np.zeros(3, np.float32)), "b2")
    ok(good, "assigning another shape: ValueError naming it", msg)


def compile_errors(tmp):
    src = ("model bad {\n    input x[3];\n    target y[2];\n"
           "    param W[2, 3];\n    o = W @ x +;\n"
           "    loss mse(o, y);\n}\n")
    try:
        pcg.compile(src, filename="bad.pcg")
        ok(False, "a syntax error raises CompileError")
    except pcg.CompileError as e:
        ok(e.file == "bad.pcg" and e.line == 5 and e.col > 0
           and "bad.pcg:5:%d:" % e.col in str(e) and e.diagnostics,
           "a syntax error: CompileError with pcc's file:line:col "
           "(bad.pcg:5:%s)" % e.col, str(e))
    path = os.path.join(tmp, "shape.pcg")
    with open(path, "w") as f:
        f.write("model shape {\n    input x[3];\n    target y[2];\n"
                "    param W[2, 4];\n    o = W @ x;\n"
                "    loss mse(o, y);\n}\n")
    try:
        pcg.compile(path)
        ok(False, "a shape error raises CompileError")
    except pcg.CompileError as e:
        ok(e.file == path and e.line == 5 and "%s:5:" % path in str(e)
           and e.returncode == 1,
           "a shape error in a file: CompileError at %s:%s:%s"
           % (os.path.basename(path), e.line, e.col), str(e))
    src = ("model unused {\n    input  x[4];\n    target y[4];\n"
           "    param  W[4, 4];\n    h = tanh(W @ x);\n"
           "    spare = relu(W @ x);\n    loss mse(h, y);\n}\n")
    for attempt in ("built", "cached"):
        w = pcg.compile(src, filename="unused.pcg").warnings
        ok(len(w) == 1 and (w[0].file, w[0].line, w[0].col, w[0].severity)
           == ("unused.pcg", 6, 5, "warning") and "spare" in w[0].message,
           "pcc's warning kept in Model.warnings (%s)" % attempt, w)
    good, msg = raises(pcg.CompileError, lambda: pcg.compile(
        os.path.join(tmp, "none.pcg")), "cannot read")
    ok(good, "a missing file: CompileError", msg)
    good, msg = raises(pcg.CompileError, lambda: pcg.compile(
        example("digits.pcg"), defines={"NOPE": 3}), "NOPE")
    ok(good, "an unknown -D: CompileError with pcc's message", msg)
    left = [f for f in os.listdir(pcg.cache_dir()) if f.startswith("build-")]
    ok(not left, "no temporary build folder left in the cache", left)


def cache(tmp):
    src = ("model cached {\n    input x[4];\n    target y[2];\n"
           "    param W[2, 4];\n    o = W @ x;\n"
           "    loss mse(o, y);\n}\n")
    runs = pcg.stats["pcc_runs"]
    a = pcg.compile(src, batch=2)
    ok(pcg.stats["pcc_runs"] == runs + 1 and not a.from_cache,
       "a new model runs pcc")
    mtime = os.stat(a.library).st_mtime_ns
    b = pcg.compile(src, batch=2)
    ok(pcg.stats["pcc_runs"] == runs + 1 and b.from_cache
       and b.library == a.library
       and os.stat(b.library).st_mtime_ns == mtime,
       "the second compile comes from the cache: pcc not run, the "
       "library untouched")
    code = ("import pcg, sys\nm = pcg.compile(sys.argv[1], batch=2)\n"
            "print(m.from_cache, pcg.stats['pcc_runs'])\n")
    r = subprocess.run([sys.executable, "-c", code, src],
                       capture_output=True, text=True)
    ok(r.stdout.split() == ["True", "0"], "another process finds it in the "
       "cache", r.stdout + r.stderr)
    c = pcg.compile(src.replace("W @ x", "W @ tanh(x)"), batch=2)
    ok(pcg.stats["pcc_runs"] == runs + 2 and c.library != a.library,
       "a changed model recompiles")
    pcg.compile(src, batch=3)
    ok(pcg.stats["pcc_runs"] == runs + 3, "another batch recompiles")
    entries = sorted(os.listdir(pcg.cache_dir()))
    ok(all(not e.startswith("build-") for e in entries)
       and sum(e.endswith(".so") for e in entries) >= 3,
       "the cache holds finished libraries only", entries)


def missing_functions(tmp):
    z = pcg.compile(example("digits.pcg"), batch=2, methods="zil")
    good, msg = raises(pcg.MissingFunctionError, lambda: z.grad_bp(
        x=np.zeros((1, 64), np.float32), y=np.zeros((1, 10), np.float32)),
        "grad_bp", "zil")
    ok(good and not z.has("grad_bp") and z.has("train_zil"),
       "--methods zil: grad_bp raises MissingFunctionError", msg)
    inf = pcg.compile("model infer {\n    input x[3];\n    param W[2, 3];\n"
                      "    o = W @ x;\n}\n", batch=2)
    inf.init(3)
    o = inf.predict(x=np.ones((2, 3), np.float32))
    ok(np.allclose(o["o"], np.ones((2, 3)) @ inf.params["W"].T),
       "an inference-only model predicts")
    good, msg = raises(pcg.MissingFunctionError, lambda: inf.train_zil(
        0.1, x=np.ones((2, 3), np.float32)), "no loss")
    ok(good, "an inference-only model: train_zil raises, saying there is "
       "no loss", msg)
    good, msg = raises(ValueError, lambda: pcg.Adam(inf), "no loss")
    ok(good, "no optimizer for a model without a loss", msg)


def checkpoints(tmp):
    m = pcg.compile(os.path.join(SRC, "tests", "models", "batchstats.pcg"),
                    batch=4, real="double")
    m.init(5)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2, 5, 5))
    y = np.eye(4)[[0, 1, 2, 3]]
    m.train_zil(0.1, x=x, y=y)
    path = os.path.join(tmp, "bs.ckpt")
    m.save(path)
    ck = pcg.read_checkpoint(path)
    sd = m.state_dict()
    ok(list(ck) == [i.name for i in m.param_info]
       and all(np.array_equal(ck[k], sd[k]) and ck[k].shape == sd[k].shape
               and ck[k].dtype == np.float64 for k in sd)
       and ck.model == "batchstats" and ck.real == "double"
       and ck.counters == [],
       "read_checkpoint of m.save: every parameter and buffer, its "
       "shape and values, the model's name and real type")
    ok(ck.trainable == {i.name: i.trainable for i in m.param_info}
       and not all(ck.trainable.values()),
       "read_checkpoint: the trainable flags (buffers clear)")
    with open(path, "rb") as f:
        raw = f.read()
    ok(raw == m.to_bytes(), "to_bytes (P_save_mem) is the file's bytes")
    m2 = pcg.compile(os.path.join(SRC, "tests", "models", "batchstats.pcg"),
                     batch=1, real="double")
    m2.load(path)
    ok(m2.params_bytes() == m.params_bytes(),
       "m.load into a batch-1 build restores every byte")
    bad = bytearray(raw)
    bad[len(bad) // 2] ^= 1
    bpath = os.path.join(tmp, "bad.ckpt")
    with open(bpath, "wb") as f:
        f.write(bad)
    good, msg = raises(pcg.CheckpointFormatError,
                       lambda: pcg.read_checkpoint(bpath), "checksum")
    ok(good, "read_checkpoint: a flipped bit is a checksum error", msg)
    before = m2.params_bytes()
    try:
        m2.load(bpath)
        ok(False, "m.load of a damaged file raises")
    except pcg.CheckpointError as e:
        ok(e.code == 3 and m2.params_bytes() == before,
           "m.load of a damaged file: CheckpointError (checksum), the "
           "parameters untouched", str(e))
    with open(bpath, "wb") as f:
        f.write(raw[:-20])
    good, msg = raises(pcg.CheckpointFormatError,
                       lambda: pcg.read_checkpoint(bpath), "truncated")
    ok(good, "read_checkpoint: a truncated file", msg)
    d = pcg.compile(example("digits.pcg"), batch=2, real="double")
    try:
        d.load(path)
        ok(False, "loading another model's checkpoint raises")
    except pcg.CheckpointError as e:
        ok(e.code == 4, "another model's checkpoint: CheckpointError "
           "(another model)", str(e))

    # write_checkpoint: P_save's bytes from Python alone
    wpath = os.path.join(tmp, "written.ckpt")
    pcg.write_checkpoint(wpath, "batchstats", m.state_dict(), real="double",
                         trainable={i.name: i.trainable
                                    for i in m.param_info})
    with open(wpath, "rb") as f:
        ok(f.read() == raw, "write_checkpoint of m.state_dict() writes the "
           "bytes m.save writes")
    m2.init(4)
    m2.load(wpath)
    ok(m2.params_bytes() == m.params_bytes(), "and m.load reads it")
    pcg.write_checkpoint(wpath, "batchstats", m.state_dict(), real="double")
    try:
        m2.load(wpath)
        ok(False, "a buffer flagged trainable is refused")
    except pcg.CheckpointError as e:
        ok(e.code == 5, "negative control: buffers written as trainable "
           "are refused (another shape or flag)", str(e))

    # a library without file functions saves and loads through memory
    nf = pcg.compile(os.path.join(SRC, "tests", "models", "batchstats.pcg"),
                     batch=4, real="double", cflags=["-DPCG_NO_FILES"])
    nf.from_bytes(raw)
    npath = os.path.join(tmp, "nofiles.ckpt")
    nf.save(npath)
    with open(npath, "rb") as f:
        same = f.read() == raw
    nf.init(9)
    nf.load(npath)
    ok(not nf.has("save") and same and nf.params_bytes() == m.params_bytes()
       and not [f for f in os.listdir(tmp) if ".tmp." in f],
       "-DPCG_NO_FILES: save and load go through P_save_mem/P_load_mem, "
       "the same bytes, no temporary file left")

    # optimizers
    opt = pcg.Adam(m, lr=1e-2)
    for _ in range(3):
        m.step_zil(opt, x=x, y=y)
    opath = os.path.join(tmp, "opt.ckpt")
    opt.save(opath)
    ock = pcg.read_checkpoint(opath)
    ok(ock.counters == [3] and opt.step_count == 3
       and all(np.array_equal(ock[k], opt.state[k]) for k in opt.state)
       and list(ock) == list(opt.state),
       "an optimizer checkpoint: its moments and its step count")
    opt2 = pcg.Adam(m, lr=1e-2)
    opt2.load(opath)
    ok(opt2.state_bytes() == opt.state_bytes(), "opt.load restores it")
    for what, fn, word in [
            ("beta1 = 1", lambda: pcg.Adam(m, betas=(1.0, 0.9)), "beta1"),
            ("lr < 0", lambda: pcg.SGD(m, lr=-1.0), "lr"),
            ("nesterov without momentum",
             lambda: pcg.SGD(m, lr=0.1, nesterov=True), "momentum"),
            ("eps NaN", lambda: pcg.AdamW(m, eps=float("nan")), "eps")]:
        good, msg = raises(ValueError, fn, word)
        ok(good, "optimizer: %s is a ValueError naming %s" % (what, word),
           msg)
    opt.lr = -1
    good, msg = raises(ValueError, lambda: m.step_bp(opt, x=x, y=y), "lr")
    ok(good, "an optimizer made invalid afterwards is refused at the step",
       msg)


def threads(tmp):
    """m.threads: the same bits with a pool of 2 and 3 threads as with
    none, and the pool really in the state; a control shows the
    comparison sees a difference of 1e-6 in one row of W1."""
    src = example("mlp.pcg")
    rs = np.random.RandomState(3)
    x = rs.uniform(-1, 1, (8, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rs.randint(0, 10, 8)]

    def run(threads, nudge=False):
        m = pcg.compile(src, batch=8)
        m.init(5)
        if nudge:
            m.params["W1"][0, :] *= np.float32(1 + 1e-6)
        m.threads = threads
        out = [m.train_bp(lr=0.05, x=x, y=y), m.train_zil(lr=0.05, x=x, y=y)]
        g = m.grad_bp(x=x, y=y)
        return m, out, m.params_bytes(), b"".join(
            g[k].tobytes() for k in sorted(g))

    _, l1, p1, g1 = run(1)
    for t in (2, 3):
        m, lt, pt, gt = run(t)
        ok(m.threads == t, "m.threads reads back %d" % t)
        ok(lt == l1 and pt == p1 and gt == g1,
           "%d threads: losses, parameters and gradients have the bits of "
           "one" % t)
    pool = np.frombuffer(m._s, np.uintp, 1, m._d.state_pool)[0]
    ok(pool != 0, "the pool is in the state (s->pool)")
    m.reset_state()
    ok(np.frombuffer(m._s, np.uintp, 1, m._d.state_pool)[0] == pool,
       "reset_state keeps the pool")
    m.threads = 1
    ok(np.frombuffer(m._s, np.uintp, 1, m._d.state_pool)[0] == 0,
       "threads = 1 takes the pool out")
    _, lc, pc, gc = run(2, nudge=True)
    ok(pc != p1 and gc != g1, "control: W1's first row 1e-6 larger is seen")
    for bad in (0, -1, 1.5):
        good, msg = raises(ValueError, lambda: setattr(m, "threads", bad),
                           "threads")
        ok(good, "threads = %r is a ValueError naming threads" % (bad,), msg)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PCG_CACHE_DIR"] = os.path.join(tmp, "cache")
        arrays(tmp)
        compile_errors(tmp)
        cache(tmp)
        missing_functions(tmp)
        checkpoints(tmp)
        threads(tmp)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
