"""Write Tests/ColonyTensorTests/Fixtures/quant-blocks.json: random blocks of the quant
types Colony reads but did not write (Q5_0, Q5_1, Q2_K..Q6_K) and their values as
gguf-py's numpy port of GGML dequantises them — the independent reference for Colony's
dequantisation (compared bit for bit) and, through it, for its dot products.

Blocks are random bytes with the f16 scale fields set to sane positive values (and
Q5_1's min to a signed one), so every bit pattern of quants and sub-block scales occurs.

Usage:  python3 scripts/reference/make_quant_fixtures.py
"""

from __future__ import annotations

import json
import os

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

# Byte offsets of the f16 fields of each block: (offset, low, high) drawn uniformly.
SCALE_FIELDS = {
    QT.Q5_0: [(0, 0.001, 0.05)],
    QT.Q5_1: [(0, 0.001, 0.05), (2, -0.5, 0.5)],
    QT.Q2_K: [(80, 0.001, 0.05), (82, 0.001, 0.05)],
    QT.Q3_K: [(108, 0.001, 0.05)],
    QT.Q4_K: [(0, 0.001, 0.05), (2, 0.001, 0.05)],
    QT.Q5_K: [(0, 0.001, 0.05), (2, 0.001, 0.05)],
    QT.Q6_K: [(208, 0.001, 0.05)],
}
ROWS, ROW_ELEMENTS = 2, 512


def main() -> None:
    rng = np.random.default_rng(20261202)
    cases = []
    for qt, fields in SCALE_FIELDS.items():
        block_elements, block_bytes = GGML_QUANT_SIZES[qt]
        blocks = ROWS * ROW_ELEMENTS // block_elements
        raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
        for offset, low, high in fields:
            values = rng.uniform(low, high, size=blocks).astype(np.float16)
            raw[:, offset : offset + 2] = values.view(np.uint8).reshape(blocks, 2)
        rows = raw.reshape(ROWS, -1)
        values = dequantize(rows, qt).astype(np.float32)
        assert values.shape == (ROWS, ROW_ELEMENTS)
        cases.append(
            {
                "type": qt.name,
                "rows": ROWS,
                "row_elements": ROW_ELEMENTS,
                "bytes": rows.tobytes().hex(),
                # Bit patterns, so the comparison is exact.
                "values": values.view(np.uint32).reshape(-1).tolist(),
            }
        )
    out = os.path.join(os.path.dirname(__file__), "../../Tests/ColonyTensorTests/Fixtures/quant-blocks.json")
    with open(out, "w") as f:
        json.dump({"generator": "gguf-py (gguf.quants.dequantize), see requirements.txt", "cases": cases}, f)
    print(f"wrote {os.path.normpath(out)}: {', '.join(c['type'] for c in cases)}")


if __name__ == "__main__":
    main()
