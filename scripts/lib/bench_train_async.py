"""Driver of scripts/bench-train-async: colony's --sync dp, ps and hybrid on the same data.

Every rank talks TCP over loopback (OpenMPI's shared-memory transport is off), so the
bytes a run communicates are the loopback interface's counter over the run; divided by
the steps they are the bytes per step, start-up included (a few kB). Loss against step
and wall time comes from worker 0's log.jsonl (its own micro-batches: noisy, so the plot
smooths over 10 steps); the held-out loss at the end is the comparable number.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

colony, work, steps, delta_every, sync_every, out = sys.argv[1:7]
steps, delta_every, sync_every = int(steps), int(delta_every), int(sync_every)
mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
          "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo"]
common = ["train", "--base", f"{work}/model.gguf", "--data", f"{work}/data.jsonl", "--eval", f"{work}/eval.jsonl",
          "--steps", str(steps), "--seq-len", "64", "--batch", "2", "--lora-rank", "8", "--lr", "2e-3", "--warmup", "10",
          "--threads", "1", "--export-type", "f32", "--collective", "mpi", "--eval-batches", "8"]
runs = [
    ("dp (all-reduce, f32)", 2, ["--sync", "dp"]),
    ("ps (async SGD)", 3, ["--sync", "ps", "--max-staleness", "4"]),
    ("hybrid (FP16 deltas)", 3, ["--sync", "hybrid", "--delta-every", str(delta_every), "--sync-every", str(sync_every)]),
    ("hybrid (FP16, top-k 10%)", 3, ["--sync", "hybrid", "--delta-every", str(delta_every), "--sync-every", str(sync_every),
                                     "--delta-top-k", "0.1"]),
]


def loopback():
    with open("/sys/class/net/lo/statistics/tx_bytes") as f:
        return int(f.read())


results = []
for name, ranks, flags in runs:
    folder = tempfile.mkdtemp(prefix="colony-bench-async-")
    before = loopback()
    r = subprocess.run(mpirun + ["-np", str(ranks), colony] + common + flags + ["--out", folder], capture_output=True, text=True)
    moved = loopback() - before
    if r.returncode != 0:
        sys.exit(f"{name} failed:\n{r.stderr[-3000:]}")
    lines = [json.loads(l) for l in open(os.path.join(folder, "log.jsonl"))]
    trained = [l for l in lines if "loss" in l]
    evals = [l["eval_loss"] for l in lines if "eval_loss" in l]
    parameters = int(re.search(r"(\d+) trainable parameters", r.stderr).group(1))
    results.append(dict(name=name, ranks=ranks, bytes_per_step=moved / steps, wall_s=trained[-1]["elapsed_s"],
                        eval_start=evals[0], eval_end=evals[-1], parameters=parameters,
                        steps=[l["step"] for l in trained], loss=[l["loss"] for l in trained],
                        elapsed=[l["elapsed_s"] for l in trained],
                        rejected=trained[-1].get("rejected", 0)))
    shutil.rmtree(folder)
    print(f"{name}: done in {trained[-1]['elapsed_s']:.1f} s", file=sys.stderr)

P = results[0]["parameters"]
# A ring all-reduce of P f32 values sends 2(n−1)/n · 4P bytes from each of n ranks.
theory_dp = 2 * (2 - 1) / 2 * 4 * P * 2
print(f"\n{steps} steps, 2 workers, {P} trainable values (LoRA); f32 all-reduce in theory: {theory_dp / 1e3:.0f} kB per step (both ranks)")
print(f"{'mode':<28}{'kB/step':>10}{'vs dp':>8}{'wall s':>9}{'eval loss':>18}{'rejected':>10}")
for x in results:
    print(f"{x['name']:<28}{x['bytes_per_step'] / 1e3:>10.1f}{x['bytes_per_step'] / results[0]['bytes_per_step']:>8.2f}"
          f"{x['wall_s']:>9.1f}{x['eval_start']:>9.3f} → {x['eval_end']:.3f}{x['rejected']:>10}")
json.dump(dict(steps=steps, delta_every=delta_every, sync_every=sync_every, parameters=P, theory_dp_bytes=theory_dp,
               runs=results), open(out + ".json", "w"), indent=1)

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def smooth(v, k=10):
    return [sum(v[max(0, i - k + 1):i + 1]) / len(v[max(0, i - k + 1):i + 1]) for i in range(len(v))]


fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
for x in results:
    a.plot(x["steps"], smooth(x["loss"]), label=x["name"])
    b.plot(x["elapsed"], smooth(x["loss"]), label=x["name"])
a.set_xlabel("step")
b.set_xlabel("wall time (s)")
for ax in (a, b):
    ax.set_ylabel("training loss (worker 0, 10-step mean)")
    ax.grid(alpha=0.3)
a.legend()
fig.suptitle(f"colony train --sync: 2 workers, same data, {steps} steps")
fig.tight_layout()
fig.savefig(out + ".png", dpi=110)
print(f"\nwrote {out}.json and {out}.png")
