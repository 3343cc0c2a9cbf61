"""Write Tests/ColonyModelsTests/Fixtures/greedy-quants.json: greedy runs of the numpy
reference (every weight dequantised by gguf-py) on the default model's requantizations
that scripts/fetch-quantized makes with llama.cpp's llama-quantize — the independent
reference for Colony's Q5 and K-quant paths on a real model.

The files are deterministic (pinned llama.cpp, pinned source file); each case keeps the
file's SHA-256 so a test can tell a fixture made from another file.

Usage:  ./scripts/fetch-quantized && python3 scripts/reference/make_quant_greedy.py
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
from gguf import GGUFReader
from gguf import GGMLQuantizationType as QT

from llama_ref import LlamaModel

ROOT = os.path.join(os.path.dirname(__file__), "../..")
QUANTS = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q5_0", "Q5_1", "Q3_K_S", "Q2_K"]
STEPS = 24


def main() -> None:
    greedy = json.load(open(os.path.join(ROOT, "Tests/ColonyModelsTests/Fixtures/greedy-smollm2.json")))
    prompt = greedy["cases"][0]["prompt_ids"]
    cases = []
    for q in QUANTS:
        path = os.path.join(ROOT, f"models/SmolLM2-135M-Instruct.{q}.gguf")
        types = sorted({QT(t.tensor_type).name for t in GGUFReader(path).tensors})
        try:
            model = LlamaModel(path)
        except ValueError as e:  # a fallback type the reference (and Colony) refuses
            print(f"{q}: skipped ({e})")
            continue
        gen, step_logits = model.generate_greedy(prompt, STEPS)
        margins = [float(np.sort(l)[-1] - np.sort(l)[-2]) for l in step_logits]
        first = step_logits[0]
        top = np.argsort(-first)[:10]
        cases.append(
            {
                "quant": q,
                "file": os.path.basename(path),
                "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
                "tensor_types": types,
                "prompt_ids": prompt,
                "generated_ids": gen,
                "margins": [round(m, 6) for m in margins],
                "first_top10": [[int(i), round(float(first[i]), 5)] for i in top],
            }
        )
        print(f"{q}: {types} -> {gen[:8]}…, min margin {min(margins):.4f}")
    out = os.path.join(ROOT, "Tests/ColonyModelsTests/Fixtures/greedy-quants.json")
    with open(out, "w") as f:
        json.dump({"steps": STEPS, "cases": cases}, f, indent=1)
    print(f"wrote {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
