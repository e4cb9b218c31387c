#!/usr/bin/env python3
"""deeper's ResNet-10 training step (bench_train_step) against the same step in PyTorch, same GPU.

The PyTorch model is the lab's ResNet-10 as deeper builds it (nn/resnet10.h): 7x7/2 stem with bias
+ BN + ReLU, 3x3/2 'valid' max-pool, four single-block stages with a 1x1 projection on every
shortcut, Keras 'same' padding (explicit (0, 1) padding where Keras pads so), BN eps 1e-3 and
momentum 0.01, global average pool, linear classifier; 2,000 classes, batch 256. One step =
forward, cross-entropy, backward, torch.optim.SGD(momentum 0.9, weight decay 5e-4) step, on a
fixed random batch already on the GPU (PyTorch renders nothing: compare it with deeper's step
without its render share, printed as "deeper net-only").

Modes:
  eager_fp32     NCHW fp32, TF32 off
  bf16_cl        torch.autocast(bfloat16) + channels_last (the usual fast eager recipe)
  compile_bf16   the same under torch.compile (default mode; compile time excluded)
Timing: CUDA events around each step after --warmup steps, the median of --repeats. deeper's
numbers are bench_train_step's step/paper_<size>px_b256_wmma_bf16 (images/s; the next batch renders
on a second stream during the step), step_serial/... (each batch rendered inside its step) and
render/... (the render alone; net-only = the serial step less it), and the _v3 rows (conv kernel
version 3, sm_90a wgmma) where the build has them; ratios are against the default step row.

Usage (GPU machine; torch needed, never installed by this script):
  bench/compare/train_vs_torch.py --bench build/release/bench/bench_train_step [--sizes 112,224]
      [--modes eager_fp32,bf16_cl,compile_bf16] [--repeats 10] [--warmup 3] [--json out.json]
  bench/compare/train_vs_torch.py --dry-run     # CPU, batch 4 at 64 px, eager only: checks the script
Exits 2 with a message when torch is missing or, without --dry-run, when CUDA is unusable.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import median_ms  # noqa: E402


def keras_same(size, kernel, stride):
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def build_model(torch, size, widths=(64, 128, 256, 512), classes=2000):
    nn, F = torch.nn, torch.nn.functional

    class ConvBN(nn.Module):
        def __init__(self, cin, cout, k, stride, pad):
            super().__init__()
            self.pad = pad  # (before, after) on both axes
            self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=0, bias=True)
            self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)

        def forward(self, x):
            b, a = self.pad
            if b or a:
                x = F.pad(x, (b, a, b, a))
            return self.bn(self.conv(x))

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, size_in):
            super().__init__()
            self.conv1 = ConvBN(cin, cout, 3, stride, keras_same(size_in, 3, stride))
            mid = (size_in + sum(keras_same(size_in, 3, stride)) - 3) // stride + 1
            self.conv2 = ConvBN(cout, cout, 3, 1, keras_same(mid, 3, 1))
            self.proj = ConvBN(cin, cout, 1, stride, (0, 0))
            self.size_out = mid

        def forward(self, x):
            return F.relu(self.conv2(F.relu(self.conv1(x))) + self.proj(x))

    class ResNet10(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = ConvBN(3, widths[0], 7, 2, (3, 3))
            s = (size + 6 - 7) // 2 + 1
            s = (s - 3) // 2 + 1
            blocks, cin = [], widths[0]
            for i, w in enumerate(widths):
                blk = Block(cin, w, 1 if i == 0 else 2, s)
                blocks.append(blk)
                s, cin = blk.size_out, w
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(widths[3], classes)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.stem(x)), 3, 2, 0)
            x = self.blocks(x)
            return self.fc(x.mean(dim=(2, 3)))

    return ResNet10()


def torch_images_per_s(torch, size, batch, mode, device, warmup, repeats):
    torch.manual_seed(0)
    model = build_model(torch, size).to(device)
    x = torch.rand(batch, 3, size, size, device=device)
    y = torch.randint(0, 2000, (batch,), device=device)
    if mode != "eager_fp32":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    decay = [p for n, p in model.named_parameters() if n.endswith("conv.weight") or n == "fc.weight"]
    rest = [p for n, p in model.named_parameters() if not (n.endswith("conv.weight") or n == "fc.weight")]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}], lr=0.1,
                          momentum=0.9)
    net = torch.compile(model) if mode == "compile_bf16" else model
    use_bf16 = mode != "eager_fp32"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    return batch / (median_ms(torch, step, device.type == "cuda", warmup, repeats) * 1e-3)


def deeper_rows(bench, device, sizes):
    """bench_train_step's rows per size and variant ("" default kernels, "v3" conv kernel version 3):
    the step (the next batch prefetched on a GPU), the serial step (rendered inside it) and the
    render alone, as images/s; net-only is the serial step less the render."""
    cmd = [bench, f"--device={device}", "--benchmark_format=json", "--benchmark_filter=(step|step_serial|render)/"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    by_name = {b["name"]: b for b in json.loads(out)["benchmarks"]}
    rows = {}
    for size in sizes:
        for variant, suffix in (("", ""), ("v3", "_v3")):
            case = f"paper_{size}px_b256_wmma_bf16{suffix}"
            if device == "cpu" and variant == "":
                case = next((n.split("/", 1)[1] for n in by_name if n.startswith("step/tiny_64px")), case)
            step = by_name.get(f"step/{case}")
            if step is None:
                continue
            serial = by_name.get(f"step_serial/{case}", step)
            render = by_name.get(f"render/{case}")
            ips, serial_ips = step["images_per_s"], serial["images_per_s"]
            net_only = ips
            if render is not None and render["images_per_s"] > serial_ips:
                net_only = 1.0 / (1.0 / serial_ips - 1.0 / render["images_per_s"])
            rows.setdefault(size, {})[variant] = dict(
                images_per_s=ips, serial_images_per_s=serial_ips, net_only_images_per_s=net_only,
                render_share=serial.get("render_share", step.get("render_share", 0.0)),
                render_exposed=step.get("render_exposed"), mfu=step.get("MFU"))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="build/release/bench/bench_train_step")
    ap.add_argument("--sizes", default="112,224")
    ap.add_argument("--modes", default="eager_fp32,bf16_cl,compile_bf16")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--dry-run", action="store_true", help="CPU, batch 4 at 64 px, eager only")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("train_vs_torch.py: error: PyTorch is not installed (this script never installs it)", file=sys.stderr)
        return 2
    if a.dry_run:
        device, sizes, modes, batch = torch.device("cpu"), [64], ["eager_fp32"], 4
    else:
        if not torch.cuda.is_available():
            print("train_vs_torch.py: error: CUDA is not usable from PyTorch here", file=sys.stderr)
            return 2
        device, batch = torch.device("cuda"), 256
        sizes = [int(s) for s in a.sizes.split(",")]
        modes = a.modes.split(",")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    deeper = {}
    try:
        deeper = deeper_rows(a.bench, "cpu" if a.dry_run else "cuda", sizes)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as e:
        print(f"train_vs_torch.py: note: bench_train_step did not run ({e}); torch only", file=sys.stderr)
    rows = []
    print(f"{'size':>5} {'who':<22} {'images/s':>12} {'vs deeper step':>15}")
    for size in sizes:
        variants = deeper.get(size, {})
        d = variants.get("")
        for variant, v in sorted(variants.items()):
            label = "deeper step" + (f" ({variant})" if variant else "")
            print(f"{size:>5} {label:<22} {v['images_per_s']:>12.1f} {v['images_per_s'] / (d or v)['images_per_s']:>15.2f}"
                  + (f"   MFU {v['mfu']:.3f}" if v.get("mfu") is not None else ""))
            print(f"{size:>5} {'  render serial':<22} {v['serial_images_per_s']:>12.1f} "
                  f"{v['serial_images_per_s'] / (d or v)['images_per_s']:>15.2f}   render share {v['render_share']:.2f}")
            print(f"{size:>5} {'  net-only':<22} {v['net_only_images_per_s']:>12.1f} "
                  f"{v['net_only_images_per_s'] / (d or v)['images_per_s']:>15.2f}"
                  + (f"   render exposed {v['render_exposed']:.2f}" if v.get("render_exposed") is not None else ""))
        for mode in modes:
            ips = torch_images_per_s(torch, size, batch, mode, device, a.warmup, a.repeats)
            ratio = ips / d["images_per_s"] if d else float("nan")
            print(f"{size:>5} {'torch ' + mode:<22} {ips:>12.1f} {ratio:>15.2f}")
            rows.append(dict(size=size, mode=mode, torch_images_per_s=ips, deeper=d, deeper_variants=variants))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
