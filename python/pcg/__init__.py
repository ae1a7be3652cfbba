"""pcg: models written in pcc's language, compiled and driven from Python.

    import numpy as np, pcg
    m = pcg.compile("examples/digits.pcg", batch=32, real="float")
    m.init(seed=1)
    loss = m.train_zil(x=xb, y=yb, lr=0.1)

pcg.compile runs pcc and the C compiler and caches the shared library;
the Model drives it through the descriptor P_model() alone.  ctypes and
numpy only: nothing is compiled when the package is installed.  See
docs/python.md."""
from ._build import CompileError, Diagnostic, cache_dir, stats
from ._build import compile_library as _compile_library
from ._build import warnings_of as _warnings_of
from ._ckpt import (Checkpoint, CheckpointFormatError, read_checkpoint,
                    write_checkpoint)
from ._model import CheckpointError, Member, MissingFunctionError, Model
from ._optim import SGD, Adam, AdamW, Optimizer

__version__ = "0.2"

__all__ = ["compile", "load_library", "Model", "Member", "CompileError",
           "Diagnostic", "MissingFunctionError", "CheckpointError",
           "CheckpointFormatError", "Checkpoint", "read_checkpoint",
           "write_checkpoint",
           "SGD", "Adam", "AdamW", "Optimizer", "cache_dir", "stats"]


def compile(path_or_source, batch=1, real="float", methods=None,
            defines=None, granularity=None, *, prefix="pcgm",
            filename="model.pcg", cflags=None, cache=True):
    """Compile a model (a .pcg path, or its source text) to a Model.

    batch        PU_BATCH: the most samples one call takes
    real         "float" or "double"
    methods      None (all), or a list or comma string of "bp", "zil", "pc"
    defines      {NAME: value}: pcc's -D NAME=value
    granularity  None (pcc's default, "stmt"), "stmt" or "op"
    prefix       the C prefix of the generated names (the descriptor is
                 PREFIX_model)
    filename     the name diagnostics give a model passed as text
    cflags       extra C compiler flags (["-DPCG_REPRODUCIBLE"], say)
    cache        False builds anew even when the cache has the library

    Raises CompileError (pcc's diagnostics, file:line:col) when the model
    does not compile; pcc's warnings for a model that does are in the
    Model's `warnings` (a list of Diagnostic)."""
    lib, prefix, hit = _compile_library(
        path_or_source, batch=batch, real=real, methods=methods,
        defines=defines, granularity=granularity, prefix=prefix,
        filename=filename, cflags=cflags, cache=cache)
    m = Model(lib, prefix, from_cache=hit)
    m.warnings = _warnings_of(lib)
    return m


def load_library(path, prefix="pcgm"):
    """A Model from a shared library built elsewhere (docs/api.md §10),
    whose descriptor is PREFIX_model."""
    return Model(path, prefix)
