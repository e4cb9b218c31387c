#!/usr/bin/env python3
"""deeper's memory-bound ResNet-10 layers (bench_nn_layers) against PyTorch/cuDNN on the same GPU.

For every benchmark bench_nn_layers reports, this script times the same operation with PyTorch on
the same shapes, fp32, activations N x C x H x W in channels_last (NHWC in memory, as deeper):
  copy/engine                  dst.copy_(src) (cudaMemcpyAsync device to device): the timers agree?
  bn/forward_train             F.batch_norm(training=True, momentum 0.01, eps 1e-3) + relu_ (cuDNN BN
                               when PyTorch picks it), running statistics updated
  bn/backward                  autograd of the same (ReLU backward + BN backward: dx, dgamma, dbeta)
  bn_add_relu/forward          relu(bn(x) + bn_r(r)), bn_r without running statistics (as the bench)
  bn_add_relu/unfused_forward  the same eager torch tail (torch does not fuse it either)
  bn_add_relu/backward         autograd of the tail: dx, dr and both BNs' dgamma, dbeta
  maxpool/forward              F.max_pool2d(x, 3, 2, 0, return_indices=True) ('valid': 56 -> 27)
  maxpool/backward             aten.max_pool2d_with_indices_backward(dy, x, ..., indices)
  sgd/step                     torch.optim.SGD(lr 0.01, momentum 0.9, nesterov, weight decay 5e-4),
                               foreach=True and fused=True (when this torch has it)
  adamw/step                   torch.optim.AdamW(lr 1e-3, weight decay 1e-2), foreach=True and fused=True
The optimizers step the 5,944,848 parameters in the bench's three segments (conv weights and
biases 4,907,072 with decay, BN parameters 11,776 without, the dense layer 1,026,000 with decay) as
three tensors in two parameter groups. With --compile the tail's forward and backward are also
timed under torch.compile (default mode; compile time excluded), a second torch row for each.

Timing: CUDA events around each call after --warmup calls, the median of --repeats (torch's
Python overhead between its kernels counts). deeper's time is bench_nn_layers' manual time (CUDA
events, Google Benchmark's mean). Both GB/s use deeper's byte count per call (the bench header),
so they compare as times do; the notes under the table say where torch moves other bytes. The
ratio is torch time / deeper time (> 1: deeper is faster).

Usage (GPU machine, no network; torch needed, never installed by this script):
  bench/compare/layers_vs_torch.py --bench build/release/bench/bench_nn_layers [--filter REGEX]
      [--repeats 20] [--warmup 3] [--min-time 0.2] [--compile] [--json OUT.json]
  bench/compare/layers_vs_torch.py --bench-json bench_nn_layers.json ...   (its JSON, not run again)
  bench/compare/layers_vs_torch.py --dry-run [--bench PATH]
  bench/compare/layers_vs_torch.py --self-test
--dry-run: bench_nn_layers --device=cpu (batch 4), the self-test, then torch on the CPU with the same
shapes (skipped with a note when torch is not installed), to check the script without a GPU.
--self-test: the JSON parsing, shape inference, byte counts and table on a synthetic record only.
Exit status: 0 success, 1 runtime error (bench failed, JSON without the expected rows, self-test
failure), 2 usage error or a missing requirement (torch, CUDA, the bench program).
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import gbench_iterations, median_ms, run_gbench  # noqa: E402

PROG = "layers_vs_torch.py"
HEIGHT = WIDTH = 56
CHANNELS = 64
POOL_K, POOL_S = 3, 2
PARAMS = 5944848
# bench_nn_layers' resnet10_segments(): (offset, count, weight decay)
SEGMENTS = ((0, 4907072, True), (4907072, 11776, False), (4918848, PARAMS - 4918848, True))
SGD = dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
BN_EPS, BN_MOMENTUM = 1e-3, 0.01


class Shapes:
    """bench_nn_layers' shapes for one batch: activations batch x 56 x 56 x 64, pool 3x3/2 'valid'."""

    def __init__(self, batch):
        self.batch = batch
        self.pooled = (HEIGHT - POOL_K) // POOL_S + 1
        self.n = batch * HEIGHT * WIDTH * CHANNELS
        self.out = batch * self.pooled * self.pooled * CHANNELS
        self.params = PARAMS


