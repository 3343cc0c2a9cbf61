"""Driver of scripts/bench-train-parallel: colony's data, pipeline and tensor parallel
full fine-tuning at 1, 2 and 4 ranks, against theory and against PyTorch (gloo) on the
same shapes, in one run.

Every rank talks TCP over loopback (OpenMPI's shared-memory transport is switched off),
so the bytes a step communicates are read from the loopback interface's counter: the
difference between a run of `short` and one of `long` steps, divided by the extra steps,
leaves start-up and checkpointing out. Step time is the median of the longer run's steps
after the first, from `log.jsonl`.
"""
import json
import os
import subprocess
import sys
import tempfile

colony, model, data, python_ref = sys.argv[1:5]
seq, batch, micro, cores = (int(v) for v in sys.argv[5:9])
out_json = sys.argv[9]
short, long = 2, 5
mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
          "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]


def gguf_config(path):
    import gguf
    r = gguf.GGUFReader(path)

    def val(key):
        f = r.fields[key]
        return f.parts[f.data[0]].tolist()[0]
    return dict(vocab=len(r.fields["tokenizer.ggml.tokens"].data), dim=val("llama.embedding_length"),
                layers=val("llama.block_count"), ffn=val("llama.feed_forward_length"),
                heads=val("llama.attention.head_count"), kv_heads=val("llama.attention.head_count_kv"))


c = gguf_config(model)
d, hd = c["dim"], c["dim"] // c["heads"]
layer_params = d * (c["heads"] * hd) * 2 + d * (c["kv_heads"] * hd) * 2 + 3 * d * c["ffn"] + 2 * d
params = c["vocab"] * d + c["layers"] * layer_params + d


def loopback():
    with open("/sys/class/net/lo/statistics/tx_bytes") as f:
        return int(f.read())


