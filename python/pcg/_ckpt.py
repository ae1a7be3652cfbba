"""read_checkpoint and write_checkpoint: checkpoint files (docs/api.md
§8; the format is spelt out at the top of runtime/pcg_ckpt.c) read and
written in Python, with no model and no compiled code."""
import os
import struct

import numpy as np

__all__ = ["read_checkpoint", "write_checkpoint", "Checkpoint",
           "CheckpointFormatError"]

MAGIC = b"PCGCKPT\0"
MAX_RANK = 8
FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK = (1 << 64) - 1


class CheckpointFormatError(ValueError):
    """The file is not a well-formed checkpoint: `reason` says what is
    wrong and `offset` at which byte."""

    def __init__(self, path, offset, reason):
        self.path, self.offset, self.reason = path, offset, reason
        super().__init__("%s: byte %d: %s" % (path, offset, reason))


def _fnv1a(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


class Checkpoint(dict):
    """name -> array (a dict, in the file's order), with the file's
    `model` name, `real` ('float' or 'double'), `version`, `counters`
    (list of ints) and `trainable` (name -> bool)."""


def read_checkpoint(path):
    """Read a checkpoint written by P_save, P_save_opt or Model.save:
    a Checkpoint (dict name -> numpy array of the stored shape and
    type).  Every check P_load makes on the structure is made: magic,
    version, lengths, ranks, flags, the end of the file, the checksum
    (CheckpointFormatError)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def need(k, what):
        if pos + k > len(data) - 8:
            raise CheckpointFormatError(path, pos, "truncated in %s" % what)

    def u32(what):
        nonlocal pos
        need(4, what)
        (v,) = struct.unpack_from("<I", data, pos)
        pos += 4
        return v

    if len(data) < 8 or data[:8] != MAGIC:
        raise CheckpointFormatError(path, 0, "not a checkpoint (no "
                                    "PCGCKPT magic)")
    pos = 8
    version = u32("the version")
    if version not in (1, 2):
        raise CheckpointFormatError(path, 8, "format version %d, expected "
                                    "1 or 2" % version)
    real_size = u32("the real size")
    if real_size not in (4, 8):
        raise CheckpointFormatError(path, 12, "real size %d, expected 4 or "
                                    "8" % real_size)
    n = u32("the model name")
    need(n, "the model name")
    model = data[pos:pos + n].decode("utf-8", "replace")
    pos += n
    counters = []
    if version >= 2:
        k = u32("the counters")
        need(8 * k, "the counters")
        counters = list(struct.unpack_from("<%dQ" % k, data, pos))
        pos += 8 * k
    nparams = u32("the parameter count")
    records = []
    for _ in range(nparams):
        ln = u32("a parameter name")
        need(ln, "a parameter name")
        name = data[pos:pos + ln].decode("utf-8", "replace")
        pos += ln
        rank = u32("a rank")
        if rank > MAX_RANK:
            raise CheckpointFormatError(path, pos - 4, "%s: rank %d > %d"
                                        % (name, rank, MAX_RANK))
        need(4 * rank, "dims")
        dims = struct.unpack_from("<%dI" % rank, data, pos)
        pos += 4 * rank
        flags = 1
        if version >= 2:
            flags = u32("flags")
            if flags & ~1:
                raise CheckpointFormatError(path, pos - 4, "%s: unknown "
                                            "flags 0x%x" % (name, flags))
        records.append((name, tuple(dims), bool(flags & 1)))
    dtype = np.dtype("<f4" if real_size == 4 else "<f8")
    out = Checkpoint()
    out.model, out.version, out.counters = model, version, counters
    out.real = "float" if real_size == 4 else "double"
    out.trainable = {}
    for name, dims, trainable in records:
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        need(count * real_size, "the values of %s" % name)
        a = np.frombuffer(data, dtype, count, pos).reshape(dims)
        out[name] = a.astype(dtype.newbyteorder("="))
        out.trainable[name] = trainable
        pos += count * real_size
    if pos + 8 != len(data):
        raise CheckpointFormatError(path, pos, "%d bytes after the values, "
                                    "expected the 8-byte checksum only"
                                    % (len(data) - pos))
    (stored,) = struct.unpack_from("<Q", data, pos)
    if _fnv1a(data[:pos]) != stored:
        raise CheckpointFormatError(path, pos, "checksum mismatch")
    return out


def write_checkpoint(path, model, params, real="float", trainable=None,
                     counters=()):
    """Write a checkpoint (format version 2) of `params`, a dict name ->
    array in the order of the model's param declarations, for the model
    named `model`, with reals of type `real` ("float" or "double"; values
    are converted), `trainable` a dict name -> bool (default: all
    trainable; batch-norm statistics are buffers, False) and `counters`
    (an optimizer's step count).  P_load of that model loads it when the
    names, order, shapes and flags are its own; the bytes are those
    P_save writes for the same values.  Written atomically: a temporary
    file in the same folder, then a rename."""
    if real not in ("float", "double"):
        raise ValueError("real: 'float' or 'double' expected, got %r"
                         % (real,))
    dtype = np.dtype("<f4" if real == "float" else "<f8")
    trainable = dict(trainable or {})
    for k in trainable:
        if k not in params:
            raise ValueError("trainable[%r]: no such parameter" % k)
    name = model.encode()
    head = [MAGIC, struct.pack("<III", 2, dtype.itemsize, len(name)), name,
            struct.pack("<I", len(counters))]
    head += [struct.pack("<Q", int(c)) for c in counters]
    head.append(struct.pack("<I", len(params)))
    payload = []
    for k, v in params.items():
        a = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach")
                       else v)
        if a.dtype.kind not in "fiub":
            raise ValueError("%s: dtype %s is not a number type"
                             % (k, a.dtype))
        if a.ndim > MAX_RANK:
            raise ValueError("%s: rank %d > %d" % (k, a.ndim, MAX_RANK))
        kb = k.encode()
        head.append(struct.pack("<I", len(kb)) + kb
                    + struct.pack("<I", a.ndim)
                    + struct.pack("<%dI" % a.ndim, *a.shape)
                    + struct.pack("<I", 1 if trainable.get(k, True) else 0))
        payload.append(np.ascontiguousarray(a, dtype).tobytes())
    body = b"".join(head + payload)
    data = body + struct.pack("<Q", _fnv1a(body))
    from ._model import _write_atomic
    _write_atomic(os.fspath(path), data)
