"""Independent numpy reference for llama.cpp's "llama" architecture.

Deliberately simple and slow-but-obvious: every weight is dequantized to
float32 once at load time (via the `gguf` package, not via any Colony code),
activations are float32, and each step of the forward pass is written out the
way llama.cpp's graph computes it. Used to generate the test fixtures that the
Swift runtime is checked against.

Shape convention (the usual trap): GGUF lists a tensor's shape as
[ne0, ne1, ...] where ne0 is the fastest-varying dimension, i.e. the ROW
LENGTH. A matrix with GGUF shape [n_in, n_out] is stored row-major as n_out
rows of n_in elements, so in numpy it is an (n_out, n_in) array and the layer
computes y = W @ x. `gguf.GGUFReader` already reverses the shape for us
(tensor.data has numpy shape (ne1, ne0)), so after dequantization `W @ x` is
the right product.

Usage:
    python llama_ref.py MODEL.gguf 1 2 3            # greedy-generate from ids
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader
from gguf.quants import dequantize

# The dtypes this reference (and Colony) is expected to handle. Anything else
# is rejected loudly rather than silently mis-decoded.
SUPPORTED_TYPES = {
    QT.F32, QT.F16, QT.BF16, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0,
    QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K,
}


def _field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


@dataclass
class HParams:
    n_vocab: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ctx_train: int
    rms_eps: float
    rope_base: float
    rope_dim: int
    rope_scale: float  # positions are multiplied by this (1/factor for "linear")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


def read_hparams(reader: GGUFReader) -> HParams:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"unsupported architecture {arch!r}")
    a = "llama."
    n_embd = int(_field(reader, a + "embedding_length"))
    n_head = int(_field(reader, a + "attention.head_count"))
    n_head_kv = int(_field(reader, a + "attention.head_count_kv", n_head))
    head_dim = n_embd // n_head
    # vocab_size is optional in GGUF; the token list is authoritative.
    n_vocab = _field(reader, a + "vocab_size")
    if n_vocab is None:
        n_vocab = len(_field(reader, "tokenizer.ggml.tokens"))

    rope_scale = 1.0
    scaling_type = _field(reader, a + "rope.scaling.type")
    if scaling_type == "linear":
        factor = float(_field(reader, a + "rope.scaling.factor", 1.0))
        if factor > 0:
            rope_scale = 1.0 / factor
    elif scaling_type not in (None, "none"):
        raise ValueError(f"unsupported rope scaling {scaling_type!r}")

    return HParams(
        n_vocab=int(n_vocab),
        n_embd=n_embd,
        n_ff=int(_field(reader, a + "feed_forward_length")),
        n_layer=int(_field(reader, a + "block_count")),
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ctx_train=int(_field(reader, a + "context_length", 0)),
        rms_eps=float(_field(reader, a + "attention.layer_norm_rms_epsilon", 1e-5)),
        rope_base=float(_field(reader, a + "rope.freq_base", 10000.0)),
        rope_dim=int(_field(reader, a + "rope.dimension_count", head_dim)),
        rope_scale=rope_scale,
    )


def load_tensor(t) -> np.ndarray:
    """Dequantize one ReaderTensor to a float32 array with numpy shape (ne1, ne0)."""
    qt = QT(t.tensor_type)
    if qt not in SUPPORTED_TYPES:
        raise ValueError(f"{t.name}: unsupported tensor type {qt.name}")
    w = dequantize(t.data, qt)
    # For F32/F16 the reader already hands back (ne1, ne0); for block types
    # dequantize() expands the byte dimension back to ne0. Either way the
    # logical shape is the reversed GGUF shape.
    shape = tuple(int(d) for d in reversed(t.shape.tolist()))
    return np.ascontiguousarray(w, dtype=np.float32).reshape(shape)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    # llama.cpp: x / sqrt(mean(x^2) + eps), then elementwise * weight.
    # The mean is accumulated in float64 (ggml also sums in double here).
    ms = np.mean(np.square(x, dtype=np.float64), axis=-1, keepdims=True)
    return (x * (1.0 / np.sqrt(ms + eps)).astype(np.float32)) * weight


def silu(x: np.ndarray) -> np.ndarray:
    return x / (np.float32(1.0) + np.exp(-x))


def rope_normal(x: np.ndarray, positions: np.ndarray, hp: HParams) -> np.ndarray:
    """llama.cpp NORMAL-mode RoPE (LLAMA_ROPE_TYPE_NORM).

    x: (n_tokens, n_heads, head_dim). Rotates ADJACENT pairs (x[2i], x[2i+1])
    of each head for 2i < rope_dim; the rest of the head passes through.
    theta_i = (pos * rope_scale) * base^(-2i/rope_dim).
    (NEOX mode would instead pair x[i] with x[i + rope_dim/2]; the GGUF
    converter permutes the Q/K rows of HF Llama weights so NORMAL is right.)
    """
    n_rot = hp.rope_dim
    i = np.arange(n_rot // 2, dtype=np.float64)
    inv_freq = hp.rope_base ** (-2.0 * i / n_rot)  # (n_rot/2,)
    # Angles in float64 then cast: keeps the reference itself free of
    # accumulated rounding; implementations in float32 should match closely.
    theta = (positions.astype(np.float64) * hp.rope_scale)[:, None] * inv_freq[None, :]
    cos = np.cos(theta).astype(np.float32)[:, None, :]  # (n_tokens, 1, n_rot/2)
    sin = np.sin(theta).astype(np.float32)[:, None, :]

    out = x.copy()
    x0 = x[..., 0:n_rot:2]
    x1 = x[..., 1:n_rot:2]
    out[..., 0:n_rot:2] = x0 * cos - x1 * sin
    out[..., 1:n_rot:2] = x0 * sin + x1 * cos
    return out


@dataclass
class Layer:
    attn_norm: np.ndarray
    wq: np.ndarray
    wk: np.ndarray
    wv: np.ndarray
    wo: np.ndarray
    ffn_norm: np.ndarray
    w_gate: np.ndarray
    w_up: np.ndarray
    w_down: np.ndarray


class KVCache:
    """Per-layer K and V (already RoPE'd) for the positions seen so far."""

    def __init__(self, n_layer: int):
        self.k: list[np.ndarray | None] = [None] * n_layer
        self.v: list[np.ndarray | None] = [None] * n_layer
        self.n_past = 0


class LlamaModel:
    def __init__(self, path: str):
        self.path = path
        self.reader = GGUFReader(path)
        self.hp = read_hparams(self.reader)
        self.tensor_types = {t.name: QT(t.tensor_type).name for t in self.reader.tensors}
        w = {t.name: load_tensor(t) for t in self.reader.tensors}
        hp = self.hp

        self.tok_embd = w["token_embd.weight"]  # (n_vocab, n_embd)
        assert self.tok_embd.shape == (hp.n_vocab, hp.n_embd), self.tok_embd.shape
        self.output_norm = w["output_norm.weight"]
        # Tied embeddings: no output.weight -> reuse token_embd as the LM head.
        self.tied = "output.weight" not in w
        self.output = self.tok_embd if self.tied else w["output.weight"]

        kv_dim = hp.head_dim * hp.n_head_kv
        self.layers = []
        for il in range(hp.n_layer):
            p = f"blk.{il}."
            layer = Layer(
                attn_norm=w[p + "attn_norm.weight"],
                wq=w[p + "attn_q.weight"],
                wk=w[p + "attn_k.weight"],
                wv=w[p + "attn_v.weight"],
                wo=w[p + "attn_output.weight"],
                ffn_norm=w[p + "ffn_norm.weight"],
                w_gate=w[p + "ffn_gate.weight"],
                w_up=w[p + "ffn_up.weight"],
                w_down=w[p + "ffn_down.weight"],
            )
            # Catch shape-convention mistakes early: (out, in) everywhere.
            assert layer.wq.shape == (hp.n_embd, hp.n_embd)
            assert layer.wk.shape == (kv_dim, hp.n_embd)
            assert layer.wv.shape == (kv_dim, hp.n_embd)
            assert layer.wo.shape == (hp.n_embd, hp.n_embd)
            assert layer.w_gate.shape == (hp.n_ff, hp.n_embd)
            assert layer.w_up.shape == (hp.n_ff, hp.n_embd)
            assert layer.w_down.shape == (hp.n_embd, hp.n_ff)
            self.layers.append(layer)

    # ------------------------------------------------------------------ forward

    def _attention(self, il: int, x: np.ndarray, positions: np.ndarray, cache: KVCache) -> np.ndarray:
        hp, L = self.hp, self.layers[il]
        n, hd = x.shape[0], hp.head_dim

        # Row-vector form: x (n, n_embd) @ W.T == (W @ x_t) for each token.
        q = (x @ L.wq.T).reshape(n, hp.n_head, hd)
        k = (x @ L.wk.T).reshape(n, hp.n_head_kv, hd)
        v = (x @ L.wv.T).reshape(n, hp.n_head_kv, hd)
        q = rope_normal(q, positions, hp)
        k = rope_normal(k, positions, hp)

        if cache.k[il] is not None:
            k = np.concatenate([cache.k[il], k], axis=0)
            v = np.concatenate([cache.v[il], v], axis=0)
        cache.k[il], cache.v[il] = k, v
        n_kv = k.shape[0]

        # Causal mask: query at absolute position p sees keys 0..p.
        key_pos = np.arange(n_kv)
        mask = key_pos[None, :] > positions[:, None]  # (n, n_kv)

        group = hp.n_head // hp.n_head_kv  # GQA: q head h uses kv head h // group
        scale = np.float32(1.0 / np.sqrt(hd))
        out = np.empty((n, hp.n_head, hd), dtype=np.float32)
        for h in range(hp.n_head):
            kh = k[:, h // group, :]  # (n_kv, hd)
            vh = v[:, h // group, :]
            scores = (q[:, h, :] @ kh.T) * scale  # (n, n_kv)
            scores = np.where(mask, np.float32(-np.inf), scores)
            scores = scores - scores.max(axis=-1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=-1, keepdims=True)
            out[:, h, :] = p @ vh
        return out.reshape(n, hp.n_embd) @ L.wo.T

    def forward(self, tokens, cache: KVCache | None = None) -> np.ndarray:
        """Run `tokens` (appended after whatever `cache` holds).

        Returns float32 logits of shape (len(tokens), n_vocab), one row per
        input position. Pass a KVCache to continue incrementally.
        """
        hp = self.hp
        if cache is None:
            cache = KVCache(hp.n_layer)
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or len(tokens) == 0:
            raise ValueError("need a non-empty 1-D token sequence")
        if tokens.min() < 0 or tokens.max() >= hp.n_vocab:
            raise ValueError("token id out of range")
        positions = np.arange(cache.n_past, cache.n_past + len(tokens))

        x = self.tok_embd[tokens].astype(np.float32)  # (n, n_embd)
        for il, L in enumerate(self.layers):
            h = rms_norm(x, L.attn_norm, hp.rms_eps)
            x = x + self._attention(il, h, positions, cache)
            h = rms_norm(x, L.ffn_norm, hp.rms_eps)
            ff = silu(h @ L.w_gate.T) * (h @ L.w_up.T)
            x = x + ff @ L.w_down.T
        cache.n_past += len(tokens)

        x = rms_norm(x, self.output_norm, hp.rms_eps)
        return (x @ self.output.T).astype(np.float32)

    def logits_all(self, tokens) -> np.ndarray:
        """Logits for every position of `tokens` in one causal pass."""
        return self.forward(tokens)

    def generate_greedy(self, prompt, n_new: int, stop_ids=()):
        """Greedy decode with a KV cache.

        Returns (generated_ids, step_logits) where step_logits[i] is the full
        logit vector that produced generated_ids[i]. Ties in argmax resolve to
        the lowest id (numpy argmax), like llama.cpp's greedy sampler.
        Stops early only if a token in `stop_ids` is produced (it is included).
        """
        cache = KVCache(self.hp.n_layer)
        logits = self.forward(prompt, cache)[-1]
        out, step_logits = [], []
        for _ in range(n_new):
            tok = int(np.argmax(logits))
            out.append(tok)
            step_logits.append(logits)
            if tok in stop_ids:
                break
            logits = self.forward([tok], cache)[-1]
        return out, step_logits


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    model = LlamaModel(argv[1])
    ids = [int(t) for t in argv[2:]]
    gen, _ = model.generate_greedy(ids, 20)
    print(gen)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
