#!/usr/bin/env python3
"""Every generated function reached through the pcg package gives the
bits the same generated code gives when called from C through its header.

For each model (digits in float and in double, a model with batch norm
and dropout, the text classifier with integer ids): pcc writes the model
with --prefix drv, tests/python/bits_driver.c is compiled against it and
runs a fixed sequence (init, forward, predict, the four gradients and the
weighted PC one, energy, pc_init, pc_step, the three SGD trainers, the
three Adam steps, sgd, save_mem, targets_near) on fixed data, writing
every result as raw bytes; the same sequence through pcg.compile's Model
must give the same bytes, record by record.  Negative controls: another
seed, and another learning rate, change the bytes."""
import os
import subprocess
import tempfile

from common import tap, np, pcg, need_numpy, example, SRC, HERE

need_numpy()
cfg = pcg._config.get()

LR, STEPS, GAMMA, BETA = 0.05, 3, 0.1, 0.5
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


def records(blob):
    out = []
    i = 0
    while i < len(blob):
        j = blob.index(b"\0", i)
        label = blob[i:j].decode()
        n = int.from_bytes(blob[j + 1:j + 9], "little")
        out.append((label, blob[j + 9:j + 9 + n]))
        i = j + 9 + n
    return out


def data_for(m, n, rng):
    data = {}
    for mem in m.input_info + m.target_info:
        shape = (n,) + mem.shape
        if mem.bound:
            a = rng.integers(0, mem.bound, size=shape).astype(np.int32)
        elif mem in m.target_info and mem.name in ("y",) and \
                len(mem.shape) == 1:
            a = np.eye(mem.shape[0], dtype=m.dtype)[
                rng.integers(0, mem.shape[0], size=n)]
        else:
            a = rng.standard_normal(shape).astype(m.dtype)
        data[mem.name] = a
    return data


def python_run(m, data, seed, lr=LR):
    out = []
    rd = lambda v: np.array(v, m.dtype).tobytes()  # noqa: E731
    n = next(iter(data.values())).shape[0]

    def outs(label, d):
        for mem in m.output_info:
            out.append(("%s.%s" % (label, mem.name), d[mem.name].tobytes()))

    def grads(label, g):
        for mem in m.param_info:
            if mem.trainable:
                out.append(("%s.%s" % (label, mem.name),
                            g[mem.name].tobytes()))

    m.reset_state()
    m.init(seed)
    out.append(("init", m.params_bytes()))
    o = m.forward(**data)
    out.append(("forward", rd(m.last_loss)))
    outs("forward.out", o)
    o = m.predict(**data)
    out.append(("predict", rd(m.last_loss)))
    outs("predict.out", o)
    for name in ("grad_bp", "grad_zil", "grad_zil_dynamics"):
        g = getattr(m, name)(**data)
        out.append((name, rd(m.last_loss)))
        grads(name, g)
    g = m.grad_pc(STEPS, GAMMA, **data)
    out.append(("grad_pc", rd(m.last_loss)))
    grads("grad_pc", g)
    g = m.grad_pc_weighted(STEPS, GAMMA, BETA, **data)
    out.append(("grad_pc_weighted", rd(m.last_loss)))
    grads("grad_pc_weighted", g)
    out.append(("energy", rd(m.energy())))
    out.append(("pc_init", rd(m.pc_init(**data))))
    out.append(("pc_step", rd(m.pc_step(GAMMA))))
    out.append(("energy2", rd(m.energy())))
    out.append(("train_bp", rd(m.train_bp(lr, **data))))
    out.append(("train_bp.p", m.params_bytes()))
    out.append(("train_zil", rd(m.train_zil(lr=lr, **data))))
    out.append(("train_zil.p", m.params_bytes()))
    out.append(("train_pc", rd(m.train_pc(lr, STEPS, GAMMA, **data))))
    out.append(("train_pc.p", m.params_bytes()))
    opt = pcg.Adam(m, **ADAM)
    out.append(("step_bp", rd(m.step_bp(opt, **data))))
    out.append(("step_bp.p", m.params_bytes()))
    out.append(("step_bp.o", opt.state_bytes()))
    out.append(("step_zil", rd(m.step_zil(opt, **data))))
    out.append(("step_zil.p", m.params_bytes()))
    out.append(("step_zil.o", opt.state_bytes()))
    out.append(("step_pc", rd(m.step_pc(opt, STEPS, GAMMA, **data))))
    out.append(("step_pc.p", m.params_bytes()))
    out.append(("step_pc.o", opt.state_bytes()))
    g = m.grad_fazil(**data)
    out.append(("grad_fazil", rd(m.last_loss)))
    grads("grad_fazil", g)
    e = m.pc_energies()
    out.append(("pc_energies", rd(m.last_loss)))
    out.append(("pc_energies.e", e.tobytes()))
    g = m.pc_grad()
    out.append(("pc_grad", rd(m.last_loss)))
    grads("pc_grad", g)
    out.append(("train_fazil", rd(m.train_fazil(lr, **data))))
    out.append(("train_fazil.p", m.params_bytes()))
    out.append(("train_ipc", rd(m.train_ipc(lr, STEPS, GAMMA, **data))))
    out.append(("train_ipc.p", m.params_bytes()))
    out.append(("step_fazil", rd(m.step_fazil(opt, **data))))
    out.append(("step_fazil.p", m.params_bytes()))
    out.append(("step_fazil.o", opt.state_bytes()))
    out.append(("step_ipc", rd(m.step_ipc(opt, STEPS, GAMMA, **data))))
    out.append(("step_ipc.p", m.params_bytes()))
    out.append(("step_ipc.o", opt.state_bytes()))
    g = m.grad_bp(**data)
    out.append(("grad_bp2", rd(m.last_loss)))
    m.sgd(g, lr)
    out.append(("sgd.p", m.params_bytes()))
    out.append(("save_mem", m.to_bytes()))
    m.targets_near(0.5)
    out.append(("targets_near.energy", rd(m.energy())))
    out.append(("check_data", np.int64(m.check_data()).tobytes()))
    assert m.n == n
    return out


