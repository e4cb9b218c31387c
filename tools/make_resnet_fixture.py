#!/usr/bin/env python3
"""PyTorch parity fixture for deeper's ResNet-10 (nn/network.h, nn/resnet10.h).

Builds a small ResNet-10 with exactly deeper's layout and padding conventions (resnet10.md):
  stem   zero-pad 3, conv 7x7/2 (+bias), BN, ReLU; max-pool 3x3/2 'valid'
  stage  conv 3x3 Keras-'same' (stride 1 or 2; padded explicitly, (0, 1) where Keras pads so),
         BN, ReLU, conv 3x3/1 'same', BN; projection conv 1x1/stride (+BN); add; ReLU
  head   global average pool, linear
BN in training mode with eps 1e-3 and PyTorch momentum 0.01 (Keras 0.99); conv biases kept.
Weights and inputs are drawn from a fixed torch.Generator and rounded to float32 (the values
deeper reads); everything is then computed in float64 and stored as F32 (tensor names and shapes as deeper's: conv weights KRSC = OHWI, images NHWC).

Writes tests/fixtures/resnet10_parity.safetensors (no safetensors package needed) with:
  <param name>                    initial trainable parameters (deeper names, e.g. stage3.conv1.weight)
  input.images [B, S, S, 3], input.labels [B] (I32)
  expected.logits [B, N], expected.loss [1]
  grad.<param name>               d loss / d param at the initial weights
  after_forward.<bn>.running_mean / running_var   BN statistics after the first training forward
  sgd.loss [10]                   the loss of each of 10 SGD steps on the same batch (before its
                                  update): lr 0.1, momentum 0.9, weight decay 5e-4 on conv and
                                  linear weights only (PyTorch's SGD form: v = m v + g; w -= lr v)
Metadata: widths, input_size, classes, batch, lr, momentum, weight_decay, steps.

Run: python3 tools/make_resnet_fixture.py [--out PATH]  (CPU torch, a few seconds; < 100 KB).
"""
import argparse
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

WIDTHS = [4, 8, 8, 16]
SIZE = 32
CLASSES = 10
BATCH = 4
EPS = 1e-3
MOMENTUM_TORCH = 0.01
LR, SGD_MOMENTUM, WEIGHT_DECAY, STEPS = 0.1, 0.9, 5e-4, 10


def same_padding(n, k, s):
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def layout():
    """deeper's conv list: (name, bn, in_size, cin, cout, kernel, stride, pad (t, b, l, r))."""
    convs = [("stem.conv", "stem.bn", SIZE, 3, WIDTHS[0], 7, 2, (3, 3, 3, 3))]
    x = (SIZE + 6 - 7) // 2 + 1
    x = (x - 3) // 2 + 1  # max-pool 3x3/2 valid
    cin = WIDTHS[0]
    for stage in range(2, 6):
        cout = WIDTHS[stage - 2]
        s = 1 if stage == 2 else 2
        p = f"stage{stage}"
        t, b = same_padding(x, 3, s)
        convs.append((p + ".conv1", p + ".bn1", x, cin, cout, 3, s, (t, b, t, b)))
        mid = (x + t + b - 3) // s + 1
        t2, b2 = same_padding(mid, 3, 1)
        convs.append((p + ".conv2", p + ".bn2", mid, cout, cout, 3, 1, (t2, b2, t2, b2)))
        convs.append((p + ".proj", p + ".proj_bn", x, cin, cout, 1, s, (0, 0, 0, 0)))
        x, cin = mid, cout
    return convs


