"""Single-threaded onnxruntime timing shared by the bench scripts under
models/, so tract's criterion figures are always compared with the same
onnxruntime set-up (one intra-op and one inter-op thread, all graph
optimisations, CPU provider)."""

import time

import numpy as np
import onnxruntime as ort


def time_single_thread(path: str, feed: np.ndarray, runs: int, warmup: int) -> list:
    """Wall time in milliseconds of each of `runs` inferences after `warmup`."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for _ in range(warmup):
        sess.run(None, {name: feed})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, {name: feed})
        times.append((time.perf_counter() - t0) * 1e3)
    return times