# bench_nn_layers name -> (bytes per call as its header counts them, torch variants compared)
LAYERS = {
    "copy/engine": (lambda s: 8.0 * s.n, ("copy_",)),
    "bn/forward_train": (lambda s: 12.0 * s.n, ("eager",)),
    "bn/backward": (lambda s: 28.0 * s.n, ("eager",)),
    "bn_add_relu/forward": (lambda s: 20.0 * s.n, ("eager", "compile")),
    "bn_add_relu/unfused_forward": (lambda s: 44.0 * s.n, ("eager",)),
    "bn_add_relu/backward": (lambda s: 40.0 * s.n, ("eager", "compile")),
    "maxpool/forward": (lambda s: 4.0 * s.n + 8.0 * s.out, ("eager",)),
    "maxpool/backward": (lambda s: 4.0 * s.n + 8.0 * s.out, ("eager",)),
    "sgd/step": (lambda s: 22.0 * s.params, ("foreach", "fused")),
    "adamw/step": (lambda s: 30.0 * s.params, ("foreach", "fused")),
}
ACTIVATION_LAYERS = [k for k in LAYERS if not k.startswith(("sgd", "adamw"))]

NOTES = [
    "GB/s of both columns use deeper's byte counts (bench_nn_layers' header); ratio = torch ms / deeper ms "
    "(> 1: deeper faster).",
    "copy/engine: both are a device-to-device memcpy; the ratio checks that the two timers agree (~1).",
    "bn rows: torch runs BN then a separate ReLU (and add) kernel, so it moves more bytes than counted; "
    "bn_r has no running statistics in both (as the bench).",
    "bn_add_relu/unfused_forward is set against the same eager torch tail as bn_add_relu/forward.",
    "maxpool: torch writes int64 indices (8 bytes per output, deeper int32: 4) and zero-fills dx before "
    "its backward scatter.",
    "sgd/adamw: deeper also writes a bf16 copy of the updated weights (2 of its 22 / 30 bytes per value); "
    "torch does not. torch steps 3 tensors in 2 parameter groups (its per-group launches count).",
]


def fail(message, code=2):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)


