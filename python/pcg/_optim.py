"""Optimizers: pcg_optim (pcg_runtime.h) with their own P_opt memory.
Each computes what torch.optim (PyTorch 1.13, single-tensor) computes;
see docs/api.md §4 "Optimizers"."""
import ctypes as C
import math
import os

import numpy as np

from . import _ctypes as T
from ._model import CheckpointError, _aligned

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """The state of one optimizer of one model (its P_opt: moments m.NAME
    and v.NAME, and the step count), zeroed when made: a fresh optimizer.
    The hyper-parameters are attributes, read at every step, so they can
    be changed between steps (a schedule)."""

    kind = None

    def __init__(self, model):
        if not model.has_loss:
            raise ValueError("model %r has no loss, so no optimizer"
                             % model.name)
        self.model = model
        d = model._d
        self._o = _aligned(d.opt_size, d.align)
        self._op = C.c_void_p(self._o.ctypes.data)
        self.state = {m.name: model._view(self._o, m) for m in
                      model.opt_info}

    @property
    def step_count(self):
        """The steps taken (P_opt's step)."""
        return int(np.frombuffer(self._o, np.int64, 1,
                                 self.model._d.opt_step)[0])

    def reset(self):
        """Zero the moments and the step count."""
        self._o[:] = 0

    def state_bytes(self):
        """A copy of the whole P_opt."""
        return self._o.tobytes()

    def save(self, path):
        """P_save_opt: moments and step count to a checkpoint file."""
        path = os.fspath(path)
        rc = self.model._fn("save_opt")(self._op, os.fsencode(path))
        if rc:
            raise CheckpointError(rc, path, "cannot save")

    def load(self, path):
        """P_load_opt; untouched on any error (CheckpointError)."""
        path = os.fspath(path)
        rc = self.model._fn("load_opt")(self._op, os.fsencode(path))
        if rc:
            raise CheckpointError(rc, path, "cannot load")

    def _fields(self):
        raise NotImplementedError

    def _struct(self):
        kind, f = self._fields()
        c = T.Optim(kind, f.get("lr", 0.0), f.get("momentum", 0.0),
                    f.get("beta1", 0.0), f.get("beta2", 0.0),
                    f.get("eps", 0.0), f.get("weight_decay", 0.0))
        _check(kind, c)
        return c


def _check(kind, c):
    """pcg_optim_check's rules, as ValueErrors naming the field."""
    used = ["lr", "weight_decay"]
    if kind in (T.MOMENTUM, T.NESTEROV, T.SGD):
        used.append("momentum")
    else:
        used += ["beta1", "beta2", "eps"]
    for k in used:
        v = getattr(c, k)
        if not math.isfinite(v):
            raise ValueError("%s: %r is not a finite number" % (k, v))
    if c.lr < 0:
        raise ValueError("lr: %r < 0" % c.lr)
    if kind in (T.SGD, T.MOMENTUM, T.NESTEROV):
        if c.momentum < 0 or (kind == T.NESTEROV and not c.momentum > 0):
            raise ValueError("momentum: %r (>= 0, and > 0 for nesterov)"
                             % c.momentum)
    else:
        for k in ("beta1", "beta2"):
            if not 0 <= getattr(c, k) < 1:
                raise ValueError("%s: %r is outside [0, 1)"
                                 % (k, getattr(c, k)))
        if c.eps < 0:
            raise ValueError("eps: %r < 0" % c.eps)
    if c.weight_decay < 0:
        raise ValueError("weight_decay: %r < 0" % c.weight_decay)


class SGD(Optimizer):
    """torch.optim.SGD(lr, momentum, weight_decay, nesterov) with
    dampening 0: PCG_SGD, PCG_MOMENTUM (momentum != 0) or PCG_NESTEROV."""

    def __init__(self, model, lr, momentum=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(model)
        self.lr, self.momentum = lr, momentum
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self._struct()

    def _fields(self):
        kind = (T.NESTEROV if self.nesterov else
                T.MOMENTUM if self.momentum != 0 else T.SGD)
        return kind, {"lr": float(self.lr),
                      "momentum": float(self.momentum),
                      "weight_decay": float(self.weight_decay)}


class Adam(Optimizer):
    """torch.optim.Adam(lr, betas, eps, weight_decay): PCG_ADAM (L2
    decay added to the gradient)."""

    kind_code = T.ADAM

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0):
        super().__init__(model)
        self.lr, self.betas, self.eps = lr, tuple(betas), eps
        self.weight_decay = weight_decay
        self._struct()

    def _fields(self):
        return self.kind_code, {"lr": float(self.lr),
                                "beta1": float(self.betas[0]),
                                "beta2": float(self.betas[1]),
                                "eps": float(self.eps),
                                "weight_decay": float(self.weight_decay)}


class AdamW(Adam):
    """torch.optim.AdamW(lr, betas, eps, weight_decay): PCG_ADAMW
    (decoupled decay; torch's default weight_decay 0.01)."""

    kind_code = T.ADAMW

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=1e-2):
        super().__init__(model, lr, betas, eps, weight_decay)
