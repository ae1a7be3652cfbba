"""load_state_dict: a PyTorch (or numpy) state dict into a model's
parameters.  Rules (docs/python.md, "PyTorch state dicts"):

names   a key K goes to the parameter named by names[K] when given, else
        to the parameter named K, else to the one named K with every '.'
        replaced by '_' (torch's "fc1.weight" is pcc's fc1_weight); keys
        ending in "num_batches_tracked" are skipped (pcc keeps no count).
shapes  equal shapes copy; shapes equal once trailing 1s are dropped
        reshape (a conv bias [O] into [O, 1, 1], a batch-norm [C] into
        [C, 1, 1]); nothing is ever transposed (pcc's weights have
        torch's layouts, docs/conventions.md §4); anything else is a
        ValueError naming the key and both shapes.
values  converted to the model's scalar type (a float32 tensor into a
        double model is exact; a float64 into a float model rounds);
        only real or integer values.
Nothing is written unless every entry is valid."""
import numpy as np

SKIPPED_SUFFIX = "num_batches_tracked"


def _strip(shape):
    s = list(shape)
    while s and s[-1] == 1:
        s.pop()
    return tuple(s)


def _numpy(v, key):
    if isinstance(v, np.ndarray):
        return v
    mod = type(v).__module__ or ""
    if mod.startswith("torch") and hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    if isinstance(v, (int, float, np.generic)):
        return np.asarray(v)
    raise ValueError("%s: a numpy array or torch tensor expected, got %s"
                     % (key, type(v).__name__))


def load_state_dict(model, state_dict, strict=True, names=None):
    names = dict(names or {})
    params = {m.name: m for m in model.param_info}
    for k, target in names.items():
        if target not in params:
            raise ValueError("names[%r]: the model %r has no parameter %r"
                             % (k, model.name, target))
    planned = {}
    source = {}
    unexpected = []
    for key, value in state_dict.items():
        if key in names:
            target = names[key]
        elif key in params:
            target = key
        elif key.replace(".", "_") in params:
            target = key.replace(".", "_")
        elif key.endswith(SKIPPED_SUFFIX):
            continue
        else:
            unexpected.append(key)
            continue
        if target in planned:
            raise ValueError("%s: maps to parameter %s, as %s does"
                             % (key, target, source[target]))
        m = params[target]
        a = _numpy(value, key)
        if a.dtype.kind not in "fiub":
            raise ValueError("%s: dtype %s is not a number type"
                             % (key, a.dtype))
        if tuple(a.shape) != m.shape:
            if _strip(a.shape) != _strip(m.shape):
                raise ValueError(
                    "%s: shape %s does not fit parameter %s of shape %s "
                    "(equal shapes, or equal once trailing 1s are dropped, "
                    "are accepted)" % (key, tuple(a.shape), target,
                                       m.shape))
            a = a.reshape(m.shape)
        planned[target] = a
        source[target] = key
    missing = [n for n in params if n not in planned]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append("missing parameters: %s" % ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: %s" % ", ".join(unexpected))
        raise ValueError("load_state_dict(strict=True): %s"
                         % "; ".join(parts))
    for target, a in planned.items():
        model.params[target][...] = a.astype(model.dtype, copy=False)
    return missing, unexpected