def infer_shapes(rows):
    """The batch bench_nn_layers ran (256 on a GPU, 4 on the CPU), from its GBps counters and times.

    Each activation row's bytes per call (GBps x seconds) divided by its per-sample byte count gives
    the batch; all must agree to 0.1%. Raises ValueError when no row allows it or they disagree."""
    estimates = []
    one = Shapes(1)
    for name in ACTIVATION_LAYERS:
        r = rows.get(name)
        if r is None or "GBps" not in r:
            continue
        estimates.append((name, float(r["GBps"]) * 1e9 * r["ms"] * 1e-3 / LAYERS[name][0](one)))
    if not estimates:
        raise ValueError("no activation benchmark with a GBps counter: cannot tell the batch")
    batch = round(sorted(e for _, e in estimates)[len(estimates) // 2])
    for name, e in estimates:
        if batch < 1 or abs(e - batch) > 1e-3 * batch:
            raise ValueError(f"the byte counts disagree on the batch ({name}: {e:.3f}, median {batch})")
    return Shapes(batch)


def deeper_rows(doc, layer_filter):
    """bench_nn_layers JSON -> (the rows of the layers matching layer_filter, Shapes). Raises ValueError
    naming the missing rows when one is absent or errored."""
    rows, errors = gbench_iterations(doc)
    wanted = [k for k in LAYERS if re.search(layer_filter, k)]
    if not wanted:
        raise ValueError(f"--filter '{layer_filter}' matches none of {', '.join(LAYERS)}")
    missing = [k + (f" ({errors[k]})" if k in errors else "") for k in wanted if k not in rows]
    if missing:
        raise ValueError(f"bench_nn_layers JSON lacks {', '.join(missing)}")
    return {k: rows[k] for k in wanted}, infer_shapes(rows)


def ceiling_gbps(rows):
    """deeper's copy ceiling of the run (GBps / of_ceiling of any row), or None."""
    for r in rows.values():
        if r.get("of_ceiling"):
            return float(r["GBps"]) / float(r["of_ceiling"])
    return None


def make_rows(deeper, shapes, torch_ms, variants_wanted, missing="not timed"):
    """One output row per (layer, torch variant). torch_ms: {(layer, variant): ms, or why there is no time}."""
    out = []
    for layer, rec in deeper.items():
        nbytes = LAYERS[layer][0](shapes)
        for variant in LAYERS[layer][1]:
            if variant not in variants_wanted:
                continue
            t = torch_ms.get((layer, variant), missing)
            row = dict(layer=layer, torch=variant, bytes=nbytes, deeper_ms=rec["ms"],
                       deeper_gbps=nbytes / (rec["ms"] * 1e-3) * 1e-9, torch_ms=None, torch_gbps=None, ratio=None)
            if isinstance(t, str):
                row["torch_note"] = t
            else:
                row.update(torch_ms=t, torch_gbps=nbytes / (t * 1e-3) * 1e-9, ratio=t / rec["ms"])
            out.append(row)
    return out


def table(rows):
    def num(v, fmt):
        return format(v, fmt) if v is not None else "n/a"
    lines = [f"{'layer':28} {'torch':8} {'MB':>8} {'deeper ms':>10} {'GB/s':>7} {'torch ms':>10} {'GB/s':>7} "
             f"{'ratio':>6}"]
    for r in rows:
        lines.append(f"{r['layer']:28} {r['torch']:8} {r['bytes'] * 1e-6:8.1f} {r['deeper_ms']:10.3f} "
                     f"{r['deeper_gbps']:7.1f} {num(r['torch_ms'], '10.3f'):>10} {num(r['torch_gbps'], '7.1f'):>7} "
                     f"{num(r['ratio'], '6.2f'):>6}" + (f"  ({r['torch_note']})" if r.get("torch_note") else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# PyTorch side

OPTIONAL_VARIANTS = ("fused", "compile")  # may be missing from a torch build or device: shown as n/a


def first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:120]}" if text else type(e).__name__


def torch_timings(torch, shapes, layers, variants, device, warmup, repeats):
    """{(layer, variant): median ms, or why there is none} for the layers and variants asked for."""
    F = torch.nn.functional
    cuda = device.type == "cuda"
    gen = torch.Generator(device=device).manual_seed(7)
    cl = torch.channels_last

    def uniform(shape, lo=-1.0, hi=1.0, channels_last=False):
        t = torch.rand(shape, generator=gen, device=device) * (hi - lo) + lo
        return t.contiguous(memory_format=cl) if channels_last else t

    act = (shapes.batch, CHANNELS, HEIGHT, WIDTH)
    results = {}

    def timed(layer, variant, fn, grad=False):
        if (layer, variant) in results or layer not in layers or variant not in variants:
            return
        try:
            with torch.set_grad_enabled(grad):
                results[(layer, variant)] = median_ms(torch, fn, cuda, warmup, repeats)
        except Exception as e:  # only the optional variants may be missing (fused on this device, no compiler)
            if variant not in OPTIONAL_VARIANTS:
                raise
            results[(layer, variant)] = first_line(e)

    if "copy/engine" in layers:
        src, dst = uniform(act, channels_last=True), torch.empty(act, device=device).contiguous(memory_format=cl)
        timed("copy/engine", "copy_", lambda: dst.copy_(src))
        del src, dst

    bn_layers = {"bn/forward_train", "bn/backward", "bn_add_relu/forward", "bn_add_relu/unfused_forward",
                 "bn_add_relu/backward"}
    if bn_layers & set(layers):
        x = uniform(act, -2.0, 3.0, channels_last=True)
        r = uniform(act, channels_last=True)
        dy = uniform(act, channels_last=True)
        gamma, beta = uniform(CHANNELS, 0.5, 1.5), uniform(CHANNELS)
        r_gamma, r_beta = uniform(CHANNELS, 0.5, 1.5), uniform(CHANNELS)
        run_mean, run_var = uniform(CHANNELS), uniform(CHANNELS, 0.5, 1.5)

        def bn(t, g, b, rm=None, rv=None):
            return F.batch_norm(t, rm, rv, g, b, True, BN_MOMENTUM, BN_EPS)

        def bn_relu():
            return F.relu_(bn(x, gamma, beta, run_mean, run_var))

        def tail_inplace():
            return F.relu_(bn(x, gamma, beta, run_mean, run_var).add_(bn(r, r_gamma, r_beta)))

        def tail(x_, r_, g_, b_, rg_, rb_, rm_, rv_):
            return torch.relu(F.batch_norm(x_, rm_, rv_, g_, b_, True, BN_MOMENTUM, BN_EPS)
                              + F.batch_norm(r_, None, None, rg_, rb_, True, BN_MOMENTUM, BN_EPS))

        timed("bn/forward_train", "eager", bn_relu)
        timed("bn_add_relu/forward", "eager", tail_inplace)
        timed("bn_add_relu/unfused_forward", "eager", tail_inplace)

        leaves = [t.detach().requires_grad_(True) for t in (x, gamma, beta)]
        if "bn/backward" in layers:
            with torch.enable_grad():
                y = torch.relu(bn(leaves[0], leaves[1], leaves[2], run_mean, run_var))
            timed("bn/backward", "eager", lambda: torch.autograd.grad(y, leaves, dy, retain_graph=True), grad=True)
            del y
        tail_leaves = [t.detach().requires_grad_(True) for t in (x, r, gamma, beta, r_gamma, r_beta)]
        if "bn_add_relu/backward" in layers:
            with torch.enable_grad():
                z = tail(*tail_leaves, run_mean, run_var)
            timed("bn_add_relu/backward", "eager",
                  lambda: torch.autograd.grad(z, tail_leaves, dy, retain_graph=True), grad=True)
            del z
        if "compile" in variants:
            compiled = torch.compile(tail)
            timed("bn_add_relu/forward", "compile", lambda: compiled(x, r, gamma, beta, r_gamma, r_beta,
                                                                      run_mean, run_var))
            if "bn_add_relu/backward" in layers and ("bn_add_relu/backward", "compile") not in results:
                try:
                    with torch.enable_grad():
                        zc = compiled(*tail_leaves, run_mean, run_var)
                    timed("bn_add_relu/backward", "compile",
                          lambda: torch.autograd.grad(zc, tail_leaves, dy, retain_graph=True), grad=True)
                    del zc
                except Exception as e:
                    results[("bn_add_relu/backward", "compile")] = first_line(e)
        del x, r, dy, leaves, tail_leaves

    if {"maxpool/forward", "maxpool/backward"} & set(layers):
        x = uniform(act, channels_last=True)
        y, idx = F.max_pool2d(x, POOL_K, POOL_S, 0, return_indices=True)
        if tuple(y.shape) != (shapes.batch, CHANNELS, shapes.pooled, shapes.pooled):
            raise RuntimeError(f"torch's max-pool gives {tuple(y.shape)}, the bench {shapes.pooled} x {shapes.pooled}")
        dy = uniform(y.shape, channels_last=True)
        timed("maxpool/forward", "eager", lambda: F.max_pool2d(x, POOL_K, POOL_S, 0, return_indices=True))
        timed("maxpool/backward", "eager", lambda: torch.ops.aten.max_pool2d_with_indices_backward(
            dy, x, [POOL_K, POOL_K], [POOL_S, POOL_S], [0, 0], [1, 1], False, idx))
        del x, y, idx, dy

    for layer, make in (("sgd/step", lambda p, kw: torch.optim.SGD(p, **SGD, **kw)),
                        ("adamw/step", lambda p, kw: torch.optim.AdamW(p, **ADAMW, **kw))):
        if layer not in layers:
            continue
        decay = SGD["weight_decay"] if layer == "sgd/step" else ADAMW["weight_decay"]
        for variant in LAYERS[layer][1]:
            if variant not in variants:
                continue
            params = []
            for _, count, _ in SEGMENTS:
                p = uniform(count).requires_grad_(True)
                p.grad = uniform(count, -1e-3, 1e-3)
                params.append(p)
            groups = [{"params": [t for t, seg in zip(params, SEGMENTS) if seg[2]], "weight_decay": decay},
                      {"params": [t for t, seg in zip(params, SEGMENTS) if not seg[2]], "weight_decay": 0.0}]
            try:
                opt = make(groups, {variant: True})
            except (RuntimeError, TypeError, ValueError) as e:
                if variant not in OPTIONAL_VARIANTS:
                    raise
                results[(layer, variant)] = first_line(e)
                continue
            timed(layer, variant, opt.step)
            del opt, params, groups
    return results


def torch_meta(torch, cuda):
    meta = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if cuda else None,
            "device": torch.cuda.get_device_name() if cuda else "cpu"}
    select = getattr(torch._C, "_select_batch_norm_backend", None)
    if select is not None:  # which BN implementation F.batch_norm takes here (newer torch only)
        try:
            dev = "cuda" if cuda else "cpu"
            x = torch.zeros(2, CHANNELS, 4, 4, device=dev).contiguous(memory_format=torch.channels_last)
            w = torch.ones(CHANNELS, device=dev)
            meta["bn_backend"] = str(select(x, w, w, w, w, True, BN_EPS))
        except Exception:
            pass
    return meta


# ---------------------------------------------------------------------------------------------
# Self-test on a synthetic record


def self_test():
    """Checks parsing, shape inference, byte counts, the table and the JSON rows; raises RuntimeError."""
    s = Shapes(2)
    if (s.n, s.out, s.pooled) != (401408, 93312, 27):
        raise RuntimeError(f"shapes at batch 2: n {s.n}, out {s.out}, pooled {s.pooled}")
    if sum(c for _, c, _ in SEGMENTS) != PARAMS or any(SEGMENTS[i][0] + SEGMENTS[i][1] != SEGMENTS[i + 1][0]
                                                       for i in range(len(SEGMENTS) - 1)):
        raise RuntimeError("the parameter segments do not cover the buffer in order")
    ceiling = 400.0

    def rec(name, ms, unit="ms", nbytes=None, **extra):
        nbytes = LAYERS[name][0](s) if nbytes is None else nbytes
        scale = {"ms": 1.0, "us": 1e3, "ns": 1e6}[unit]
        gbps = nbytes / (ms * 1e-3) * 1e-9
        return dict(name=name + "/manual_time", run_type="iteration", real_time=ms * scale, time_unit=unit,
                    GBps=gbps, of_ceiling=gbps / ceiling, bytes_per_second=gbps * 1e9, **extra)

    times = {k: 0.5 + 0.25 * i for i, k in enumerate(LAYERS)}
    bench = [rec(k, t, "us" if k.startswith("maxpool") else "ms") for k, t in times.items()]
    bench.append(dict(name="bn/backward/manual_time_mean", run_type="aggregate", real_time=99.0, time_unit="ms"))
    bench.append(dict(name="other/thing/manual_time", run_type="iteration", real_time=1.0, time_unit="ms"))
    doc = {"context": {}, "benchmarks": bench}
    deeper, shapes = deeper_rows(doc, "")
    if shapes.batch != 2 or list(deeper) != list(LAYERS):
        raise RuntimeError(f"parsing gave batch {shapes.batch} and rows {list(deeper)}")
    for k, t in times.items():
        if not math.isclose(deeper[k]["ms"], t, rel_tol=1e-12):
            raise RuntimeError(f"{k}: parsed {deeper[k]['ms']} ms, expected {t} (time units)")
    if not math.isclose(ceiling_gbps(deeper), ceiling, rel_tol=1e-9):
        raise RuntimeError(f"ceiling {ceiling_gbps(deeper)}, expected {ceiling}")
    only, _ = deeper_rows(doc, "^maxpool/")
    if list(only) != ["maxpool/forward", "maxpool/backward"]:
        raise RuntimeError(f"--filter '^maxpool/' kept {list(only)}")
    # Every way the JSON can lack what is needed is an error naming it.
    broken = {"benchmarks": [b for b in bench if not b["name"].startswith("sgd/")]}
    bad_batch = {"benchmarks": [rec("bn/forward_train", 1.0), rec("bn/backward", 1.0, nbytes=28.0 * Shapes(3).n)]}
    errored = {"benchmarks": bench[:1] + [dict(bench[1], error_occurred=True, error_message="out of memory")]}
    for case, flt, expect in ((broken, "", "lacks sgd/step"), ({"nothing": 1}, "", "not Google Benchmark JSON"),
                              (bad_batch, "^bn/", "disagree on the batch"), (errored, "", "out of memory"),
                              (doc, "^conv/", "matches none")):
        try:
            deeper_rows(case, flt)
        except ValueError as e:
            if expect not in str(e):
                raise RuntimeError(f"expected an error with '{expect}', got '{e}'")
        else:
            raise RuntimeError(f"no error for a JSON that should give '{expect}'")
    # torch 1.5x slower on BN forward, a variant unavailable on SGD.
    torch_ms = {(k, v): times[k] for k in LAYERS for v in LAYERS[k][1]}
    torch_ms[("bn/forward_train", "eager")] = 1.5 * times["bn/forward_train"]
    torch_ms[("sgd/step", "fused")] = "no fused SGD here"
    rows = make_rows(deeper, shapes, torch_ms, {"eager", "copy_", "foreach", "fused"})
    if len(rows) != 12 or any(r["torch"] == "compile" for r in rows):
        raise RuntimeError(f"expected 12 rows without compile, got {[(r['layer'], r['torch']) for r in rows]}")
    bnf = next(r for r in rows if r["layer"] == "bn/forward_train")
    if not (math.isclose(bnf["ratio"], 1.5) and math.isclose(bnf["deeper_gbps"], 12.0 * s.n / 0.75e-3 * 1e-9)
            and math.isclose(bnf["deeper_gbps"], 1.5 * bnf["torch_gbps"])):
        raise RuntimeError(f"bn/forward_train row wrong: {bnf}")
    text = table(rows)
    line = next(ln for ln in text.splitlines() if ln.startswith("bn/forward_train"))
    fields = line.split()  # 12 n = 4.8 MB in 0.75 ms (6.4 GB/s) against 1.125 ms (4.3 GB/s)
    if fields[2:] != ["4.8", "0.750", "6.4", "1.125", "4.3", "1.50"]:
        raise RuntimeError("table line wrong:\n" + line)
    sgd_fused = next(ln for ln in text.splitlines() if ln.startswith("sgd/step") and " fused " in ln)
    if "n/a" not in sgd_fused or "no fused SGD here" not in sgd_fused:
        raise RuntimeError("an unavailable variant is not shown as n/a:\n" + sgd_fused)
    json.loads(json.dumps(rows))
    return text


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--bench", default="build/release/bench/bench_nn_layers", help="the bench_nn_layers program")
    ap.add_argument("--bench-json", help="bench_nn_layers' JSON (--benchmark_format=json or --benchmark_out), "
                                         "instead of running it")
    ap.add_argument("--filter", default="", help="compare only the layers whose name matches this regex")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.2, help="bench_nn_layers --benchmark_min_time (seconds)")
    ap.add_argument("--compile", action="store_true", help="also time the BN + add + ReLU tail under torch.compile")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--dry-run", action="store_true", help="CPU: bench_nn_layers --device=cpu (batch 4), the "
                                                           "self-test, torch on the CPU when installed")
    ap.add_argument("--self-test", action="store_true", help="check the parsing and table code on a synthetic record")
    a = ap.parse_args()
    if a.repeats < 1 or a.warmup < 0 or a.min_time <= 0:
        fail("--repeats must be at least 1, --warmup non-negative, --min-time positive")
    try:
        re.compile(a.filter)
    except re.error as e:
        fail(f"--filter '{a.filter}' is not a regular expression ({e})")
    if not any(re.search(a.filter, k) for k in LAYERS):
        fail(f"--filter '{a.filter}' matches none of {', '.join(LAYERS)}")
    if a.dry_run and a.bench_json:
        fail("--dry-run runs bench_nn_layers on the CPU; it does not take --bench-json")
    if a.self_test or a.dry_run:
        try:
            text = self_test()
        except RuntimeError as e:
            fail(f"self-test: {e}", 1)
        print("self-test: JSON parsing, batch inference, byte counts, errors and table OK")
        if a.self_test:
            print(text)
            return 0
    try:
        import torch
    except ImportError:
        torch = None
        if not a.dry_run:
            fail("PyTorch is not importable (this script never installs it)")
    cuda = not a.dry_run
    if cuda and not torch.cuda.is_available():
        fail("CUDA is not usable from PyTorch here (use --dry-run on a CPU)")

    if a.bench_json:
        try:
            with open(a.bench_json) as f:
                doc = json.load(f)
        except OSError as e:
            fail(f"cannot read --bench-json '{a.bench_json}': {e.strerror}")
        except json.JSONDecodeError as e:
            fail(f"--bench-json '{a.bench_json}' is not JSON ({e})", 1)
        stderr = ""
    else:
        if not (os.path.isfile(a.bench) and os.access(a.bench, os.X_OK)):
            fail(f"bench program '{a.bench}' is missing or not executable (build the bench_nn_layers target, "
                 "or give --bench PATH / --bench-json FILE)")
        cmd = [a.bench, f"--device={'cuda' if cuda else 'cpu'}", "--benchmark_format=json",
               f"--benchmark_min_time={0.01 if a.dry_run else a.min_time}"]
        if a.filter:  # the copy row stays: it is the timers' cross-check
            cmd.append(f"--benchmark_filter=({a.filter})|copy/engine")
        print("running: " + " ".join(cmd), file=sys.stderr)
        try:
            doc, stderr = run_gbench(cmd)
        except RuntimeError as e:
            fail(str(e), 1)
    try:
        deeper, shapes = deeper_rows(doc, a.filter)
    except ValueError as e:
        fail(str(e), 1)
    m = re.search(r"activations (\d+) x (\d+) x (\d+) x (\d+)", stderr)
    if m and (int(m[1]), int(m[2]), int(m[3]), int(m[4])) != (shapes.batch, HEIGHT, WIDTH, CHANNELS):
        fail(f"bench_nn_layers says activations {m[0][12:]}, its byte counts give batch {shapes.batch} "
             f"x {HEIGHT} x {WIDTH} x {CHANNELS}: the script's shapes are out of date", 1)
    if cuda and shapes.batch != 256:
        print(f"{PROG}: note: the deeper numbers are at batch {shapes.batch} (a CPU run?), torch uses the same",
              file=sys.stderr)

    variants = {"copy_", "eager", "foreach", "fused"} | ({"compile"} if a.compile and not a.dry_run else set())
    meta = {"device": "cpu", "torch": None, "batch": shapes.batch, "params": PARAMS,
            "deeper_ceiling_gbps": ceiling_gbps(deeper)}
    if torch is None:
        torch_ms = {}
        print(f"{PROG}: note: PyTorch is not installed here: torch timing skipped (the bench run, parsing and "
              "table are checked)")
        meta["torch_note"] = "PyTorch not installed"
    else:
        device = torch.device("cuda" if cuda else "cpu")
        meta.update(torch_meta(torch, cuda))
        if a.dry_run and a.compile:
            print(f"{PROG}: note: --compile is ignored with --dry-run", file=sys.stderr)
        try:
            torch_ms = torch_timings(torch, shapes, list(deeper), variants, device,
                                     1 if a.dry_run else a.warmup, 3 if a.dry_run else a.repeats)
        except Exception as e:  # e.g. out of memory
            fail(f"PyTorch failed: {first_line(e)}", 1)
    rows = make_rows(deeper, shapes, torch_ms, variants, "torch not installed" if torch is None else "not timed")
    ceiling = meta["deeper_ceiling_gbps"]
    print(f"device: {meta['device']}; torch {meta['torch']}; cudnn {meta.get('cudnn')}; "
          f"BN backend {meta.get('bn_backend', 'not reported')}; activations {shapes.batch} x {HEIGHT} x {WIDTH} "
          f"x {CHANNELS} fp32 (channels_last), {PARAMS:,} parameters; deeper's copy ceiling "
          + (f"{ceiling:.1f} GB/s" if ceiling else "n/a"))
    print(table(rows))
    for note in NOTES:
        print("note: " + note)
    if a.json:
        try:
            with open(a.json, "w") as f:
                json.dump({"meta": meta, "notes": NOTES, "rows": rows}, f, indent=1)
        except OSError as e:
            fail(f"cannot write --json '{a.json}': {e.strerror}", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
