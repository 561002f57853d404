#!/usr/bin/env python3
"""Measure what pods sharing one GPU get: throughput and latency, alone, time-sliced and with MPS.

Runs on a machine with one NVIDIA GPU and PyTorch (not part of the test suite: CI has no GPU).
Each "pod" is a process that runs the same CUDA work for ``--seconds``:

* ``throughput``: back-to-back fp16 matrix multiplications (n x n); reports TFLOP/s;
* ``latency``: one small inference-like step (a 1024-wide 8-layer MLP on a batch of 32) at a
  time, synchronized, reporting each step's time: p50 and p95 in milliseconds.

Scenarios: one process alone; N processes at once without MPS (the GPU time-slices between
their contexts, as the device plugin's time-slicing does); N processes under an MPS control
daemon started by this script (``nvidia-cuda-mps-control -d``, stopped at the end; the GPU's
compute mode is not changed). Prints one JSON document and writes it to ``--out``.

    python3 scripts/gpu_sharing_benchmark.py --processes 4 --seconds 10 --out results.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def _work(kind: str, seconds: float, start: Any, results: Any, size: int) -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    device = torch.device("cuda")
    if kind == "throughput":
        a = torch.randn(size, size, device=device, dtype=torch.float16)
        b = torch.randn(size, size, device=device, dtype=torch.float16)
        for _ in range(5):  # warm-up
            a @ b
        torch.cuda.synchronize()
        start.wait()
        began, count = time.perf_counter(), 0
        while time.perf_counter() - began < seconds:
            for _ in range(20):
                a @ b
            torch.cuda.synchronize()
            count += 20
        elapsed = time.perf_counter() - began
        results.put({"tflops": 2 * size**3 * count / elapsed / 1e12})
        return
    layers = torch.nn.Sequential(
        *[torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU()) for _ in range(8)]
    ).to(device=device, dtype=torch.float16)
    batch = torch.randn(32, 1024, device=device, dtype=torch.float16)
    with torch.no_grad():
        for _ in range(20):
            layers(batch)
        torch.cuda.synchronize()
        start.wait()
        times = []
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            step = time.perf_counter()
            layers(batch)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - step) * 1000)
    times.sort()
    results.put(
        {
            "p50_ms": statistics.median(times),
            "p95_ms": times[int(0.95 * (len(times) - 1))],
            "steps_per_s": len(times) / seconds,
        }
    )


def _run(kind: str, processes: int, seconds: float, size: int) -> list[dict[str, float]]:
    context = mp.get_context("spawn")
    start = context.Barrier(processes + 1)
    results = context.Queue()
    workers = [
        context.Process(target=_work, args=(kind, seconds, start, results, size))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    out = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    return out


def _scenario(processes: int, seconds: float, size: int) -> dict[str, Any]:
    return {
        "throughput": _run("throughput", processes, seconds, size),
        "latency": _run("latency", processes, seconds, size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    gpu = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total,compute_mode,driver_version",
         "--format=csv,noheader"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    report: dict[str, Any] = {"gpu": gpu, "processes": args.processes, "seconds": args.seconds}
    report["alone"] = _scenario(1, args.seconds, args.size)
    report["time_sliced"] = _scenario(args.processes, args.seconds, args.size)
    with tempfile.TemporaryDirectory() as mps_dir:
        env = {
            **os.environ,
            "CUDA_MPS_PIPE_DIRECTORY": f"{mps_dir}/pipe",
            "CUDA_MPS_LOG_DIRECTORY": f"{mps_dir}/log",
        }
        os.makedirs(env["CUDA_MPS_PIPE_DIRECTORY"])
        os.makedirs(env["CUDA_MPS_LOG_DIRECTORY"])
        subprocess.run(["nvidia-cuda-mps-control", "-d"], env=env, check=True)
        os.environ.update(env)  # the spawned workers connect to this daemon
        try:
            report["mps"] = _scenario(args.processes, args.seconds, args.size)
        finally:
            subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True, env=env)
            for key in ("CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY"):
                os.environ.pop(key, None)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