def c_run(tmp, path, real, batch, gran, data, m, seed):
    d = os.path.join(tmp, "c_%s_%s_%s" % (real, gran, os.path.basename(path)))
    os.makedirs(d, exist_ok=True)
    r = subprocess.run([cfg["pcc"], path, "-o", os.path.join(d, "drv.c"),
                        "--prefix", "drv", "--real", real, "--batch",
                        str(batch), "--granularity", gran],
                       capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr
    exe = os.path.join(d, "driver")
    cmd = (cfg["cc"] + ["-std=c11", "-O2", "-fPIC"] + cfg["cflags"]
           + ["-I" + d, "-I" + cfg["runtime_include"],
              os.path.join(HERE, "bits_driver.c"), os.path.join(d, "drv.c"),
              "-o", exe, cfg["runtime_lib"]] + cfg["runtime_libs"])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr
    dat = os.path.join(d, "data.bin")
    with open(dat, "wb") as f:
        for mem in m.input_info + m.target_info:
            f.write(data[mem.name].tobytes())
    res = os.path.join(d, "out.bin")
    n = next(iter(data.values())).shape[0]
    r = subprocess.run([exe, dat, res, str(seed), str(n)],
                       capture_output=True, text=True)
    if r.returncode:
        return None, "driver exit %d %s" % (r.returncode, r.stderr)
    with open(res, "rb") as f:
        return records(f.read()), ""


def compare(a, b):
    """'' when equal, else the first difference."""
    if [x[0] for x in a] != [x[0] for x in b]:
        return "labels differ: %s vs %s" % ([x[0] for x in a],
                                            [x[0] for x in b])
    for (la, va), (lb, vb) in zip(a, b):
        if va != vb:
            return "%s differs (%d vs %d bytes)" % (la, len(va), len(vb))
    return ""


BATCHSTATS = os.path.join(SRC, "tests", "models", "batchstats.pcg")
CASES = [  # what, model, real, batch, samples, granularity
    ("digits float", example("digits.pcg"), "float", 8, 5, "stmt"),
    ("digits double", example("digits.pcg"), "double", 8, 8, "stmt"),
    ("batchstats double (batch norm, dropout)", BATCHSTATS, "double", 6, 5,
     "stmt"),
    ("batchstats float, granularity op", BATCHSTATS, "float", 4, 4, "op"),
    ("textcls float (int ids)", example("textcls.pcg"), "float", 6, 4,
     "stmt"),
]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for what, path, real, batch, n, gran in CASES:
            m = pcg.compile(path, batch=batch, real=real, granularity=gran)
            data = data_for(m, n, np.random.default_rng(7))
            c, err = c_run(tmp, path, real, batch, gran, data, m, 11)
            if c is None:
                tap.ok(False, "%s: the C driver runs" % what, err)
                continue
            py = python_run(m, data, 11)
            diff = compare(c, py)
            tap.ok(not diff, "%s: %d records, every one the same bits "
                   "from Python as from C" % (what, len(c)), diff)
            if what.startswith("digits float"):
                other = python_run(m, data, 12)
                tap.ok(compare(c, other) != "", "%s: negative control: "
                       "another seed differs" % what)
                other = python_run(m, data, 11, lr=0.06)
                d = compare(c, other)
                tap.ok(d.startswith("train_bp"), "%s: negative control: "
                       "another lr differs from train_bp on" % what, d)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
