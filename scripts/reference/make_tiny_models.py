"""Write two tiny, deterministic, random-weight Llama GGUFs for unit tests.

    Tests/ColonyModelsTests/Fixtures/tiny-llama-tied.gguf
    Tests/ColonyModelsTests/Fixtures/tiny-llama-untied.gguf

Both: vocab 320, dim 64, 4 heads / 2 kv heads (head_dim 16), ffn 128,
2 layers, ctx 256, rms eps 1e-5. The tensor types are mixed on purpose so a
loader must handle every dtype Colony supports (see TENSOR_TYPES below).

  tied   : rope base 10000, no output.weight (LM head = token_embd)
  untied : rope base 500000, linear rope scaling factor 2.0,
           output.weight in F16

The tokenizer is a real (tiny) byte-level GPT-2 BPE: 3 control tokens, the
256 byte symbols, then 61 merges learned deterministically from CORPUS with
the same pre-tokenizer as SmolLM2 ("smollm"), so vocab == 320 exactly.

Usage:  python make_tiny_models.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
from collections import Counter

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFWriter, RopeScalingType, TokenType
from gguf.quants import quantize
from tokenizers import pre_tokenizers

from tokenizer_ref import bytes_to_unicode

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "Tests", "ColonyModelsTests", "Fixtures"))

SEED = 20240607

N_VOCAB = 320
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = N_EMBD // N_HEAD
N_FF = 128
N_LAYER = 2
N_CTX = 256
RMS_EPS = 1e-5

CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
N_MERGES = N_VOCAB - len(CONTROL_TOKENS) - 256  # 61

# Same ChatML template string as SmolLM2-135M-Instruct's GGUF.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Text the 61 merges are learned from. Changing it changes the vocab (and
# therefore every tiny fixture), so leave it alone unless regenerating all.
CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.
There is the thing: the theory of the other one is in the house, then the
end. She said that this is the best thing in the world and then went to the
store to get something to eat. In the morning the sun is bright and the sea
is calm; in the evening the wind comes in from the west.
You are a helpful assistant. The user says hello, the assistant answers.
I'm sure it's fine, isn't it? We'll see what they've done and what you'd do.
"""

# Tensor type per weight. Every supported dtype appears at least once.
TENSOR_TYPES = {
    "token_embd": QT.Q8_0,
    "attn_norm": QT.F32,
    "attn_q": QT.Q4_0,
    "attn_k": QT.Q4_1,
    "attn_v": QT.Q8_0,
    "attn_output": QT.F16,
    "ffn_norm": QT.F32,
    "ffn_gate": QT.Q4_1,
    "ffn_up": QT.BF16,
    "ffn_down": [QT.Q4_0, QT.F32],  # per layer
    "output_norm": QT.F32,
    "output": QT.F16,  # untied model only
}


def learn_merges(corpus: str, n_merges: int, base_symbols: set[str]) -> tuple[list[str], list[str]]:
    """Plain BPE training, deterministic: most frequent adjacent pair wins,
    ties broken by the lexicographically smallest (left, right) pair.
    Returns (new_tokens, merges) with merges in GGUF "left right" format."""
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    words = Counter(piece for piece, _ in pre.pre_tokenize_str(corpus))
    seqs = {w: list(w) for w in words}
    known = set(base_symbols)
    new_tokens, merges = [], []
    while len(new_tokens) < n_merges:
        pairs: Counter = Counter()
        for w, syms in seqs.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += words[w]
        if not pairs:
            raise RuntimeError("corpus too small for the requested number of merges")
        best = min(pairs, key=lambda p: (-pairs[p], p))
        a, b = best
        merged = a + b
        # Two different merges can yield the same string in general BPE; we
        # want a one-to-one merge->token table, so that must not happen here.
        assert merged not in known, f"merge {best} re-creates {merged!r}"
        known.add(merged)
        new_tokens.append(merged)
        merges.append(f"{a} {b}")
        for w, syms in seqs.items():
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            seqs[w] = out
    return new_tokens, merges


def build_vocab():
    byte_syms = [bytes_to_unicode()[b] for b in range(256)]
    new_tokens, merges = learn_merges(CORPUS, N_MERGES, set(byte_syms))
    tokens = CONTROL_TOKENS + byte_syms + new_tokens
    types = [TokenType.CONTROL] * len(CONTROL_TOKENS) + [TokenType.NORMAL] * (256 + len(new_tokens))
    assert len(tokens) == N_VOCAB and len(set(tokens)) == N_VOCAB
    return tokens, types, merges


