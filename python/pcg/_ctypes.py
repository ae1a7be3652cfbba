"""The C types of pcg_runtime.h that a binding needs: pcg_param_info,
pcg_optim, pcg_model and its function tables (PCG_MODEL_FNS), spelt for
ctypes in the order and with the types of the header."""
import ctypes as C

PCG_MAX_RANK = 8
PCG_MODEL_VERSION = 3

METHOD_BP, METHOD_ZIL, METHOD_PC = 1, 2, 4
MODE_TRAIN, MODE_EVAL, MODE_PREDICT = 0, 1, 2

# pcg_optim_kind
SGD, MOMENTUM, NESTEROV, ADAM, ADAMW = range(5)


class ParamInfo(C.Structure):
    _fields_ = [
        ("name", C.c_char_p),
        ("rank", C.c_int),
        ("dims", C.c_int * PCG_MAX_RANK),
        ("offset", C.c_size_t),
        ("count", C.c_size_t),
        ("init", C.c_int),
        ("init_a", C.c_double),
        ("init_b", C.c_double),
        ("bound", C.c_int32),
        ("byte_offset", C.c_size_t),
        ("trainable", C.c_int32),
    ]


class Optim(C.Structure):
    _fields_ = [
        ("kind", C.c_int),
        ("lr", C.c_double),
        ("momentum", C.c_double),
        ("beta1", C.c_double),
        ("beta2", C.c_double),
        ("eps", C.c_double),
        ("weight_decay", C.c_double),
    ]


def _fns(R):
    """The members of PCG_MODEL_FNS(R), in the header's order."""
    vp, i, s, cp = C.c_void_p, C.c_int, C.c_size_t, C.c_char_p
    op = C.POINTER(Optim)
    F = C.CFUNCTYPE
    return [
        ("init", F(None, vp, C.c_uint64)),
        ("forward", F(R, vp, vp)),
        ("predict", F(R, vp, vp)),
        ("grad_bp", F(R, vp, vp, vp)),
        ("grad_zil", F(R, vp, vp, vp)),
        ("grad_zil_dynamics", F(R, vp, vp, vp)),
        ("grad_pc", F(R, vp, vp, vp, i, R)),
        ("grad_pc_weighted", F(R, vp, vp, vp, i, R, R)),
        ("train_bp", F(R, vp, vp, R)),
        ("train_zil", F(R, vp, vp, R)),
        ("train_pc", F(R, vp, vp, R, i, R)),
        ("step_bp", F(R, vp, vp, vp, op)),
        ("step_zil", F(R, vp, vp, vp, op)),
        ("step_pc", F(R, vp, vp, vp, op, i, R)),
        ("energy", F(R, vp, vp)),
        ("pc_init", F(R, vp, vp)),
        ("pc_step", F(R, vp, vp, R)),
        ("targets_near", F(None, vp, R)),
        ("sgd", F(None, vp, vp, R)),
        ("save", F(i, vp, cp)),
        ("load", F(i, vp, cp)),
        ("save_mem", F(s, vp, vp, s)),
        ("load_mem", F(i, vp, vp, s)),
        ("save_opt", F(i, vp, cp)),
        ("load_opt", F(i, vp, cp)),
        ("check_data", F(C.c_long, vp)),
        # version 2
        ("grad_fazil", F(R, vp, vp, vp)),
        ("train_fazil", F(R, vp, vp, R)),
        ("step_fazil", F(R, vp, vp, vp, op)),
        ("train_ipc", F(R, vp, vp, R, i, R)),
        ("step_ipc", F(R, vp, vp, vp, op, i, R)),
        ("pc_energies", F(R, vp, vp, C.POINTER(R))),
        # version 3
        ("pc_grad", F(R, vp, vp, vp)),
    ]


class FnsF(C.Structure):
    _fields_ = _fns(C.c_float)


class FnsD(C.Structure):
    _fields_ = _fns(C.c_double)


FN_NAMES = [f[0] for f in FnsF._fields_]


class ModelDesc(C.Structure):
    _fields_ = [
        ("version", C.c_uint32),
        ("size", C.c_uint32),
        ("name", C.c_char_p),
        ("prefix", C.c_char_p),
    ] + [(n, C.c_int32) for n in (
        "batch", "real_size", "methods", "has_loss", "depth", "identities",
        "predict_reads_targets", "num_params", "num_inputs", "num_targets",
        "num_outputs", "num_opt")] + [(n, C.c_size_t) for n in (
            "num_reals", "ckpt_bytes", "align", "params_size", "state_size",
            "grad_size", "opt_size")] + [(n, C.POINTER(ParamInfo)) for n in (
                "param_info", "input_info", "target_info", "output_info",
                "opt_info")] + [(n, C.c_size_t) for n in (
                    "state_in", "state_in_size", "state_target",
                    "state_target_size", "state_out", "state_out_size",
                    "state_n", "state_rng", "state_mode", "opt_step")] + [
        ("f", C.POINTER(FnsF)),
        ("d", C.POINTER(FnsD)),
        ("state_pool", C.c_size_t),     # version 2
    ]


CKPT_ERRORS = {
    0: "success",
    1: "cannot open, read, write or rename the checkpoint file",
    2: "not a checkpoint, or truncated",
    3: "checksum mismatch",
    4: "written by another model",
    5: "a parameter's name, rank or shape differs, or whether it is "
       "trainable",
    6: "written with the other scalar type",
    7: "the arguments describe no valid checkpoint",
    8: "holds another number of counters",
}