def make_params(gen):
    """Trainable tensors in deeper's order and names (PyTorch layouts: conv weight [K, C, R, S])."""
    params, stats = {}, {}
    for name, bn, _, cin, cout, k, _, _ in layout():
        bound = (6.0 / (k * k * cin)) ** 0.5
        params[name + ".weight"] = (torch.rand(cout, cin, k, k, generator=gen, dtype=torch.float64) * 2 - 1) * bound
        params[name + ".bias"] = (torch.rand(cout, generator=gen, dtype=torch.float64) - 0.5) * 0.2
        params[bn + ".gamma"] = 1.0 + (torch.rand(cout, generator=gen, dtype=torch.float64) - 0.5) * 0.5
        params[bn + ".beta"] = (torch.rand(cout, generator=gen, dtype=torch.float64) - 0.5) * 0.2
        stats[bn + ".running_mean"] = torch.zeros(cout, dtype=torch.float64)
        stats[bn + ".running_var"] = torch.ones(cout, dtype=torch.float64)
    w3 = WIDTHS[3]
    bound = (6.0 / (w3 + CLASSES)) ** 0.5
    params["fc.weight"] = (torch.rand(CLASSES, w3, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    params["fc.bias"] = (torch.rand(CLASSES, generator=gen, dtype=torch.float64) - 0.5) * 0.2
    for name in params:  # the values deeper reads (F32), exactly
        params[name] = params[name].float().double().requires_grad_(True)
    return params, stats


def forward(params, stats, images_nhwc):
    def conv_bn(x, name, bn, stride, pad, relu):
        t, b, l, r = pad
        x = F.pad(x, (l, r, t, b))
        y = F.conv2d(x, params[name + ".weight"], params[name + ".bias"], stride=stride)
        y = F.batch_norm(y, stats[bn + ".running_mean"], stats[bn + ".running_var"], params[bn + ".gamma"],
                         params[bn + ".beta"], training=True, momentum=MOMENTUM_TORCH, eps=EPS)
        return F.relu(y) if relu else y

    convs = {c[0]: c for c in layout()}
    x = images_nhwc.permute(0, 3, 1, 2)
    c = convs["stem.conv"]
    x = conv_bn(x, c[0], c[1], c[6], c[7], True)
    x = F.max_pool2d(x, 3, 2, 0)
    for stage in range(2, 6):
        p = f"stage{stage}"
        c1, c2, cp = convs[p + ".conv1"], convs[p + ".conv2"], convs[p + ".proj"]
        h = conv_bn(x, c1[0], c1[1], c1[6], c1[7], True)
        main = conv_bn(h, c2[0], c2[1], c2[6], c2[7], False)
        short = conv_bn(x, cp[0], cp[1], cp[6], cp[7], False)
        x = F.relu(main + short)
    e = x.mean(dim=(2, 3))
    return F.linear(e, params["fc.weight"], params["fc.bias"])


def deeper_layout(name, t):
    """A tensor in deeper's layout: conv weights [K, C, R, S] -> [K, R, S, C]."""
    t = t.detach()
    if name.endswith(".weight") and t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return t.contiguous()


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, arr in tensors:
        data = arr.tobytes()
        dtype = {np.dtype("float32"): "F32", np.dtype("int32"): "I32"}[arr.dtype]
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "resnet10_parity.safetensors"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(20181118)
    params, stats = make_params(gen)
    images = torch.rand(BATCH, SIZE, SIZE, 3, generator=gen, dtype=torch.float64).float().double()
    labels = torch.randint(0, CLASSES, (BATCH,), generator=gen)

    out = []
    f32 = lambda t: t.detach().to(torch.float32).numpy()
    for name, t in params.items():
        out.append((name, f32(deeper_layout(name, t))))
    out.append(("input.images", f32(images)))
    out.append(("input.labels", labels.to(torch.int32).numpy()))

    logits = forward(params, stats, images)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out.append(("expected.logits", f32(logits)))
    out.append(("expected.loss", f32(loss.reshape(1))))
    for name, t in params.items():
        out.append(("grad." + name, f32(deeper_layout(name, t.grad))))
    for name, t in stats.items():
        out.append(("after_forward." + name, f32(t)))

    # 10 SGD steps from the initial weights and statistics, on the same batch.
    params, stats = make_params(torch.Generator().manual_seed(20181118))
    decay = [t for n, t in params.items() if n.endswith(".weight")]
    no_decay = [t for n, t in params.items() if not n.endswith(".weight")]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=LR, momentum=SGD_MOMENTUM)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        step_loss = F.cross_entropy(forward(params, stats, images), labels)
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
    out.append(("sgd.loss", np.array(losses, dtype=np.float32)))

    metadata = {"widths": json.dumps(WIDTHS), "input_size": str(SIZE), "classes": str(CLASSES), "batch": str(BATCH),
                "lr": repr(LR), "momentum": repr(SGD_MOMENTUM), "weight_decay": repr(WEIGHT_DECAY),
                "steps": str(STEPS), "generator": "tools/make_resnet_fixture.py, torch " + torch.__version__}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_safetensors(args.out, out, metadata)
    print(f"wrote {args.out}: {len(out)} tensors, loss {loss.item():.6f}, sgd losses {['%.5f' % l for l in losses]}")


if __name__ == "__main__":
    main()
