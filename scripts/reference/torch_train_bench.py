"""PyTorch (CPU, eager) training-speed reference for `colony bench train`.

The same Llama architecture and shapes as the GGUF given (read with the `gguf` package):
random weights, random tokens, every position predicted, AdamW, batch × seq tokens per
step. `full` trains every weight; `lora` freezes the base and trains rank-r adapters on
q, k, v, o. Prints tokens/s of the median step after one warm-up step, as JSON.
"""
import argparse
import json
import time

import gguf
import torch
import torch.nn.functional as F


def config_of(path):
    r = gguf.GGUFReader(path)
    def val(key):
        f = r.fields[key]
        return f.parts[f.data[0]].tolist()[0]
    vocab = len(r.fields["tokenizer.ggml.tokens"].data)
    return dict(vocab=vocab, dim=val("llama.embedding_length"), layers=val("llama.block_count"),
                ffn=val("llama.feed_forward_length"), heads=val("llama.attention.head_count"),
                kv_heads=val("llama.attention.head_count_kv"), eps=val("llama.attention.layer_norm_rms_epsilon"),
                base=val("llama.rope.freq_base"))


class LoRALinear(torch.nn.Module):
    def __init__(self, inp, out, rank, alpha, lora):
        super().__init__()
        self.base = torch.nn.Linear(inp, out, bias=False)
        self.lora = lora
        if lora:
            self.base.weight.requires_grad_(False)
            self.a = torch.nn.Parameter(torch.randn(rank, inp) / inp ** 0.5)
            self.b = torch.nn.Parameter(torch.zeros(out, rank))
            self.scale = alpha / rank

    def forward(self, x):
        y = self.base(x)
        if self.lora:
            y = y + (x @ self.a.t() @ self.b.t()) * self.scale
        return y


class Block(torch.nn.Module):
    def __init__(self, c, lora, rank):
        super().__init__()
        d, hd = c["dim"], c["dim"] // c["heads"]
        self.c, self.hd = c, hd
        self.n1 = torch.nn.RMSNorm(d, eps=c["eps"])
        self.n2 = torch.nn.RMSNorm(d, eps=c["eps"])
        self.q = LoRALinear(d, c["heads"] * hd, rank, 16, lora)
        self.k = LoRALinear(d, c["kv_heads"] * hd, rank, 16, lora)
        self.v = LoRALinear(d, c["kv_heads"] * hd, rank, 16, lora)
        self.o = LoRALinear(c["heads"] * hd, d, rank, 16, lora)
        self.gate = torch.nn.Linear(d, c["ffn"], bias=False)
        self.up = torch.nn.Linear(d, c["ffn"], bias=False)
        self.down = torch.nn.Linear(c["ffn"], d, bias=False)
        if lora:
            for m in [self.n1, self.n2, self.gate, self.up, self.down]:
                for p in m.parameters():
                    p.requires_grad_(False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        c, hd = self.c, self.hd
        h = self.n1(x)
        q = self.q(h).view(b, t, c["heads"], hd).transpose(1, 2)
        k = self.k(h).view(b, t, c["kv_heads"], hd).transpose(1, 2)
        v = self.v(h).view(b, t, c["kv_heads"], hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def rope(x, cos, sin):
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class Llama(torch.nn.Module):
    def __init__(self, c, lora, rank):
        super().__init__()
        self.emb = torch.nn.Embedding(c["vocab"], c["dim"])
        self.blocks = torch.nn.ModuleList(Block(c, lora, rank) for _ in range(c["layers"]))
        self.norm = torch.nn.RMSNorm(c["dim"], eps=c["eps"])
        if lora:
            self.emb.weight.requires_grad_(False)
            self.norm.weight.requires_grad_(False)
        hd = c["dim"] // c["heads"]
        self.inv = c["base"] ** (-torch.arange(0, hd, 2).float() / hd)

    def forward(self, tokens):
        t = tokens.shape[1]
        angles = torch.arange(t).float()[:, None] * self.inv[None, :]
        cos, sin = angles.cos(), angles.sin()
        x = self.emb(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin)
        return self.norm(x) @ self.emb.weight.t()  # tied output


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", default="both", choices=["full", "lora", "both"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c = config_of(args.model)
    out = {"seq_len": args.seq_len, "batch": args.batch, "threads": args.threads, "torch": torch.__version__}
    for mode in (["full", "lora"] if args.mode == "both" else [args.mode]):
        model = Llama(c, mode == "lora", args.lora_rank)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        tokens = torch.randint(0, c["vocab"], (args.batch, args.seq_len))
        targets = torch.roll(tokens, -1, dims=1)
        times = []
        for s in range(args.steps + 1):
            t0 = time.perf_counter()
            logits = model(tokens)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, c["vocab"]), targets[:, :-1].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if s > 0:
                times.append(time.perf_counter() - t0)
        times.sort()
        out[f"{mode}_tokens_per_second"] = args.batch * args.seq_len / times[len(times) // 2]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
