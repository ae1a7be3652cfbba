"""pcg.Model: a compiled model driven through its descriptor, P_model()
(docs/api.md, "The model descriptor"), and nothing else."""
import ctypes as C
import os

import numpy as np

from . import _ctypes as T
from . import _mapping

__all__ = ["Model", "Member", "MissingFunctionError", "CheckpointError"]


class MissingFunctionError(AttributeError):
    """The model has no such function: pcc's --methods left its method
    out, the model has no loss, or the library was built without file
    functions."""


class CheckpointError(OSError):
    """A checkpoint could not be written or read; `code` is the
    pcg_ckpt_error (docs/api.md §8) and str() its message."""

    def __init__(self, code, path, what):
        self.code = code
        self.path = path
        super().__init__("%s '%s': %s (pcg_ckpt_error %d)"
                         % (what, path, T.CKPT_ERRORS.get(code, "unknown"),
                            code))


class Member:
    """One entry of an info table: a parameter, an input, a target, an
    output or an optimizer moment.  `shape` is per sample for data (the
    batch axis comes first in the arrays), the whole parameter's
    otherwise; `dtype` is numpy's; `bound` > 0 marks integer ids in
    0..bound-1; `trainable` is 0 for a buffer (batch-norm statistics)."""

    def __init__(self, info, real):
        self.name = info.name.decode()
        self.shape = tuple(info.dims[i] for i in range(info.rank))
        self.count = int(info.count)
        self.offset = int(info.offset)
        self.byte_offset = int(info.byte_offset)
        self.bound = int(info.bound)
        self.trainable = bool(info.trainable)
        self.dtype = np.dtype(np.int32) if self.bound > 0 else real

    def __repr__(self):
        extra = ", ids < %d" % self.bound if self.bound else ""
        return "Member(%r, %s, %s%s)" % (self.name, self.shape,
                                         self.dtype.name, extra)


def _table(ptr, n, real):
    return [Member(ptr[k], real) for k in range(n)] if n > 0 else []


def _aligned(nbytes, align):
    """A zeroed uint8 array of nbytes whose address is a multiple of
    align (at least 1 byte, so that it has an address)."""
    align = max(int(align), 16)
    raw = np.zeros(max(int(nbytes), 1) + align, np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + max(int(nbytes), 1)]


def _as_array(value, what):
    """A numpy array of value (a numpy array, or a torch tensor, taken
    through .numpy()); anything else is a ValueError naming `what`."""
    if isinstance(value, np.ndarray):
        return value
    mod = type(value).__module__ or ""
    if mod.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    raise ValueError("%s: a numpy array expected, got %s"
                     % (what, type(value).__name__))


REQUIRED = object()


class Params(dict):
    """name -> writable numpy view of each parameter.  Assigning to a name
    copies into the parameter (m.params["W"] = w is m.params["W"][...] =
    w, same shape required); names cannot be added or removed."""

    def __setitem__(self, key, value):
        if key not in self:
            raise KeyError("%r: the model has no parameter of that name"
                           % (key,))
        view = dict.__getitem__(self, key)
        a = _as_array(value, key) if not np.isscalar(value) else value
        if not np.isscalar(a) and a.shape != view.shape:
            raise ValueError("%s: shape %s, expected %s"
                             % (key, a.shape, view.shape))
        view[...] = a

    def __delitem__(self, key):
        raise TypeError("the parameters cannot be removed")

    def _refuse(self, *args, **kw):
        raise TypeError("the parameters are fixed: assign to one by name")

    pop = popitem = clear = update = setdefault = _refuse


def _write_atomic(path, data):
    """data to path through a temporary file in the same folder and a
    rename: an existing file is replaced whole or not at all."""
    import tempfile
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.",
                                   dir=folder)
    except OSError:
        raise CheckpointError(1, path, "cannot save") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CheckpointError(1, path, "cannot save") from None


