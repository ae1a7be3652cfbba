"""Where pcc, the C compiler and the runtime are.

meson writes `_paths.py` beside this file: in the build tree it names the
build's pcc and runtime library and the source tree's header; installed,
the installed ones.  Environment variables override each entry:
PCG_PCC, PCG_CC (a command, split on spaces; else CC), PCG_RUNTIME_INCLUDE
(the folder holding pcg_runtime.h) and PCG_RUNTIME_LIB (the static
library libpcg_runtime.a).

An installation staged with `meson install --destdir STAGE` is found
too: when this file is not where the install put it but at
STAGE/<that place>, every installed path is taken under STAGE where it
exists there (the stage's pcc, not one installed at the final place)."""
import os
import shlex

try:
    from . import _paths
    PATHS = dict(_paths.PATHS)
except ImportError:  # the source tree, not configured by meson
    PATHS = {}

_resolved = None


def _restage(paths):
    """Paths for an install staged under a destdir (see above)."""
    where = paths.get("package_dir")
    if not where:
        return paths
    here = os.path.dirname(os.path.abspath(__file__))
    where = os.path.normpath(where)
    if here == where or not here.endswith(where):
        return paths
    stage = here[:len(here) - len(where)]
    out = dict(paths)
    for k in ("pcc", "runtime_include", "runtime_lib", "runtime_header"):
        p = out.get(k)
        if p and os.path.isabs(p):
            staged = os.path.join(stage, p.lstrip(os.sep))
            if os.path.exists(staged):
                out[k] = staged
    return out


def get():
    """The paths, resolved: pcc, cc (a list), runtime_include,
    runtime_header, runtime_lib, runtime_libs (a list of link flags),
    cflags (the flags the runtime's build wants on generated code:
    -DPCG_REPRODUCIBLE in a reproducible build)."""
    global _resolved
    if _resolved is not None:
        return _resolved
    p = _restage(PATHS)
    env = os.environ
    cfg = {
        "pcc": env.get("PCG_PCC") or p.get("pcc"),
        "cc": shlex.split(env.get("PCG_CC") or env.get("CC")
                          or p.get("cc") or "cc"),
        "runtime_include": env.get("PCG_RUNTIME_INCLUDE")
        or p.get("runtime_include"),
        "runtime_lib": env.get("PCG_RUNTIME_LIB") or p.get("runtime_lib"),
        "runtime_libs": list(p.get("runtime_libs", ["-lm"])),
        "cflags": list(p.get("cflags", [])),
    }
    missing = [k for k in ("pcc", "runtime_include", "runtime_lib")
               if not cfg[k] or not os.path.exists(cfg[k])]
    if missing:
        from ._build import CompileError
        raise CompileError(
            "pcg: cannot find %s (looked at %s); set %s"
            % (", ".join(missing),
               ", ".join(repr(cfg[k]) for k in missing),
               ", ".join({"pcc": "PCG_PCC",
                          "runtime_include": "PCG_RUNTIME_INCLUDE",
                          "runtime_lib": "PCG_RUNTIME_LIB"}[k]
                         for k in missing)))
    cfg["runtime_header"] = os.path.join(cfg["runtime_include"],
                                         "pcg_runtime.h")
    _resolved = cfg
    return cfg