def colony_run(ranks, flags, steps):
    folder = tempfile.mkdtemp(prefix="colony-bench-parallel-")
    args = [colony, "train", "--base", model, "--data", data, "--lora-rank", "0", "--seq-len", str(seq),
            "--steps", "100", "--stop-after", str(steps), "--warmup", "1", "--keep", "1",
            "--threads", str(max(1, cores // ranks)), "--out", folder] + flags
    if ranks > 1:
        args = mpirun + ["-np", str(ranks)] + args + ["--collective", "mpi"]
    before = loopback()
    r = subprocess.run(args, capture_output=True, text=True)
    moved = loopback() - before
    if r.returncode != 0:
        sys.exit(f"colony {' '.join(flags)} on {ranks} ranks failed:\n{r.stderr[-2000:]}")
    lines = [json.loads(l) for l in open(os.path.join(folder, "log.jsonl")) if '"loss"' in l]
    subprocess.run(["rm", "-rf", folder])
    return lines, moved


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure(ranks, flags):
    _, short_bytes = colony_run(ranks, flags, short)
    lines, long_bytes = colony_run(ranks, flags, long)
    elapsed = [l["elapsed_s"] for l in lines]
    steps = [b - a for a, b in zip(elapsed, elapsed[1:])][1:]  # after the first step
    waits = [l.get("pipeline_wait_s", 0) for l in lines][2:]
    return dict(step_seconds=median(steps), bytes_per_step=(long_bytes - short_bytes) / (long - short),
                wait_fraction=median([w / s for w, s in zip(waits, steps)]) if any(waits) else 0)


def torch_run(mode, ranks):
    r = subprocess.run([sys.executable, python_ref, "--model", model, "--mode", mode, "--ranks", str(ranks),
                        "--seq-len", str(seq), "--batch", str(batch), "--micro-batches", str(micro),
                        "--cores", str(cores), "--steps", "3"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"PyTorch {mode} on {ranks} ranks failed: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


f32 = 4
tokens = batch * seq
# Bytes on the wire, summed over ranks, of a ring all-reduce of n floats on p ranks: 2(p−1)n·4.
ring = lambda n, p: 2 * (p - 1) * n * f32
configs = [
    # name, ranks, flags, theory bytes per step, PyTorch counterpart
    ("1 rank", 1, ["--batch", str(batch)], 0, ("ddp", 1)),
    ("DP 2", 2, ["--batch", str(batch // 2)], ring(params, 2), ("ddp", 2)),
    ("DP 4", 4, ["--batch", str(batch // 4)], ring(params, 4), ("ddp", 4)),
    # Activations forward and their gradients back over each of S−1 boundaries, and the
    # tied embedding's gradient all-reduced between the first and last stage.
    ("PP 2", 2, ["--batch", str(batch), "--micro-batches", str(micro), "--pipeline-stages", "2"],
     2 * 1 * tokens * d * f32 + ring(c["vocab"] * d, 2), ("pp", 2)),
    ("PP 4", 4, ["--batch", str(batch), "--micro-batches", str(micro), "--pipeline-stages", "4"],
     2 * 3 * tokens * d * f32 + ring(c["vocab"] * d, 2), ("pp", 4)),
    # Per layer two all-reduces of the activations forward (g) and two of their gradients
    # back (f).
    ("TP 2", 2, ["--batch", str(batch), "--tensor-parallel", "2"], 4 * c["layers"] * ring(tokens * d, 2), None),
    # T = 4 is refused (3 KV groups): 4 ranks as TP 2 × DP 2.
    ("TP 2 × DP 2", 4, ["--batch", str(batch // 2), "--tensor-parallel", "2"],
     # Each replica's tensor traffic on half the tokens, and each tensor rank's slice (the
     # embedding whole on both) all-reduced between the replicas.
     2 * 4 * c["layers"] * ring(tokens // 2 * d, 2) + ring(params + c["vocab"] * d, 2), None),
]

print(f"full fine-tune, {c['layers']} layers of SmolLM2-135M's shapes ({params / 1e6:.1f} M parameters), "
      f"global batch {batch} × {seq} tokens, {micro} micro-batches for PP, {cores} cores "
      f"(4 ranks oversubscribe them); every rank on TCP over loopback")
header = f"{'layout':<12} {'step s':>7} {'× 1 rank':>8} {'MB/step':>9} {'theory MB':>9} {'meas/theory':>11} {'bubble':>13} {'PyTorch s':>9} {'torch MB':>8} {'speed vs torch':>14}"
print(header)
rows = []
base = None
for name, ranks, flags, theory, ref in configs:
    m = measure(ranks, flags)
    base = base or m["step_seconds"]
    t = torch_run(*ref) if ref else None
    bubble = ""
    if "--pipeline-stages" in flags:
        s = ranks
        bubble = f"{m['wait_fraction']:.2f} vs {(s - 1) / (micro + s - 1):.2f}"
    row = dict(layout=name, ranks=ranks, **m, theory_bytes=theory, torch=t)
    rows.append(row)
    ratio = f"{m['bytes_per_step'] / theory:11.2f}" if theory else f"{'-':>11}"
    torch_cols = (f"{t['step_seconds']:9.2f} {t['bytes_per_step'] / 1e6:8.1f} {t['step_seconds'] / m['step_seconds']:13.2f}x"
                  if t else f"{'-':>9} {'-':>8} {'-':>14}")
    print(f"{name:<12} {m['step_seconds']:7.2f} {m['step_seconds'] / base:8.2f} {m['bytes_per_step'] / 1e6:9.1f} "
          f"{theory / 1e6:9.1f} {ratio} {bubble:>13} {torch_cols}", flush=True)
json.dump(dict(seq_len=seq, batch=batch, micro_batches=micro, cores=cores, parameters=params, rows=rows),
          open(out_json, "w"), indent=1)
print("bubble: the first stage's measured wait for the others (pipeline_wait_s) as a share of the step, against (S−1)/(M+S−1)")
print(f"speed vs torch: PyTorch's step time over colony's (> 1: colony is faster); JSON in {out_json}")
