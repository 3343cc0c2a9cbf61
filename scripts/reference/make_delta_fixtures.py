#!/usr/bin/env python3
"""FP16 delta fixtures for Colony's hybrid training (Tests/ColonyTrainingTests/Fixtures/fp16-deltas.json).

numpy's float16 cast is the reference: round to nearest, ties to even, overflow to
infinity, gradual underflow. The values cover ties at every exponent, the subnormal
range, the overflow edge and ordinary training deltas. Top-k cases give the indices
kept: the k largest magnitudes, ties broken by the lower index, listed in index order.

    python3 scripts/reference/make_delta_fixtures.py
"""
import json
import pathlib

import numpy as np

rng = np.random.default_rng(18)
values = [
    0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e-8, -1e-8,
    2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 3 * 2.0**-26, 2.0**-14, 2.0**-14 * (1 - 2.0**-11),
    1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-11 + 2.0**-20, 0.1, 0.2, 0.3, 1 / 3,
]
# Exact ties between neighbouring halves at exponents from subnormal to large.
for e in range(-24, 15, 3):
    base = np.float32(2.0**e)
    ulp = np.float32(2.0 ** max(e - 10, -24))
    values += [float(base + ulp / 2), float(base + 3 * ulp / 2), float(-(base + ulp / 2))]
values += [float(x) for x in rng.normal(0, 1e-3, 200).astype(np.float32)]
values += [float(x) for x in rng.normal(0, 30, 50).astype(np.float32)]
inputs = np.array(values, dtype=np.float32)
bits = inputs.astype(np.float16).view(np.uint16)

topk = []
for n, fraction in [(40, 0.1), (40, 0.25), (33, 0.5), (10, 1.0)]:
    x = rng.normal(0, 1e-2, n).astype(np.float32)
    x[3] = x[7] = np.float32(0.05)  # a tie at the top: the lower index wins
    k = max(1, int(np.ceil(fraction * n)))
    order = sorted(range(n), key=lambda i: (-abs(float(x[i])), i))[:k]
    topk.append({"values": [float(v) for v in x], "fraction": fraction, "kept": sorted(order)})

out = pathlib.Path(__file__).resolve().parents[2] / "Tests/ColonyTrainingTests/Fixtures/fp16-deltas.json"
out.write_text(json.dumps({"numpy": np.__version__, "inputs": [float(v) for v in inputs],
                           "f16_bits": [int(b) for b in bits], "top_k": topk}, indent=0) + "\n")
print(f"wrote {out}: {len(inputs)} values, {len(topk)} top-k cases")