class Model:
    """A model compiled by pcg.compile.  Its memory (parameters, state,
    a gradient) is owned here; `params` holds writable numpy views of the
    parameters, everything else returns copies."""

    def __init__(self, lib_path, prefix, from_cache=False):
        self.library = lib_path
        self.from_cache = from_cache
        self._lib = C.CDLL(os.path.abspath(lib_path))
        try:
            get = getattr(self._lib, prefix + "_model")
        except AttributeError:
            raise ValueError("%s: no %s_model in the library"
                             % (lib_path, prefix)) from None
        get.restype = C.POINTER(T.ModelDesc)
        get.argtypes = []
        d = get().contents
        if d.version < T.PCG_MODEL_VERSION:
            raise ValueError("%s: descriptor version %d, this package "
                             "needs %d" % (lib_path, d.version,
                                           T.PCG_MODEL_VERSION))
        self._d = d
        self.name = d.name.decode()
        self.prefix = d.prefix.decode()
        self.batch = int(d.batch)
        if d.real_size == 4:
            self.dtype, self._fns, self._R = np.dtype(np.float32), \
                d.f.contents, C.c_float
        else:
            self.dtype, self._fns, self._R = np.dtype(np.float64), \
                d.d.contents, C.c_double
        self.real = "float" if d.real_size == 4 else "double"
        self.methods = [m for bit, m in ((T.METHOD_BP, "bp"),
                                         (T.METHOD_ZIL, "zil"),
                                         (T.METHOD_PC, "pc"))
                        if d.methods & bit]
        self.has_loss = bool(d.has_loss)
        self.depth = int(d.depth)
        self.predict_reads_targets = bool(d.predict_reads_targets)
        self.align = int(d.align)
        self.param_info = _table(d.param_info, d.num_params, self.dtype)
        self.input_info = _table(d.input_info, d.num_inputs, self.dtype)
        self.target_info = _table(d.target_info, d.num_targets, self.dtype)
        self.output_info = _table(d.output_info, d.num_outputs, self.dtype)
        self.opt_info = _table(d.opt_info, d.num_opt, self.dtype) \
            if d.opt_size else []
        self._data_names = {m.name: m for m in
                            self.input_info + self.target_info}

        self._p = _aligned(d.params_size, d.align)
        self._s = _aligned(d.state_size, d.align)
        self._g = _aligned(d.grad_size, d.align) if d.grad_size else None
        self._pp = C.c_void_p(self._p.ctypes.data)
        self._sp = C.c_void_p(self._s.ctypes.data)
        self._gp = C.c_void_p(self._g.ctypes.data) \
            if self._g is not None else None
        self.params = Params((m.name, self._view(self._p, m))
                             for m in self.param_info)
        self.last_loss = None
        self.warnings = []
        # the runtime linked into the library: its thread pool
        self._pool = None
        self._pool_create = self._lib.pcg_pool_create
        self._pool_create.restype = C.c_void_p
        self._pool_create.argtypes = [C.c_int]
        self._pool_destroy = self._lib.pcg_pool_destroy
        self._pool_destroy.restype = None
        self._pool_destroy.argtypes = [C.c_void_p]
        self._pool_threads = 1

    # ------------------------------------------------------------ memory

    def _view(self, buf, m, batch=None):
        shape = ((batch,) if batch else ()) + m.shape
        return np.ndarray(shape, m.dtype, buffer=buf, offset=m.byte_offset)

    def _state_view(self, m):
        return self._view(self._s, m, self.batch)

    @property
    def n(self):
        """The state's n: the samples in use (0 means all the batch)."""
        return int(np.frombuffer(self._s, np.int32, 1, self._d.state_n)[0])

    @n.setter
    def n(self, value):
        np.frombuffer(self._s, np.int32, 1, self._d.state_n)[0] = value

    @property
    def rng(self):
        """The state's rng: the dropout stream's counter (uint64)."""
        return int(np.frombuffer(self._s, np.uint64, 1,
                                 self._d.state_rng)[0])

    @rng.setter
    def rng(self, value):
        np.frombuffer(self._s, np.uint64, 1, self._d.state_rng)[0] = value

    def reset_state(self):
        """Zero the state (data, n, rng and the private buffers), as a
        fresh P_state; the thread pool stays."""
        self._s[:] = 0
        self._put_pool()

    def _put_pool(self):
        np.frombuffer(self._s, np.uintp, 1, self._d.state_pool)[0] = \
            self._pool or 0

    @property
    def threads(self):
        """The threads the state's pool spreads the matrix products over
        (docs/api.md §6); 1, the default, runs on the calling thread.
        Every thread count gives the same bits."""
        return self._pool_threads

    @threads.setter
    def threads(self, n):
        n = self._int(n, "threads")
        if n < 1:
            raise ValueError("threads: %d, expected 1 or more" % n)
        pool = None
        if n > 1:
            pool = self._pool_create(n)
            if not pool:
                raise ValueError("threads: the runtime could not start a "
                                 "pool of %d threads (at most 256; none "
                                 "where there are no POSIX threads)" % n)
        old, self._pool, self._pool_threads = self._pool, pool, n
        self._put_pool()
        if old:
            self._pool_destroy(old)

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool:
            self._pool = None
            self._pool_destroy(pool)

    def state_bytes(self):
        """A copy of the whole state's bytes."""
        return self._s.tobytes()

    def params_bytes(self):
        """A copy of the whole parameter memory (sizeof(P_params))."""
        return self._p.tobytes()

    # -------------------------------------------------------------- data

    def set_data(self, **data):
        """Copy inputs and targets into the state: keyword arrays named
        after the model's members, each of shape (n, *member.shape) with
        1 <= n <= batch, the same n for all; sets the state's n.  The
        rules are those of every function taking data (docs/python.md,
        "Arrays")."""
        self._set_data(data, targets=False)

    def _set_data(self, data, targets):
        """targets: whether every target is required too."""
        if not data:
            return
        for k in data:
            if k not in self._data_names:
                raise ValueError(
                    "%s: the model %r has no input or target %r (inputs: "
                    "%s; targets: %s)" % (k, self.name, k,
                                          ", ".join(m.name for m in
                                                    self.input_info)
                                          or "none",
                                          ", ".join(m.name for m in
                                                    self.target_info)
                                          or "none"))
        need = self.input_info + (self.target_info if targets else [])
        for m in need:
            if m.name not in data:
                kind = "input" if m in self.input_info else "target"
                raise ValueError("%s: missing (the model's %s %s%s, of "
                                 "shape (n,)+%s)"
                                 % (m.name, kind, m.name,
                                    "".join("[%d]" % x for x in m.shape),
                                    m.shape))
        arrays = {}
        n = None
        first = None
        for k, v in data.items():
            m = self._data_names[k]
            a = _as_array(v, k)
            if not np.can_cast(a.dtype, m.dtype, "safe"):
                raise ValueError(
                    "%s: dtype %s does not convert safely to the member's "
                    "%s%s" % (k, a.dtype, m.dtype,
                              " (integer ids)" if m.bound else ""))
            if a.ndim != len(m.shape) + 1 or a.shape[1:] != m.shape:
                raise ValueError("%s: shape %s, expected (n,)+%s with n "
                                 "the samples (1..%d)"
                                 % (k, a.shape, m.shape, self.batch))
            if not a.flags.c_contiguous:
                raise ValueError("%s: not C-contiguous (pass "
                                 "np.ascontiguousarray(...))" % k)
            if not 1 <= a.shape[0] <= self.batch:
                raise ValueError("%s: %d samples, the model was compiled "
                                 "for 1..%d (batch=%d)"
                                 % (k, a.shape[0], self.batch, self.batch))
            if n is None:
                n, first = a.shape[0], k
            elif a.shape[0] != n:
                raise ValueError("%s: %d samples, but %s has %d"
                                 % (k, a.shape[0], first, n))
            if m.bound:
                bad = np.flatnonzero((a < 0) | (a >= m.bound))
                if bad.size:
                    i = int(bad[0])
                    raise ValueError(
                        "%s: id %d at sample %d (element %d of it) is "
                        "outside 0..%d" % (k, int(a.reshape(-1)[i]),
                                           i // max(m.count, 1),
                                           i % max(m.count, 1),
                                           m.bound - 1))
            arrays[k] = a
        for k, a in arrays.items():
            dest = self._state_view(self._data_names[k])
            dest[:n] = a
            dest[n:] = 0
        self.n = n

    def outputs(self):
        """Copies of the outputs in the state, the n samples in use:
        name -> array of shape (n, *shape)."""
        n = self.n or self.batch
        return {m.name: self._state_view(m)[:n].copy()
                for m in self.output_info}

    # --------------------------------------------------------- functions

    def _fn(self, name):
        f = getattr(self._fns, name)
        if not f:
            if not self.has_loss and name not in ("save", "load"):
                why = "the model has no loss (inference only)"
            elif name in ("save", "load", "save_opt", "load_opt"):
                why = "the library was built without file functions"
            else:
                why = ("pcc --methods generated only %s"
                       % (",".join(self.methods) or "none"))
            raise MissingFunctionError("model %r has no %s: %s"
                                       % (self.name, name, why))
        return f

    def has(self, name):
        """Whether the model has the function `name` (init, grad_pc, ...)."""
        return bool(getattr(self._fns, name))

    def _hyper(self, fname, args, data, spec):
        """The scalar arguments of fname: positional, or by keyword when
        no data member has that name (a member that does must be given
        the hyper-parameter positionally)."""
        if len(args) > len(spec):
            raise TypeError("%s() takes %d positional arguments (%s), got "
                            "%d" % (fname, len(spec),
                                    ", ".join(s[0] for s in spec),
                                    len(args)))
        out = []
        for i, (name, default) in enumerate(spec):
            if i < len(args):
                v = args[i]
                if name in data and name not in self._data_names:
                    raise TypeError("%s(): %s given twice" % (fname, name))
            elif name in data and name not in self._data_names:
                v = data.pop(name)
            elif default is not REQUIRED:
                v = default
            else:
                raise TypeError("%s() missing its argument %s"
                                % (fname, name))
            out.append(v)
        return out

    def _real(self, v, what):
        try:
            return self._R(float(v))
        except (TypeError, ValueError):
            raise ValueError("%s: a number expected, got %r"
                             % (what, v)) from None

    def _int(self, v, what):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError("%s: an int expected, got %r" % (what, v))
        if not 0 <= v < 2 ** 31:
            raise ValueError("%s: %d is outside 0..2^31-1" % (what, v))
        return int(v)

    def _done(self, loss):
        self.last_loss = float(loss)
        return self.last_loss

    def init(self, seed=0):
        """P_init: every parameter from its initialiser and the seed."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) \
                or not 0 <= seed < 2 ** 64:
            raise ValueError("seed: an int in 0..2^64-1 expected, got %r"
                             % (seed,))
        self._fn("init")(self._pp, C.c_uint64(int(seed)))

    def predict(self, **data):
        """P_predict on the inputs given (and the targets, for a model
        whose prediction reads them): the outputs, name -> array (what
        P_predict returns, 0, is in last_loss)."""
        f = self._fn("predict")
        self._set_data(data, targets=self.predict_reads_targets)
        self._done(f(self._pp, self._sp))
        return self.outputs()

    def forward(self, **data):
        """P_forward (evaluation mode, with the loss): the outputs,
        name -> array; the loss is in last_loss."""
        f = self._fn("forward")
        self._set_data(data, targets=self.has_loss)
        self._done(f(self._pp, self._sp))
        return self.outputs()

    def _gradient(self):
        return {m.name: self._view(self._g, m).copy()
                for m in self.param_info if m.trainable}

    def _grad(self, name, args, data, spec=()):
        f = self._fn(name)
        h = self._hyper(name, args, data, spec)
        self._set_data(data, targets=True)
        conv = [self._int(v, s[0]) if s[0] == "steps" else
                self._real(v, s[0]) for v, s in zip(h, spec)]
        self._done(f(self._pp, self._sp, self._gp, *conv))
        return self._gradient()

    def grad_bp(self, **data):
        """P_grad_bp: the gradient of the batch-mean loss, name -> array
        for every trainable parameter; the loss is in last_loss."""
        return self._grad("grad_bp", (), data)

    def grad_zil(self, **data):
        """P_grad_zil (bit-identical to grad_bp)."""
        return self._grad("grad_zil", (), data)

    def grad_zil_dynamics(self, **data):
        """P_grad_zil_dynamics: Z-IL as PC network dynamics."""
        return self._grad("grad_zil_dynamics", (), data)

    def grad_pc(self, *args, **data):
        """grad_pc(steps, gamma, **data): P_grad_pc."""
        return self._grad("grad_pc", args, data,
                          (("steps", REQUIRED), ("gamma", REQUIRED)))

    def grad_pc_weighted(self, *args, **data):
        """grad_pc_weighted(steps, gamma, beta, **data)."""
        return self._grad("grad_pc_weighted", args, data,
                          (("steps", REQUIRED), ("gamma", REQUIRED),
                           ("beta", REQUIRED)))

    def grad_fazil(self, **data):
        """P_grad_fazil: fully autonomous Z-IL (docs/pc.md)."""
        return self._grad("grad_fazil", (), data)

    def _train(self, name, args, data, spec):
        f = self._fn(name)
        h = self._hyper(name, args, data, spec)
        self._set_data(data, targets=True)
        conv = [self._int(v, s[0]) if s[0] == "steps" else
                self._real(v, s[0]) for v, s in zip(h, spec)]
        return self._done(f(self._pp, self._sp, *conv))

    def train_bp(self, *args, **data):
        """train_bp(lr, **data): one SGD step by BP; the loss before it."""
        return self._train("train_bp", args, data, (("lr", REQUIRED),))

    def train_zil(self, *args, **data):
        """train_zil(lr, **data): one SGD step by Z-IL."""
        return self._train("train_zil", args, data, (("lr", REQUIRED),))

    def train_pc(self, *args, **data):
        """train_pc(lr, steps, gamma, **data): one SGD step by PC."""
        return self._train("train_pc", args, data,
                           (("lr", REQUIRED), ("steps", REQUIRED),
                            ("gamma", REQUIRED)))

    def train_fazil(self, *args, **data):
        """train_fazil(lr, **data): one SGD step by Fa-Z-IL."""
        return self._train("train_fazil", args, data, (("lr", REQUIRED),))

    def train_ipc(self, *args, **data):
        """train_ipc(lr, steps, gamma, **data): incremental PC, the
        parameters updated at every inference step."""
        return self._train("train_ipc", args, data,
                           (("lr", REQUIRED), ("steps", REQUIRED),
                            ("gamma", REQUIRED)))

    def _step(self, name, args, data, spec):
        f = self._fn(name)
        h = self._hyper(name, args, data, (("opt", REQUIRED),) + spec)
        opt = h[0]
        if getattr(opt, "model", None) is not self:
            raise ValueError("opt: an optimizer made for this model "
                             "expected (pcg.Adam(m, ...))")
        c = opt._struct()
        self._set_data(data, targets=True)
        conv = [self._int(v, s[0]) if s[0] == "steps" else
                self._real(v, s[0]) for v, s in zip(h[1:], spec)]
        return self._done(f(self._pp, opt._op, self._sp, C.byref(c),
                            *conv))

    def step_bp(self, *args, **data):
        """step_bp(opt, **data): one step of optimizer opt by BP."""
        return self._step("step_bp", args, data, ())

    def step_zil(self, *args, **data):
        """step_zil(opt, **data): the same step by Z-IL."""
        return self._step("step_zil", args, data, ())

    def step_pc(self, *args, **data):
        """step_pc(opt, steps, gamma, **data): a step from PC's gradient."""
        return self._step("step_pc", args, data,
                          (("steps", REQUIRED), ("gamma", REQUIRED)))

    def step_fazil(self, *args, **data):
        """step_fazil(opt, **data): a step from Fa-Z-IL's gradient."""
        return self._step("step_fazil", args, data, ())

    def step_ipc(self, *args, **data):
        """step_ipc(opt, steps, gamma, **data): incremental PC with the
        optimizer."""
        return self._step("step_ipc", args, data,
                          (("steps", REQUIRED), ("gamma", REQUIRED)))

    def pc_energies(self):
        """P_pc_energies of the state as it is: an array of depth
        energies, level by level; their sum, the energy, is in
        last_loss."""
        e = np.zeros(max(self.depth, 1), self.dtype)
        f = self._fn("pc_energies")
        self._done(f(self._pp, self._sp,
                     e.ctypes.data_as(C.POINTER(self._R))))
        return e

    def pc_grad(self):
        """P_pc_grad: the gradient standard PC takes from the errors where
        inference stands (after pc_init and pc_step), name -> array; the
        energy is in last_loss.  ValueError before any PC inference."""
        f = self._fn("pc_grad")
        if np.isnan(self._done(f(self._pp, self._sp, self._gp))):
            raise ValueError("pc_grad: no PC inference has run on this "
                             "state (call pc_init first)")
        return self._gradient()

    def energy(self):
        """P_energy of the state as it is."""
        return float(self._fn("energy")(self._pp, self._sp))

    def pc_init(self, **data):
        """P_pc_init: the PC network at its forward pass; the loss."""
        f = self._fn("pc_init")
        self._set_data(data, targets=True)
        return self._done(f(self._pp, self._sp))

    def pc_step(self, *args, **data):
        """pc_step(gamma): one inference step; the energy it reports."""
        f = self._fn("pc_step")
        (gamma,) = self._hyper("pc_step", args, data,
                               (("gamma", REQUIRED),))
        self._set_data(data, targets=True)
        return self._done(f(self._pp, self._sp,
                            self._real(gamma, "gamma")))

    def targets_near(self, c):
        """P_targets_near(s, c)."""
        self._fn("targets_near")(self._sp, self._real(c, "c"))

    def sgd(self, grad, lr):
        """P_sgd: p -= lr * grad, grad a dict name -> array holding every
        trainable parameter (as grad_bp returns)."""
        f = self._fn("sgd")
        g = _aligned(self._d.grad_size or self._d.params_size, self.align)
        names = {m.name: m for m in self.param_info if m.trainable}
        for k in grad:
            if k not in names:
                raise ValueError("%s: not a trainable parameter of %r"
                                 % (k, self.name))
        for k, m in names.items():
            if k not in grad:
                raise ValueError("%s: missing from the gradient" % k)
            a = _as_array(grad[k], k)
            if a.shape != m.shape:
                raise ValueError("%s: shape %s, expected %s"
                                 % (k, a.shape, m.shape))
            if not np.can_cast(a.dtype, m.dtype, "safe"):
                raise ValueError("%s: dtype %s does not convert safely to "
                                 "%s" % (k, a.dtype, m.dtype))
            self._view(g, m)[...] = a
        f(self._pp, C.c_void_p(g.ctypes.data), self._real(lr, "lr"))

    def check_data(self):
        """P_check_data: -1, or the flat index of the first id out of
        range in the state."""
        return int(self._fn("check_data")(self._sp))

    # ------------------------------------------------------- checkpoints

    def to_bytes(self):
        """The checkpoint of the parameters in memory (P_save_mem): the
        bytes save() writes."""
        f = self._fn("save_mem")
        buf = _aligned(self._d.ckpt_bytes, 8)
        got = f(self._pp, C.c_void_p(buf.ctypes.data), buf.size)
        if got != self._d.ckpt_bytes:
            raise CheckpointError(7, "<memory>", "cannot write")
        return buf.tobytes()

    def from_bytes(self, data):
        """Load a checkpoint held in memory (P_load_mem); the parameters
        are untouched on any error (CheckpointError)."""
        b = bytes(data)
        rc = self._fn("load_mem")(self._pp, C.c_char_p(b), len(b))
        if rc:
            raise CheckpointError(rc, "<memory>", "cannot load")

    def save(self, path):
        """P_save: the parameters to a checkpoint file, atomically.  A
        library built without file functions (-DPCG_NO_FILES) writes
        P_save_mem's bytes the same way, from Python."""
        path = os.fspath(path)
        if not self.has("save"):
            _write_atomic(path, self.to_bytes())
            return
        rc = self._fn("save")(self._pp, os.fsencode(path))
        if rc:
            raise CheckpointError(rc, path, "cannot save")

    def load(self, path):
        """P_load: the parameters from a checkpoint file, checked before
        anything is written (CheckpointError, parameters untouched); through
        P_load_mem in a library without file functions."""
        path = os.fspath(path)
        if not self.has("load"):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                raise CheckpointError(1, path, "cannot load") from None
            rc = self._fn("load_mem")(self._pp, C.c_char_p(data), len(data))
        else:
            rc = self._fn("load")(self._pp, os.fsencode(path))
        if rc:
            raise CheckpointError(rc, path, "cannot load")

    def state_dict(self):
        """Copies of every parameter and buffer: name -> array."""
        return {m.name: self._view(self._p, m).copy()
                for m in self.param_info}

    def load_state_dict(self, state_dict, strict=True, names=None):
        """Copy a state dict (numpy arrays or torch tensors; pcc's names
        or PyTorch's) into the parameters.  The mapping rules are in
        docs/python.md ("PyTorch state dicts").  Returns (missing,
        unexpected) key lists, as torch does; with strict=True either
        being non-empty is a ValueError naming the keys, and nothing is
        written."""
        return _mapping.load_state_dict(self, state_dict, strict, names)

    def __repr__(self):
        return ("<pcg.Model %r batch=%d real=%s methods=%s params=%s>"
                % (self.name, self.batch, self.real,
                   ",".join(self.methods) or "none",
                   ",".join(m.name for m in self.param_info)))
