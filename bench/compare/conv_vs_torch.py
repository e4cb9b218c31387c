#!/usr/bin/env python3
"""deeper's conv2d kernels (bench_conv) against cuDNN through PyTorch, on the ResNet-10 conv layers.

For every benchmark bench_conv reports (conv/<op>/<math>/<layer>/B:<batch>/R:<res>), this script
times the same convolution with PyTorch on the same GPU:
  forward  torch.nn.functional.conv2d(x, w)                           (cuDNN)
  dgrad    torch.ops.aten.convolution_backward(..., output_mask=[True, False, False])
  wgrad    torch.ops.aten.convolution_backward(..., output_mask=[False, True, False])
with x and dy in channels_last (NHWC, as deeper), w as K x C x R x S in channels_last (KRSC in
memory), no bias. deeper's math wmma_bf16 (and its variants wmma_bf16_<v>: wmma_bf16_v1 and wmma_bf16_v3,
kernel versions 1 and 3; wmma_bf16_narrow, version 2 on version 1's tiles) is compared with torch bf16 (cuDNN writes bf16 outputs,
deeper fp32) and simt_f32 with torch fp32 (TF32 off unless --allow-tf32). Keras 'same' padding
with (0 before, 1 after) is expressed by padding the input beforehand (outside the timing) and
convolving with padding 0. Timing: CUDA events around each call after --warmup calls, the median of
--repeats. deeper's time is bench_conv's manual time (CUDA events, Google Benchmark's mean).

The table gives both times and the ratio cuDNN time / deeper time (> 1: deeper is faster), per
op, math and layer, and the geometric mean of the ratios per (op, math, resolution).

Usage (GPU machine, no network; torch needed, never installed by this script):
  bench/compare/conv_vs_torch.py --bench build/release/bench/bench_conv [--filter REGEX]
      [--repeats 20] [--warmup 3] [--min-time 0.2] [--allow-tf32] [--json out.json]
  bench/compare/conv_vs_torch.py --dry-run [--bench ...]
--dry-run: bench_conv --device=cpu (batch 2, 112 px) on the stem and one stage-5 conv, against torch on
the CPU in fp32, to check the script without a GPU. Exits 2 with a message when torch is missing or,
without --dry-run, when CUDA is unusable.
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import gbench_iterations, median_ms, run_gbench  # noqa: E402


def keras_same(size, kernel, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def resnet10_conv_shapes(batch, res):
    """The 13 conv layers, as kernels/nn/conv_shape.h: name -> dict(N, H, C, K, R, stride, pad=(before, after))."""
    shapes = {}
    stem_out = (res + 6 - 7) // 2 + 1
    shapes["stem_7x7s2_3to64"] = dict(N=batch, H=res, C=3, K=64, R=7, stride=2, pad=(3, 3))
    size, cin = (stem_out - 3) // 2 + 1, 64
    for stage, k in enumerate((64, 128, 256, 512)):
        stride = 1 if stage == 0 else 2
        pad = keras_same(size, 3, stride)
        nxt = (size + pad[0] + pad[1] - 3) // stride + 1
        tag = f"s{stage + 2}_"
        shapes[f"{tag}conv1_3x3s{stride}_{cin}to{k}"] = dict(N=batch, H=size, C=cin, K=k, R=3, stride=stride, pad=pad)
        shapes[f"{tag}conv2_3x3s1_{k}"] = dict(N=batch, H=nxt, C=k, K=k, R=3, stride=1, pad=keras_same(nxt, 3, 1))
        shapes[f"{tag}proj_1x1s{stride}_{cin}to{k}"] = dict(N=batch, H=size, C=cin, K=k, R=1, stride=stride, pad=(0, 0))
        size, cin = nxt, k
    return shapes


def flops(s):
    p = (s["H"] + s["pad"][0] + s["pad"][1] - s["R"]) // s["stride"] + 1
    return 2.0 * s["N"] * p * p * s["K"] * s["R"] * s["R"] * s["C"]


NAME = re.compile(r"^conv/(forward|dgrad|wgrad)/(wmma_bf16(?:_[a-z0-9]+)?|simt_f32)/([^/]+)/B:(\d+)/R:(\d+)")


def run_bench(path, device, bench_filter, min_time):
    cmd = [path, f"--device={device}", "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
    if bench_filter:
        cmd.append(f"--benchmark_filter={bench_filter}")
    print("running: " + " ".join(cmd), file=sys.stderr)
    records, _ = gbench_iterations(run_gbench(cmd)[0])
    rows = []
    for name, b in records.items():
        m = NAME.match(name)
        if m:
            rows.append(dict(op=m[1], math=m[2], layer=m[3], batch=int(m[4]), res=int(m[5]), deeper_ms=b["ms"]))
    return rows


def torch_time_ms(torch, row, shape, dtype, device, warmup, repeats):
    F = torch.nn.functional
    n, h, c, k, r, st = shape["N"], shape["H"], shape["C"], shape["K"], shape["R"], shape["stride"]
    before, after = shape["pad"]
    torch.manual_seed(7)  # values made on the device: the 224 px stem's dy has 205M elements
    x = torch.randn(n, c, h, h, device=device).to(dtype)
    if before != after:  # Keras (0, 1): pad once, outside the timing
        x = F.pad(x, (before, after, before, after))
        pad = 0
    else:
        pad = before
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(k, c, r, r, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    y = F.conv2d(x, w, stride=st, padding=pad)
    dy = torch.randn(y.shape, device=device).to(dtype).contiguous(memory_format=torch.channels_last)

    def call():
        if row["op"] == "forward":
            return F.conv2d(x, w, stride=st, padding=pad)
        mask = [True, False, False] if row["op"] == "dgrad" else [False, True, False]
        return torch.ops.aten.convolution_backward(dy, x, w, None, [st, st], [pad, pad], [1, 1], False, [0, 0], 1, mask)

    with torch.no_grad():
        return median_ms(torch, call, device != "cpu", warmup, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="build/release/bench/bench_conv", help="the bench_conv program")
    ap.add_argument("--filter", default="", help="Google Benchmark filter for bench_conv (regex)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.2, help="bench_conv --benchmark_min_time (seconds)")
    ap.add_argument("--allow-tf32", action="store_true", help="let cuDNN use TF32 for the fp32 baseline")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--dry-run", action="store_true", help="CPU, batch 2 at 112 px, two layers")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("conv_vs_torch.py: error: PyTorch is not importable (this script never installs it)", file=sys.stderr)
        return 2
    cuda = not a.dry_run
    if cuda and not torch.cuda.is_available():
        print("conv_vs_torch.py: error: CUDA is not usable from PyTorch here (use --dry-run on a CPU)", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = a.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = a.allow_tf32
    bench_filter = a.filter
    if a.dry_run and not bench_filter:
        bench_filter = "(stem|s5_conv2)"
    try:
        rows = run_bench(a.bench, "cuda" if cuda else "cpu", bench_filter, 0.01 if a.dry_run else a.min_time)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"conv_vs_torch.py: error: {e}", file=sys.stderr)
        return 1
    if not rows:
        print("conv_vs_torch.py: error: bench_conv reported no conv benchmarks (check --filter)", file=sys.stderr)
        return 1
    device = "cuda" if cuda else "cpu"
    torch_ms = {}  # one torch timing per (op, dtype, layer, batch, res): the wmma_bf16 variants share it
    for row in rows:
        shape = resnet10_conv_shapes(row["batch"], row["res"])[row["layer"]]
        dtype = torch.bfloat16 if (row["math"].startswith("wmma_bf16") and cuda) else torch.float32
        reps = 3 if a.dry_run else a.repeats
        row["torch_dtype"] = str(dtype).replace("torch.", "")
        key = (row["op"], row["torch_dtype"], row["layer"], row["batch"], row["res"])
        if key not in torch_ms:
            torch_ms[key] = torch_time_ms(torch, row, shape, dtype, device, 1 if a.dry_run else a.warmup, reps)
        row["torch_ms"] = torch_ms[key]
        row["gflop"] = flops(shape) * 1e-9
        row["deeper_tflops"] = flops(shape) / (row["deeper_ms"] * 1e-3) * 1e-12
        row["torch_tflops"] = flops(shape) / (row["torch_ms"] * 1e-3) * 1e-12
        row["ratio"] = row["torch_ms"] / row["deeper_ms"]
    name = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"device: {name}; torch {torch.__version__}; cudnn {torch.backends.cudnn.version()}; "
          f"ratio = cuDNN time / deeper time (> 1: deeper faster)")
    print(f"{'op':7} {'math':16} {'R':>3} {'B':>4} {'layer':26} {'GFLOP':>7} {'deeper ms':>10} {'TF/s':>7} "
          f"{'torch ms':>10} {'TF/s':>7} {'ratio':>6}")
    for r in rows:
        print(f"{r['op']:7} {r['math']:16} {r['res']:>3} {r['batch']:>4} {r['layer']:26} {r['gflop']:7.2f} "
              f"{r['deeper_ms']:10.3f} {r['deeper_tflops']:7.1f} {r['torch_ms']:10.3f} {r['torch_tflops']:7.1f} "
              f"{r['ratio']:6.2f}")
    groups = {}
    for r in rows:
        groups.setdefault((r["op"], r["math"], r["res"]), []).append(r["ratio"])
    print("geometric mean of the ratios:")
    for (op, mth, res), ratios in sorted(groups.items()):
        gm = math.exp(sum(math.log(v) for v in ratios) / len(ratios))
        print(f"  {op:7} {mth:16} R {res:>3}: {gm:5.2f} over {len(ratios)} layers")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": name, "torch": torch.__version__, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
