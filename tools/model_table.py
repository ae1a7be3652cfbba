#!/usr/bin/env python3
"""Write docs/models.md: the example models, described and measured.

  tools/model_table.py BUILD_DIR [OUT.md]

For every example: vertices, identity vertices and DEPTH at both
granularities, parameters, bytes of params and state (float, batch 1), lines
of generated C (pcc --info and a run of pcc), and the largest error of
P_grad_zil_dynamics against BP, relative to the largest gradient, in double
and float (from the numeric test programs the build made:
tests/check_NAME_stmt and tests/check_NAME_op); then what each example
computes and shows (DESCRIPTIONS below, with its numbers filled in), how the
examples are tested, and the compile times of the RNN unrolled 1000 steps
(bench/compile_scale.sh).
"""
import os
import re
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["digits", "mlp", "rnn", "multitask", "cnn", "resnet", "seq2seq",
            "lstm", "transformer", "gru", "textcls", "gpt", "mobilenet",
            "autoencoder", "resnet20", "mlp_dropout"]

# What each example computes and what it shows, one paragraph each.
DESCRIPTIONS = {
    "digits": """A two-layer perceptron for the 8x8 handwritten digits of
`examples/data/`: 64 pixels, 32 tanh units, 10 classes, cross-entropy on
one-hot targets. The model of the README's demo.""",
    "mlp": """A 784-256-256-10 ReLU perceptron for 28x28 images (MNIST,
Fashion-MNIST), the default model of `examples/trainer`: a wide, shallow
graph.""",
    "rnn": """A many-to-one recurrent network over `T` = 12 steps of 8
features with one 4-dimensional regression output. Shows a `for` loop and a
vertex family `h[t]`, with `Wx`, `Wh` and `b` tied across the steps;
`pcc -D T=1000` unrolls it 1000 steps (below).""",
    "multitask": """Two heads on one trunk written with `def` (block and
expression forms): a classifier and a regressor trained together, their
losses adding up. Shows defs, broadcasting, slicing and `concat`.""",
    "cnn": """An AlexNet-style convolutional network for 1x28x28 images:
conv-relu-maxpool twice, then two dense layers. Shows `conv2d`,
`maxpool2d` and `flatten`.""",
    "resnet": """A small residual network for 3x16x16 images: a convolutional
stem, three residual blocks (the second halves the resolution with a strided
1x1 projection on its shortcut), global average pooling and a dense head.
Shows skip connections, which the levelling bridges with identity
vertices.""",
    "seq2seq": """A many-to-many recurrent network: a prediction and an `mse`
loss at every step, each against one row `ys[t]` of the target. Shows losses
inside a loop, at many depths of the graph.""",
    "lstm": """An LSTM over 16 steps written with defs, with a regression head
on the last hidden state. Shows gates that are products of activations.""",
    "transformer": """One transformer layer over 8 tokens of width 16:
single-head self-attention and a two-layer MLP, each with a residual path and
layernorm, then mean pooling and a 4-way classifier. Shows products of two
activations (`q @ transpose(k)`) and `softmax` inside the graph.""",
    "gru": """A GRU over 12 steps of 6 features with 16 hidden units, with
PyTorch's gate equations (the reset gate scales `Un @ h + bhn`, as in
`torch.nn.GRU`), and a classifier on the last hidden state. The update gate
`z[t]`, reset gate `r[t]` and candidate `n[t]` are vertex families of their
own, and the two gates' pre-activations an expression-form `def`. Shows a gated
recurrence in which the previous state `h[t]` feeds three gates and the
update `z[t] * h[t]`: edges that skip levels at every step, which the
levelling bridges with identity vertices.""",
    "textcls": """A text classifier: 16 token ids (`input int tok[16] < 50`),
an embedding table, `transpose` to channels first, a width-3 `conv1d` with
`pad=1`, ReLU, the maximum over time (`max(h, axis=1)`) and a linear layer,
trained with a class index (`target int label < 3`) and index-form
`cross_entropy`. Shows integer data end to end, and the run-time check of
ids: `tests/ids/check_ids.c` builds it (double, batch 4) and verifies that
every function returns NaN and changes nothing on an id out of range, and
that `P_check_data` finds it.""",
    "gpt": """A small decoder block over 8 positions: token embeddings plus
learned positions, 4-head causal self-attention, layer norms, a GELU MLP,
residual paths, and the next token predicted at every position
(`target int next[8] < 32`, one class index per row of the `[8, 32]`
logits). The heads are a batch axis: `reshape` and `transpose(...,
perm=[1, 0, 2])` give `[4, 8, 4]` queries, keys and values, `q @
transpose(k)` is a batched product, and `tril(..., fill=-inf)` is the causal
mask.""",
    "mobilenet": """A small MobileNet for 3x16x16 images: a stem convolution
with `stride=2, pad=1`, two depthwise-separable blocks (a 3x3 depthwise
`conv2d` with `groups` equal to the channels, then a 1x1 pointwise one),
global average pooling as `mean(b2, axis=[1, 2])`, and a classifier. Shows
grouped and strided convolution.""",
    "autoencoder": """A 64-16-64 autoencoder: a tanh code and a linear
reconstruction, with the data given twice, as the input `x` and as the
target `xt`. Its one loss statement is an expression,
`mse(r, xt) + 1e-3 * (sum(square(We)) + sum(square(Wd)))`: the penalty reads
no data, so it counts once in the batch mean, and it reads `We` and `Wd`
directly, so in PC and Z-IL they also learn from it at step 0.""",
    "resnet20": """ResNet-20 for 32x32 images (the CIFAR network of He et al.
for one input channel; `-D C=3` for colour): a 3x3 stem and three stages of
three basic blocks of 16, 32 and 64 channels, strided 1x1 projections on the
two shortcuts that change the shape, global average pooling and a dense
head. Every convolution is followed by `batchnorm` with its own scale and
shift, so its 42 running statistics are buffers at the end of
`resnet20_params`. The deepest example: Z-IL needs 21 steps at the
statement granularity, with 9 identity vertices on the shortcuts; the
trainer runs it on Fashion-MNIST padded to 32x32 (docs/training.md). The
numeric checks build it at 8x8 with stages of 4, 6 and 8 channels (`-D H=8
-D A=4 -D B=6 -D D=8`), so its Z-IL errors in the table are that
build's.""",
    "mlp_dropout": """The 784-256-256-10 perceptron with `dropout(h, 0.2)`
after each hidden layer: every training call draws its masks from the
state's stream `s->rng`, BP and Z-IL from equal states draw equal masks,
and `P_forward` / `P_predict` (evaluation mode) keep every unit.""",
}

