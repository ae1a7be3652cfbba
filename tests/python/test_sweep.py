#!/usr/bin/env python3
"""Every example model through the pcg package: its tables read from
the descriptor give arrays of the right shapes and types for random data
(ids within their bounds), grad_zil gives grad_bp's bits from the same
state (the generated code's guarantee, docs/api.md §4; the dropout
counter rng set back in between: a binding that mixed up offsets, shapes
or dtypes would break it or crash), predict fills every output
with finite values, and a checkpoint reads back with read_checkpoint.
Negative control: a gradient at other parameters differs."""
import os
import tempfile

from common import tap, np, pcg, need_numpy, SRC

need_numpy("every example through pcg")


def random_data(m, n, rng):
    data = {}
    for mem in m.input_info + m.target_info:
        shape = (n,) + mem.shape
        if mem.bound:
            data[mem.name] = rng.integers(0, mem.bound, shape).astype(np.int32)
        else:
            data[mem.name] = (0.5 * rng.standard_normal(shape)).astype(m.dtype)
    return data


def main():
    folder = os.path.join(SRC, "examples")
    names = sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".pcg"))
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                m = pcg.compile(os.path.join(folder, name + ".pcg"), batch=2,
                                real="double")
            except pcg.CompileError as e:
                tap.ok(False, "%s compiles" % name, str(e))
                continue
            m.init(3)
            data = random_data(m, 2, rng)
            if m.has_loss:
                r0 = m.rng  # each training call draws its dropout
                gb = m.grad_bp(**data)  # masks and advances rng
                m.rng = r0
                gz = m.grad_zil(**data)
                same = set(gb) == set(gz) and all(
                    gb[k].tobytes() == gz[k].tobytes() for k in gb)
                nonzero = any(np.any(v != 0) for v in gb.values())
                tap.ok(same and nonzero and np.isfinite(m.last_loss),
                       "%s: grad_zil gives grad_bp's bits (%d parameters)"
                       % (name, len(gb)))
            outs = m.predict(**{k: v for k, v in data.items()
                                if m.predict_reads_targets
                                or k in [i.name for i in m.input_info]})
            tap.ok(len(outs) == len(m.output_info) and all(
                outs[o.name].shape == (2,) + o.shape
                and np.all(np.isfinite(outs[o.name]))
                for o in m.output_info),
                "%s: predict fills its %d outputs" % (name, len(outs)))
            path = os.path.join(tmp, name + ".ckpt")
            m.save(path)
            ck = pcg.read_checkpoint(path)
            tap.ok(ck.model == m.name and all(
                np.array_equal(ck[k], v) for k, v in m.params.items()),
                "%s: its checkpoint reads back" % name)
        # negative control
        m = pcg.compile(os.path.join(folder, "digits.pcg"), batch=2,
                        real="double")
        m.init(3)
        data = random_data(m, 2, rng)
        g1 = m.grad_bp(**data)
        m.init(4)
        g2 = m.grad_zil(**data)
        tap.ok(any(g1[k].tobytes() != g2[k].tobytes() for k in g1),
               "negative control: grad_zil at other parameters differs")
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