def add_weight(w: GGUFWriter, name: str, data: np.ndarray, qtype: QT) -> None:
    """data has numpy shape (n_out, n_in) == GGUF shape [n_in, n_out]."""
    data = data.astype(np.float32)
    q = quantize(data, qtype)
    if qtype in (QT.F32, QT.F16):
        # Plain float arrays: the writer infers the type from the numpy dtype.
        w.add_tensor(name, q)
    else:
        # quantize() returns raw uint8 blocks of shape (n_out, bytes_per_row);
        # with raw_dtype set, the writer converts the byte shape back into the
        # element shape. (BF16 goes this way too: numpy has no bfloat16, so it
        # comes back as uint8 pairs, and without raw_dtype the writer would
        # refuse it.)
        w.add_tensor(name, q, raw_dtype=qtype)


def make_model(path: str, *, tied: bool, rope_base: float, linear_scale: float | None, seed: int) -> None:
    rng = np.random.default_rng(seed)

    def normal(shape, std):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def norm_weight():
        return np.float32(1.0) + normal((N_EMBD,), 0.1)

    tokens, types, merges = build_vocab()
    w = GGUFWriter(path, "llama")  # also writes general.architecture = "llama"
    w.add_name("Colony tiny llama (tied)" if tied else "Colony tiny llama (untied)")
    w.add_quantization_version(2)
    w.add_vocab_size(N_VOCAB)
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_feed_forward_length(N_FF)
    w.add_block_count(N_LAYER)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_freq_base(rope_base)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_rope_dimension_count(HEAD_DIM)
    if linear_scale is not None:
        w.add_rope_scaling_type(RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(linear_scale)

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_add_space_prefix(False)
    w.add_chat_template(CHAT_TEMPLATE)

    T = TENSOR_TYPES
    # Scales: embedding/LM-head std 0.1 keeps logits O(1); projections use
    # ~1.6/sqrt(n_in) so each block visibly changes the residual stream (and
    # the greedy continuation is not just "repeat the input token").
    add_weight(w, "token_embd.weight", normal((N_VOCAB, N_EMBD), 0.1 if tied else 0.5), T["token_embd"])
    kv = N_HEAD_KV * HEAD_DIM
    s_in = 1.6 / np.sqrt(N_EMBD)
    s_ff = 1.6 / np.sqrt(N_FF)
    for il in range(N_LAYER):
        p = f"blk.{il}."
        add_weight(w, p + "attn_norm.weight", norm_weight(), T["attn_norm"])
        add_weight(w, p + "attn_q.weight", normal((N_EMBD, N_EMBD), s_in), T["attn_q"])
        add_weight(w, p + "attn_k.weight", normal((kv, N_EMBD), s_in), T["attn_k"])
        add_weight(w, p + "attn_v.weight", normal((kv, N_EMBD), s_in), T["attn_v"])
        add_weight(w, p + "attn_output.weight", normal((N_EMBD, N_EMBD), s_in), T["attn_output"])
        add_weight(w, p + "ffn_norm.weight", norm_weight(), T["ffn_norm"])
        add_weight(w, p + "ffn_gate.weight", normal((N_FF, N_EMBD), s_in), T["ffn_gate"])
        add_weight(w, p + "ffn_up.weight", normal((N_FF, N_EMBD), s_in), T["ffn_up"])
        add_weight(w, p + "ffn_down.weight", normal((N_EMBD, N_FF), s_ff), T["ffn_down"][il])
    add_weight(w, "output_norm.weight", norm_weight(), T["output_norm"])
    if not tied:
        add_weight(w, "output.weight", normal((N_VOCAB, N_EMBD), 0.1), T["output"])

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


MODELS = [
    # file name, kwargs
    ("tiny-llama-tied.gguf", dict(tied=True, rope_base=10000.0, linear_scale=None, seed=SEED)),
    ("tiny-llama-untied.gguf", dict(tied=False, rope_base=500000.0, linear_scale=2.0, seed=SEED + 1)),
]


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else DEFAULT_OUT
    os.makedirs(out_dir, exist_ok=True)
    for fname, kw in MODELS:
        path = os.path.join(out_dir, fname)
        make_model(path, **kw)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