TESTING = """Every example is compiled by pcc at build time, as a user's project
would (`tests/meson.build`): float and double, batch 1 and 4, at both
granularities, plus three deliberately broken Z-IL variants and a batch-3
build, all linked with
`tests/numeric/check_model.c` into `check_NAME_stmt` and `check_NAME_op`
(`meson test "numeric NAME stmt"`). Their oracles come from what the code is
meant to compute:

- BP's gradient against central finite differences (double, batch 1 and 4),
  with a negative control (a gradient off by 1e-5 must fail); the batch-4
  gradient against the mean of four single-sample gradients; `P_train_bp`
  against `P_grad_bp` then `P_sgd`, bit for bit; float close to double; the
  loss falling over 100 SGD steps.
- Z-IL: `P_grad_zil` equal to `P_grad_bp` bit for bit in float and double;
  `P_grad_zil_dynamics` within 1e-10 of the largest gradient in double
  (1e-4 in float; the table's last columns); 50 `P_train_zil` steps giving
  `P_train_bp`'s parameters bit for bit, and 200 steps (double) lowering the
  loss and still bit for bit.
- Standard PC: the energy at `x = mu` equal to the loss and never rising
  over 100 inference steps (at γ = 0.1, or the halved rate a network
  needs); with the output errors scaled by 1e-4, a PC gradient pointing
  along BP's (cosine ≥ 0.99).
- Negative controls on graphs with identity vertices: γ = 0.9, every
  level learning one step late, and no levelling must each break Z-IL,
  and `P_step_zil` learning one step late must differ from `P_step_bp`.
- Optimizers: three steps of `P_step_zil` give `P_step_bp`'s parameters
  and moments bit for bit for SGD, momentum, Nesterov, Adam and AdamW,
  weight decay on and off, float and double, batch 1 and 4; an invalid
  optimizer changes nothing.
- Samples in use: `s->n = 3` on the batch-4 build equals the batch-3
  build (gradient, loss, three training steps with their running
  statistics); `n = 0` is `PU_BATCH` bit for bit; `n` out of range
  returns NaN and changes nothing; `P_predict` gives `P_forward`'s
  outputs without reading the targets.
- Models with `dropout` start every compared call from the same stream
  (`s->rng = 0`); with batch statistics or dropout, finite differences
  use the training-mode loss and the single-sample comparison is left
  out (a sample's value depends on the batch).
- `P_init`: the same seed gives the same parameters, another seed others.

The independent oracle is PyTorch (`meson test "torch NAME stmt"`;
skipped where `python3-torch` is missing). `check_NAME --dump` writes the
parameters, a batch of data (double, batch 4), the loss and the BP and Z-IL
gradients; `tests/oracle/torch_oracle.py` rebuilds the same model by hand
with PyTorch operations in float64, a twin written from the `.pcg` file's
meaning and not from pcc's code (`F.embedding`, `F.conv1d`, `F.conv2d` with
`groups`, `masked_fill` with `-inf`, `F.gelu`, `F.cross_entropy` with class
indices, the penalty added once to the batch mean), differentiates it with
autograd, and requires the loss to match within 1e-10 (relative) and every
gradient, by BP and by Z-IL, within 1e-10 of the largest gradient. A negative control perturbs one
gradient entry by 1e-8 of the largest and requires the comparison to fail.
The same script then replays three SGD steps (`P_train_bp`, lr 0.05) and
five steps of each optimizer kind (`P_step_bp`) against `torch.optim`:
parameters within 1e-10 of the largest, batch norm's running statistics
as `torch.nn.BatchNorm` modules keep them in `train()`, and the loss in
evaluation mode against the modules in `eval()`; dropout masks are the
ones pcc's runtime draws (`check_NAME --mask`), replayed as `x * mask`.

The generated code of every example is also kept as golden text
(`tests/golden/`), which proves that it stays the same, not that it is
right."""


