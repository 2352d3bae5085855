#!/usr/bin/env python3
"""PyTorch baseline for chorus's training speed.

Trains the same two models chorus trains, with the same optimizer, in PyTorch eager mode on
one CUDA device, and reports training throughput (samples per second):

  mlp: 784-256-128-10, ReLU between the layers
  cnn: conv 1->16 5x5 pad 2, ReLU, maxpool 2, conv 16->32 5x5 pad 2, ReLU, maxpool 2,
       fc 1568->128, ReLU, fc 128->10

SGD with momentum 0.9, learning rate 0.01, softmax cross-entropy. The data set is resident
on the GPU before timing starts (Fashion-MNIST from --data-dir when present and --data
fashion, otherwise random tensors of the same shape), so the timing is of the training
step alone: warm-up steps, torch.cuda.synchronize(), the timed steps, synchronize again.
The loss is not read back during the timed steps (no per-step host synchronisation).

FP32 throughout: TF32 is off for both matmuls and cuDNN convolutions unless --tf32, matching
chorus's CUDA backend default. cuDNN autotuning (benchmark mode) is on.

Output: a table, or with --json one line per measurement:
  {"impl": "pytorch", "model": "mlp", "batch": 256, "samples_per_s": 123456.7}

Exits with status 2 and a one-line message when PyTorch or a CUDA device is missing.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time


def fail(message):
    print(f"torch_bench: error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    p.add_argument("--batches", default="64,256,1024", help="comma-separated batch sizes")
    p.add_argument("--warmup", type=int, default=30, help="untimed steps before timing")
    p.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    p.add_argument("--data", choices=["random", "fashion"], default="random",
                   help="random tensors, or Fashion-MNIST from --data-dir")
    p.add_argument("--data-dir", default=os.environ.get(
        "CHORUS_DATA", "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--samples", type=int, default=16384,
                   help="resident samples for --data random")
    p.add_argument("--tf32", action="store_true", help="allow TF32 (off by default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = p.parse_args()
    try:
        args.models = [m for m in args.models.split(",") if m]
        args.batches = [int(b) for b in args.batches.split(",") if b]
    except ValueError:
        fail("--batches must be comma-separated integers")
    for m in args.models:
        if m not in ("mlp", "cnn"):
            fail(f"unknown model '{m}' (choose mlp or cnn)")
    if not args.batches or min(args.batches) < 1:
        fail("--batches must be positive integers")
    if args.steps < 1 or args.warmup < 0:
        fail("--steps must be >= 1 and --warmup >= 0")
    return args


def read_idx(path):
    """An IDX file (gzip) as (dims, raw bytes)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def load_data(torch, args, device):
    """(x, y) resident on the device: x (N, 1, 28, 28) float32 in [0, 1], y (N,) int64."""
    if args.data == "fashion":
        images = os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")
        labels = os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz")
        if not (os.path.exists(images) and os.path.exists(labels)):
            fail(f"Fashion-MNIST not found in {args.data_dir} (use --data random)")
        dims, raw = read_idx(images)
        x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(dims[0], 1, 28, 28)
        _, raw_labels = read_idx(labels)
        y = torch.frombuffer(bytearray(raw_labels), dtype=torch.uint8).to(torch.int64)
        x = x.to(device=device, dtype=torch.float32) / 255.0
        return x, y.to(device)
    g = torch.Generator().manual_seed(args.seed)
    x = torch.rand(args.samples, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (args.samples,), generator=g)
    return x.to(device), y.to(device)


def make_model(nn, name):
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
        nn.Linear(128, 10))


def measure(torch, args, name, batch, x, y, device):
    nn = torch.nn
    torch.manual_seed(args.seed)
    model = make_model(nn, name).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    if batch > n:
        fail(f"batch {batch} is larger than the {n} resident samples (raise --samples)")
    batches_per_epoch = n // batch
    cursor = [0]

    def step():
        i = cursor[0] % batches_per_epoch
        cursor[0] += 1
        xb = x[i * batch:(i + 1) * batch]
        yb = y[i * batch:(i + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    if not torch.isfinite(loss).item():
        fail(f"{name} batch {batch}: the loss is not finite")
    return args.steps * batch / elapsed, 1e3 * elapsed / args.steps


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        fail("PyTorch is not installed (pip install torch)")
    if not torch.cuda.is_available():
        fail("PyTorch sees no CUDA device (torch.cuda.is_available() is False)")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True

    x, y = load_data(torch, args, device)
    if not args.json:
        print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name(device)}, "
              f"{'TF32' if args.tf32 else 'FP32'}, data {args.data} "
              f"({x.shape[0]} samples resident), {args.steps} timed steps")
        print(f"{'model':<6} {'batch':>6} {'samples/s':>12} {'ms/step':>9}")
    for name in args.models:
        for batch in args.batches:
            rate, ms = measure(torch, args, name, batch, x, y, device)
            if args.json:
                print(json.dumps({"impl": "pytorch", "model": name, "batch": batch,
                                  "samples_per_s": round(rate, 1)}), flush=True)
            else:
                print(f"{name:<6} {batch:>6} {rate:>12.0f} {ms:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
