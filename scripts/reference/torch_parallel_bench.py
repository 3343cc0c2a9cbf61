"""PyTorch (CPU, gloo) reference for `scripts/bench-train-parallel`: data parallel (DDP) and
pipeline parallel (`torch.distributed.pipelining`, 1F1B) full fine-tuning of the Llama
shapes of the GGUF given (random weights and tokens, tied embedding as in SmolLM2), on
ranks of this machine talking TCP over loopback.

For the global batch `--batch` × `--seq-len`: DDP gives each of `--ranks` ranks
batch / ranks sequences; the pipeline splits the layers into `--ranks` contiguous stages
balanced as colony balances them, and the batch into `--micro-batches`, and all-reduces the tied embedding's gradient
between the first and last stage (as Megatron does). Prints, as JSON, the median step
time after one warm-up step and the bytes that crossed loopback per step (every rank's
traffic: the interface counter is shared).
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from torch_train_bench import Llama, config_of


def stage_bounds(c, stages):
    """Layer bounds of each stage, balanced as colony's ModelPartition.stageLayers does: the
    output projection (vocab × dim per token) counts on the last stage."""
    layers = c["layers"]
    if stages == 1:
        return [0, layers]
    hd = c["dim"] // c["heads"]
    layer = c["dim"] * hd * (2 * c["heads"] + 2 * c["kv_heads"]) + 3 * c["dim"] * c["ffn"]
    head, rest = c["vocab"] * c["dim"], stages - 1

    def order(n):
        others, last = layers - n, n * layer + head
        return (max(-(-others // rest) * layer, last), -min(others // rest * layer, last), n)
    n = min(range(1, layers - rest + 1), key=order)
    others = layers - n
    bounds = [0]
    for i in range(rest):
        bounds.append(bounds[-1] + others // rest + (1 if i < others % rest else 0))
    return bounds + [layers]


def loopback_bytes():
    with open("/sys/class/net/lo/statistics/tx_bytes") as f:
        return int(f.read())


class Stage(torch.nn.Module):
    """Blocks `first..<last` of the model, with the embedding on the first stage and the
    norm and (tied) output on the last."""

    def __init__(self, model, first, last, is_first, is_last):
        super().__init__()
        self.emb = model.emb if is_first or is_last else None
        self.blocks = torch.nn.ModuleList(model.blocks[first:last])
        self.norm = model.norm if is_last else None
        self.is_first, self.is_last = is_first, is_last
        self.register_buffer("inv", model.inv, persistent=False)

    def forward(self, x):
        h = self.emb(x) if self.is_first else x
        t = h.shape[1]
        angles = torch.arange(t).float()[:, None] * self.inv[None, :]
        cos, sin = angles.cos(), angles.sin()
        for b in self.blocks:
            h = b(h, cos, sin)
        return self.norm(h) @ self.emb.weight.t() if self.is_last else h


def run(rank, args, config, result):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(args.port), GLOO_SOCKET_IFNAME="lo")
    dist.init_process_group("gloo", rank=rank, world_size=args.ranks)
    torch.set_num_threads(max(1, args.cores // args.ranks))
    torch.manual_seed(0)
    vocab = config["vocab"]
    model = Llama(config, False, 0)
    tokens = torch.randint(0, vocab, (args.batch, args.seq_len))
    targets = torch.roll(tokens, -1, dims=1)

    def loss_fn(logits, target):
        return F.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))

    if args.mode == "ddp":
        share = args.batch // args.ranks
        mine = slice(rank * share, (rank + 1) * share)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.AdamW(ddp.parameters(), lr=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(ddp(tokens[mine]), targets[mine]).backward()
            opt.step()
    else:
        from torch.distributed.pipelining import PipelineStage, Schedule1F1B

        layers, stages = config["layers"], args.ranks
        bounds = stage_bounds(config, stages)
        first, last = rank == 0, rank == stages - 1
        stage_module = Stage(model, bounds[rank], bounds[rank + 1], first, last)
        stage = PipelineStage(stage_module, rank, stages, torch.device("cpu"))
        schedule = Schedule1F1B(stage, n_microbatches=args.micro_batches, loss_fn=loss_fn)
        opt = torch.optim.AdamW(stage_module.parameters(), lr=1e-4)
        tied = dist.new_group([0, stages - 1]) if stages > 1 else None

        def step():
            opt.zero_grad(set_to_none=True)
            if first:
                schedule.step(tokens)
            elif last:
                schedule.step(target=targets, losses=[])
            else:
                schedule.step()
            if (first or last) and tied is not None:
                dist.all_reduce(stage_module.emb.weight.grad, group=tied)
            opt.step()

    times = []
    bytes_before = 0
    for s in range(args.steps + 1):
        dist.barrier()
        if s == 1:
            bytes_before = loopback_bytes()
        t0 = time.perf_counter()
        step()
        dist.barrier()
        if s > 0:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        times.sort()
        result.update(
            step_seconds=times[len(times) // 2],
            bytes_per_step=(loopback_bytes() - bytes_before) / args.steps)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=["ddp", "pp"], required=True)
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--micro-batches", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--port", type=int, default=29517)
    args = ap.parse_args()
    config = config_of(args.model)
    with mp.Manager() as manager:
        result = manager.dict()
        mp.spawn(run, args=(args, config, result), nprocs=args.ranks, join=True)
        out = dict(result)
    out.update(mode=args.mode, ranks=args.ranks, torch=torch.__version__)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