def info(pcc, model, *args):
    out = subprocess.run([pcc, model, "--info"] + list(args), check=True,
                         capture_output=True, text=True).stdout
    fields = {}
    for line in out.splitlines():
        m = re.match(r"(vertices|identity vertices|depth|params bytes|"
                     r"state bytes) (\d+)", line)
        if m:
            fields[m.group(1)] = int(m.group(2))
        m = re.match(r"parameters (\d+) \((\d+) scalars\)", line)
        if m:
            fields["decls"] = int(m.group(1))
            fields["scalars"] = int(m.group(2))
    return fields


def c_lines(pcc, model):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "m.c")
        subprocess.run([pcc, model, "-o", out], check=True)
        with open(out) as f:
            n = sum(1 for _ in f)
        with open(os.path.join(tmp, "m.h")) as f:
            return n, sum(1 for _ in f)


def dynamics_errors(exe):
    if not os.path.exists(exe):
        return None, None
    out = subprocess.run([exe], capture_output=True, text=True).stdout
    d = re.search(r"double: grad_zil_dynamics equals BP .*?error (\S+) "
                  r"relative", out)
    f = re.search(r"float: grad_zil_dynamics .*?error (\S+) relative", out)
    return (d.group(1) if d else "?"), (f.group(1) if f else "?")


def main():
    build = os.path.abspath(sys.argv[1])
    target = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "docs", "models.md")
    pcc = os.path.join(build, "compiler", "pcc")
    rows = []
    for name in EXAMPLES:
        model = os.path.join(ROOT, "examples", name + ".pcg")
        s = info(pcc, model)
        o = info(pcc, model, "--granularity", "op")
        src, hdr = c_lines(pcc, model)
        ds, fs = dynamics_errors(os.path.join(build, "tests",
                                              "check_%s_stmt" % name))
        do, fo = dynamics_errors(os.path.join(build, "tests",
                                              "check_%s_op" % name))
        rows.append((name, s, o, src, hdr, ds, fs, do, fo))
    lines = [
        "# The example models, measured",
        "",
        "Generated by `tools/model_table.py build` from a build of the",
        "project (do not edit by hand). Counts from `pcc --info` (float,",
        "batch 1); lines of the generated `.c` / `.h`; the largest",
        "difference between `P_grad_zil_dynamics` and `P_grad_bp`, relative",
        "to the largest gradient, measured by the numeric tests at batch 4.",
        "The models are in `examples/`; what each one computes and how they",
        "are tested follow the table.",
        "",
        "| model | vertices stmt / op | identities stmt / op | DEPTH stmt / op "
        "| parameters | params bytes | state bytes | lines .c / .h "
        "| Z-IL dynamics error, double stmt / op | float stmt / op |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s, o, src, hdr, ds, fs, do, fo in rows:
        lines.append(
            "| %s | %d / %d | %d / %d | %d / %d | %d | %d | %d | %d / %d "
            "| %s / %s | %s / %s |"
            % (name, s["vertices"], o["vertices"], s["identity vertices"],
               o["identity vertices"], s["depth"], o["depth"], s["scalars"],
               s["params bytes"], s["state bytes"], src, hdr, ds, do, fs, fo))
    lines += ["", "## What each example computes", ""]
    for name, s, o, src, hdr, ds, fs, do, fo in rows:
        text = "**%s** (`examples/%s.pcg`). %s `pcc --info`: %d vertices, " \
            "%d identity vertices and DEPTH %d by statement; %d, %d and %d " \
            "by operation (`--granularity op`); %d parameter declarations " \
            "holding %d scalars." % (
                name, name, " ".join(DESCRIPTIONS[name].split()),
                s["vertices"], s["identity vertices"], s["depth"],
                o["vertices"], o["identity vertices"], o["depth"],
                s["decls"], s["scalars"])
        lines += [textwrap.fill(text, 75, break_on_hyphens=False,
                                break_long_words=False), ""]
    lines += ["## How the examples are tested", "", TESTING]
    bench = subprocess.run(
        ["sh", os.path.join(ROOT, "bench", "compile_scale.sh"), build, "1000"],
        capture_output=True, text=True, check=True).stdout
    lines += [
        "",
        "## A long model: the RNN unrolled 1000 steps",
        "",
        "`bench/compile_scale.sh build 1000` (pcc, then `gcc -O2 -c` on the",
        "generated source), on the machine that wrote this page:",
        "",
        "```",
        bench.rstrip(),
        "```",
    ]
    with open(target, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
