"""pcg.compile: a .pcg model to a loaded shared library, through pcc and
the C compiler, cached.

The cache holds one shared library per key, a SHA-256 of everything the
library's bytes depend on: the model's text and the name pcc is given
for it, every option, the pcc binary, the runtime's header and static
library, the compiler's command and its `--version`, and this package's
version.  An entry is written to a temporary folder inside the cache and
renamed into place, so a reader never sees a half-written library."""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

from . import _config

__all__ = ["CompileError", "Diagnostic", "compile_library", "stats",
           "cache_dir", "warnings_of"]

VERSION = "0.2"

# How many times pcc and the C compiler ran, and how many compiles were
# served from the cache, in this process (the tests observe caching
# through these).
stats = {"pcc_runs": 0, "cc_runs": 0, "cache_hits": 0}

_DIAG = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+):(?P<col>\d+): "
                   r"(?P<severity>error|warning|note): (?P<message>.*)$",
                   re.M)


class Diagnostic:
    """One of pcc's diagnostics: file, line, col (1-based), severity
    ('error', 'warning', 'note') and message."""

    def __init__(self, file, line, col, severity, message):
        self.file, self.line, self.col = file, line, col
        self.severity, self.message = severity, message

    def __str__(self):
        return "%s:%d:%d: %s: %s" % (self.file, self.line, self.col,
                                     self.severity, self.message)

    __repr__ = __str__


class CompileError(Exception):
    """A model that does not compile.  str() is pcc's own text (or the C
    compiler's); `diagnostics` the parsed file:line:col diagnostics, and
    `file`, `line`, `col`, `message` those of the first error (None when
    the failure has no location, a bad option say); `stderr` the whole
    text and `returncode` the failing command's exit status."""

    def __init__(self, text, returncode=None, command=None):
        super().__init__(text.rstrip())
        self.stderr = text
        self.returncode = returncode
        self.command = command
        self.diagnostics = [
            Diagnostic(m["file"], int(m["line"]), int(m["col"]),
                       m["severity"], m["message"])
            for m in _DIAG.finditer(text)]
        errors = [d for d in self.diagnostics if d.severity == "error"]
        first = errors[0] if errors else None
        self.file = first.file if first else None
        self.line = first.line if first else None
        self.col = first.col if first else None
        self.message = first.message if first else text.strip()


def cache_dir():
    """$PCG_CACHE_DIR, else $XDG_CACHE_HOME/pcg, else ~/.cache/pcg."""
    d = os.environ.get("PCG_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "pcg")
    return d


_file_hashes = {}
_cc_versions = {}


def _hash_file(path):
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _file_hashes:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _file_hashes[key] = h.hexdigest()
    return _file_hashes[key]


def _cc_version(cc):
    key = tuple(cc)
    if key not in _cc_versions:
        try:
            r = subprocess.run(cc + ["--version"], capture_output=True,
                               text=True, errors="replace")
            _cc_versions[key] = r.stdout
        except OSError as e:
            raise CompileError("pcg: cannot run the C compiler %r: %s"
                               % (" ".join(cc), e)) from None
    return _cc_versions[key]


def _source(path_or_source):
    """(text bytes, the file name pcc sees, the path to give pcc or None
    when the text must be written out)."""
    if isinstance(path_or_source, os.PathLike):
        path_or_source = os.fspath(path_or_source)
    if not isinstance(path_or_source, str):
        raise TypeError("pcg.compile: a path or the model's source text "
                        "expected, got %s" % type(path_or_source).__name__)
    looks_like_path = ("\n" not in path_or_source
                       and "{" not in path_or_source)
    if looks_like_path:
        try:
            with open(path_or_source, "rb") as f:
                return f.read(), path_or_source, path_or_source
        except OSError as e:
            raise CompileError("pcc: error: cannot read '%s': %s"
                               % (path_or_source, e.strerror)) from None
    return path_or_source.encode(), None, None


def warnings_of(lib):
    """pcc's warnings when it compiled the library at lib, as
    Diagnostics (none when the log is missing)."""
    try:
        with open(lib[:-3] + ".log") as f:
            text = f.read()
    except OSError:
        return []
    return [Diagnostic(m["file"], int(m["line"]), int(m["col"]),
                       m["severity"], m["message"])
            for m in _DIAG.finditer(text)]


def compile_library(path_or_source, *, batch=1, real="float", methods=None,
                    defines=None, granularity=None, prefix="pcgm",
                    filename="model.pcg", cflags=None, cache=True):
    """Build (or find in the cache) the shared library of a model.
    Returns (library path, the prefix, whether it came from the cache).
    The cache entry is libPREFIX-KEY.so with .c, .h and .log (pcc's
    warnings) beside it."""
    if real not in ("float", "double"):
        raise ValueError("real: 'float' or 'double' expected, got %r"
                         % (real,))
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError("batch: a positive int expected, got %r" % (batch,))
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix or ""):
        raise ValueError("prefix: a C identifier expected, got %r"
                         % (prefix,))
    if not re.fullmatch(r"[A-Za-z0-9_.-]+\.pcg", filename):
        raise ValueError("filename: a plain file name ending in .pcg "
                         "expected, got %r" % (filename,))
    text, shown, path = _source(path_or_source)
    if shown is None:
        shown = filename
    opts = ["--batch", str(batch), "--real", real, "--prefix", prefix]
    if methods is not None:
        if isinstance(methods, str):
            methods = [m.strip() for m in methods.split(",")]
        opts += ["--methods", ",".join(methods)]
    if granularity is not None:
        opts += ["--granularity", str(granularity)]
    for k in sorted(defines or {}):
        v = defines[k]
        opts += ["-D", "%s=%s" % (k, v)]

    cfg = _config.get()
    cc = cfg["cc"]
    cc_args = (["-std=c11", "-O2", "-shared", "-fPIC"] + cfg["cflags"]
               + list(cflags or []))
    link = [cfg["runtime_lib"]] + cfg["runtime_libs"]

    h = hashlib.sha256()
    for part in ([VERSION, shown, text.decode("utf-8", "replace")] + opts
                 + ["--", _hash_file(cfg["pcc"]),
                    _hash_file(cfg["runtime_header"]),
                    _hash_file(cfg["runtime_lib"])]
                 + cc + cc_args + cfg["runtime_libs"]
                 + [_cc_version(cc)]):
        h.update(part.encode("utf-8", "replace") if isinstance(part, str)
                 else part)
        h.update(b"\0")
    key = h.hexdigest()[:32]

    root = cache_dir()
    lib = os.path.join(root, "lib%s-%s.so" % (prefix, key))
    if cache and os.path.exists(lib):
        stats["cache_hits"] += 1
        return lib, prefix, True

    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="build-", dir=root)
    try:
        if path is None:
            src_arg = os.path.join(tmp, shown)
            with open(src_arg, "wb") as f:
                f.write(text)
            pcc_cwd = tmp
            src_arg = shown
        else:
            src_arg, pcc_cwd = path, None
        out_c = os.path.join(tmp, prefix + ".c")
        cmd = [cfg["pcc"], src_arg, "-o", out_c] + opts
        stats["pcc_runs"] += 1
        r = subprocess.run(cmd, capture_output=True, text=True,
                           errors="replace", cwd=pcc_cwd)
        if r.returncode != 0:
            raise CompileError(r.stderr or r.stdout, r.returncode, cmd)
        warnings = r.stderr
        out_so = os.path.join(tmp, "lib.so")
        cmd = (cc + cc_args + ["-I" + cfg["runtime_include"], out_c, "-o",
                               out_so] + link)
        stats["cc_runs"] += 1
        r = subprocess.run(cmd, capture_output=True, text=True,
                           errors="replace", cwd=tmp)
        if r.returncode != 0:
            raise CompileError("pcg: the C compiler failed on the code pcc "
                               "generated:\n$ %s\n%s"
                               % (" ".join(cmd), r.stderr + r.stdout),
                               r.returncode, cmd)
        # beside the library: the generated C, for reading, and pcc's
        # warnings; the library last, so that its presence means the
        # entry is whole
        with open(os.path.join(tmp, "pcc.log"), "w") as f:
            f.write(warnings)
        os.replace(out_c, lib[:-3] + ".c")
        os.replace(os.path.join(tmp, prefix + ".h"), lib[:-3] + ".h")
        os.replace(os.path.join(tmp, "pcc.log"), lib[:-3] + ".log")
        os.replace(out_so, lib)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return lib, prefix, False
