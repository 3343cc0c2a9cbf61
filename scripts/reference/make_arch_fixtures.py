"""Tiny random-weight models for seven architectures, as GGUF + HF reference logits.

For each case below this script
  1. builds a tiny HuggingFace `transformers` model from a config object
     (no hub access), with deterministic random weights (fixed seeds);
  2. rounds every 2-D weight matrix to float16 inside the HF model, so the
     GGUF can store the matrices as F16 with no further rounding;
  3. writes the model to GGUF with PyPI `gguf` the way llama.cpp's
     convert_hf_to_gguf.py (vendored llama.cpp, conversion/*.py) does:
     same tensor names (gguf.get_tensor_name_map), same metadata keys,
     the Llama Q/K row permutation, Gemma's norm +1, the Llama-3
     `rope_freqs.weight` tensor, F32 for norms/biases/1-D tensors and
     F16 for the matrices (`--outtype f16`);
  4. copies tokenizer metadata from a llama.cpp `models/ggml-vocab-*.gguf`,
     truncated to the model's small vocabulary;
  5. runs the HF model once over a 40-token prompt in float32 (eager
     attention) and records the logits at every position, plus the max
     |float64 - float32| difference of the same forward in float64.

Outputs (Tests/ColonyModelsTests/Fixtures/architectures/):
  NAME.gguf for each case, and architectures.json for all cases.

Usage (from the repository root):
  python3 scripts/reference/make_arch_fixtures.py [--out DIR] [--llamacpp DIR]
      [--only NAME[,NAME]] [--verify-convert]

--llamacpp defaults to .build-llamacpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp
(./scripts/fetch-vocab-tests downloads it); only its models/ggml-vocab-*.gguf
files are read, unless --verify-convert is given: then, for each case, the
HF model is also saved with save_pretrained and converted with the vendored
convert_hf_to_gguf.py code (vocab step skipped), and every non-tokenizer
key and every tensor of that output is compared with ours.

Needs: torch, transformers, gguf==0.19.0, numpy (see requirements.txt).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers
import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "Tests", "ColonyModelsTests", "Fixtures", "architectures")
DEFAULT_LLAMACPP = os.path.join(ROOT, ".build-llamacpp", "src", "llama_cpp_python-0.3.36", "vendor", "llama.cpp")

N_VOCAB = 384
N_PROMPT = 40
MAX_POS = 128

# --------------------------------------------------------------------------
# cases


def _cases():
    T = transformers
    common = dict(vocab_size=N_VOCAB, hidden_size=64, intermediate_size=128,
                  max_position_embeddings=MAX_POS, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    return [
        dict(
            name="llama3", arch="llama", vocab="llama-bpe", seed=101,
            hf_arch="LlamaForCausalLM", cfg_cls=T.LlamaConfig, model_cls=T.LlamaForCausalLM,
            cfg=dict(common, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                     rms_norm_eps=1e-5, tie_word_embeddings=False,
                     rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                      "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 64}),
            features=["rope llama3 scaling (rope_freqs.weight)", "GQA 4/2", "llama Q/K permutation",
                      "untied output", "rope NORM"],
        ),
        dict(
            name="qwen2", arch="qwen2", vocab="qwen2", seed=202,
            hf_arch="Qwen2ForCausalLM", cfg_cls=T.Qwen2Config, model_cls=T.Qwen2ForCausalLM,
            cfg=dict(common, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                     rms_norm_eps=1e-6, tie_word_embeddings=True,
                     rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
            features=["attention bias (q/k/v)", "GQA 4/2", "tied embeddings", "rope NEOX"],
        ),
        dict(
            name="qwen3", arch="qwen3", vocab="qwen2", seed=303,
            hf_arch="Qwen3ForCausalLM", cfg_cls=T.Qwen3Config, model_cls=T.Qwen3ForCausalLM,
            cfg=dict(common, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                     rms_norm_eps=1e-6, tie_word_embeddings=False,
                     rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
            features=["QK RMSNorm per head", "head_dim != hidden/heads", "GQA 4/2", "untied output", "rope NEOX"],
        ),
        dict(
            name="mistral", arch="llama", vocab="llama-spm", seed=404,
            hf_arch="MistralForCausalLM", cfg_cls=T.MistralConfig, model_cls=T.MistralForCausalLM,
            cfg=dict(common, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                     rms_norm_eps=1e-5, tie_word_embeddings=False, sliding_window=8,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
            # convert_hf_to_gguf (LlamaModel) does not write the sliding window for Mistral;
            # we add it so a runtime can apply it (llama.cpp's llama arch ignores it).
            extra_keys={"llama.attention.sliding_window": (8, VT.UINT32)},
            features=["sliding window 8 on all layers (HF)", "llama Q/K permutation", "GQA 4/2",
                      "untied output", "rope NORM", "SPM vocab"],
        ),
        dict(
            name="gemma2", arch="gemma2", vocab="phi-3", seed=505,
            hf_arch="Gemma2ForCausalLM", cfg_cls=T.Gemma2Config, model_cls=T.Gemma2ForCausalLM,
            cfg=dict(common, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                     rms_norm_eps=1e-6, tie_word_embeddings=True, sliding_window=8,
                     query_pre_attn_scalar=16, attn_logit_softcapping=4.0, final_logit_softcapping=3.0,
                     hidden_activation="gelu_pytorch_tanh",
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
            # query_pre_attn_scalar (16) != head_dim (32); convert does not record it and
            # llama.cpp's gemma2 uses 1/sqrt(head_dim) unless n_layer == 46 (27B).
            extra_keys={"gemma2.attention.scale": (16 ** -0.5, VT.FLOAT32)},
            qk_gain=2.0,
            features=["embedding * sqrt(hidden)", "GeGLU gelu-tanh", "attn logit softcap 4",
                      "final logit softcap 3", "post-attn and post-ffn norms", "norm weights +1",
                      "query_pre_attn_scalar 16 != head_dim 32", "sliding window 8 on even layers",
                      "tied embeddings", "rope NEOX"],
        ),
        dict(
            name="gemma3", arch="gemma3", vocab="phi-3", seed=606, embed_std=0.25,
            hf_arch="Gemma3ForCausalLM", cfg_cls=T.Gemma3TextConfig, model_cls=T.Gemma3ForCausalLM,
            cfg=dict(common, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                     rms_norm_eps=1e-6, tie_word_embeddings=True, sliding_window=8,
                     query_pre_attn_scalar=32, hidden_activation="gelu_pytorch_tanh",
                     rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                      "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}}),
            features=["embedding * sqrt(hidden)", "GeGLU gelu-tanh", "QK RMSNorm (+1)",
                      "post-attn and post-ffn norms", "norm weights +1",
                      "sliding window 8 on layers 0-4, global layer 5",
                      "rope base 1e4 on SWA layers, 1e6 on global", "tied embeddings", "rope NEOX"],
        ),
        dict(
            name="phi3", arch="phi3", vocab="phi-3", seed=707,
            hf_arch="Phi3ForCausalLM", cfg_cls=T.Phi3Config, model_cls=T.Phi3ForCausalLM,
            cfg=dict(common, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                     rms_norm_eps=1e-5, tie_word_embeddings=False, original_max_position_embeddings=MAX_POS,
                     rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
            features=["fused attn_qkv (q,k,v rows)", "fused gate_up in ffn_up (gate rows first)",
                      "GQA 4/2", "untied output", "rope NEOX", "SPM vocab"],
        ),
    ]


# --------------------------------------------------------------------------
# weights


def init_weights(model: torch.nn.Module, case: dict) -> None:
    gemma = case["arch"].startswith("gemma")
    g = torch.Generator().manual_seed(case["seed"])
    qk_gain = case.get("qk_gain", 1.0)
    tied = model.config.tie_word_embeddings
    with torch.no_grad():
        seen = set()
        for name, p in model.named_parameters(remove_duplicate=True):
            if id(p) in seen:
                continue
            seen.add(id(p))
            shape = p.shape
            r = torch.randn(shape, generator=g, dtype=torch.float64)
            if "norm" in name:
                # Gemma stores w with output = x * (1 + w); others x * w
                v = (0.0 if gemma else 1.0) + 0.15 * r
            elif name.endswith(".bias"):
                v = 0.5 * r
            elif "embed_tokens" in name:
                v = case.get("embed_std", 0.5 if (tied or gemma) else 1.0) * r
            elif name == "lm_head.weight":
                v = 0.5 * r
            else:
                fan_in = shape[1]
                gain = qk_gain if any(s in name for s in ("q_proj", "k_proj")) else 1.0
                v = gain / math.sqrt(fan_in) * r
            p.copy_(v.to(p.dtype))
        # round matrices to f16 so the GGUF's F16 copy is exact
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.copy_(p.to(torch.float16).to(p.dtype))


# --------------------------------------------------------------------------
# vocab


def truncated_vocab(path: str, n: int):
    """Tokenizer KV pairs of a llama.cpp vocab GGUF, cut to the first n tokens."""
    r = gguf.GGUFReader(path)
    kv = {}
    info = {"source": os.path.basename(path)}
    fields = r.fields
    tokens = [bytes(fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in fields["tokenizer.ggml.tokens"].data]
    info["original_n_tokens"] = len(tokens)
    kept = tokens[:n]
    kept_set = set(kept)
    kv["tokenizer.ggml.model"] = (fields["tokenizer.ggml.model"].contents(), VT.STRING)
    if "tokenizer.ggml.pre" in fields:
        kv["tokenizer.ggml.pre"] = (fields["tokenizer.ggml.pre"].contents(), VT.STRING)
    kv["tokenizer.ggml.tokens"] = (kept, VT.ARRAY, VT.STRING)
    if "tokenizer.ggml.scores" in fields:
        kv["tokenizer.ggml.scores"] = ([float(x) for x in fields["tokenizer.ggml.scores"].contents()[:n]], VT.ARRAY, VT.FLOAT32)
    kv["tokenizer.ggml.token_type"] = ([int(x) for x in fields["tokenizer.ggml.token_type"].contents()[:n]], VT.ARRAY, VT.INT32)
    if "tokenizer.ggml.merges" in fields:
        merges = fields["tokenizer.ggml.merges"].contents()
        keep = []
        for m in merges:
            a, b = m.split(" ", 1)
            if a in kept_set and b in kept_set and (a + b) in kept_set:
                keep.append(m)
        kv["tokenizer.ggml.merges"] = (keep, VT.ARRAY, VT.STRING)
        info["original_n_merges"] = len(merges)
        info["kept_n_merges"] = len(keep)
    dropped = {}
    for key in sorted(fields):
        if not key.startswith("tokenizer.ggml.") or key in kv:
            continue
        f = fields[key]
        val = f.contents()
        vt = VT(f.types[0])
        if key.endswith("_token_id"):
            if int(val) >= n:
                dropped[key] = int(val)
                continue
        kv[key] = (val, vt)
    info["kept_n_tokens"] = n
    info["dropped_special_ids"] = dropped
    if "tokenizer.chat_template" in fields:
        info["dropped_chat_template"] = True
    return kv, info


# --------------------------------------------------------------------------
# conversion (mirrors conversion/base.py TextModel + the per-arch classes)


def llama_permute(w: torch.Tensor, n_head: int, n_head_kv: int | None) -> torch.Tensor:
    # conversion/llama.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama3_rope_factors(rp: dict, hp: dict) -> torch.Tensor:
    # conversion/llama.py LlamaModel.generate_extra_tensors
    base = rp.get("rope_theta", 10000.0)
    dim = hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor = rp.get("factor", 8.0)
    lo = rp.get("low_freq_factor", 1.0)
    hi = rp.get("high_freq_factor", 4.0)
    old = rp.get("original_max_position_embeddings", 8192)
    lo_wl, hi_wl = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < hi_wl:
            out.append(1)
        elif wl > lo_wl:
            out.append(factor)
        else:
            s = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - s) / factor + s))
    return torch.tensor(out, dtype=torch.float32)


def gguf_metadata(case: dict, hp: dict) -> list[tuple[str, object, VT]]:
    """Non-tokenizer metadata, in the order convert writes it (later wins)."""
    A = case["arch"]
    kv: dict[str, tuple] = {}

    def put(key, val, vt):
        kv[key.format(arch=A)] = (val, vt)

    K = gguf.Keys
    rp_all = hp.get("rope_parameters") or {}
    rp = rp_all.get("full_attention", rp_all)

    def text_model_params():
        # conversion/base.py TextModel.set_gguf_parameters
        put(K.LLM.BLOCK_COUNT, hp["num_hidden_layers"], VT.UINT32)
        put(K.LLM.CONTEXT_LENGTH, hp["max_position_embeddings"], VT.UINT32)
        put(K.LLM.EMBEDDING_LENGTH, hp["hidden_size"], VT.UINT32)
        put(K.LLM.FEED_FORWARD_LENGTH, hp["intermediate_size"], VT.UINT32)
        put(K.Attention.HEAD_COUNT, hp["num_attention_heads"], VT.UINT32)
        put(K.Attention.HEAD_COUNT_KV, hp["num_key_value_heads"], VT.UINT32)
        if rp.get("rope_theta") is not None:
            put(K.Rope.FREQ_BASE, float(rp["rope_theta"]), VT.FLOAT32)
        if (local := rp_all.get("sliding_attention", {}).get("rope_theta")) is not None:
            put(K.Rope.FREQ_BASE_SWA, float(local), VT.FLOAT32)
        put(K.Attention.LAYERNORM_RMS_EPS, float(hp["rms_norm_eps"]), VT.FLOAT32)
        if hp.get("head_dim") is not None:
            put(K.Attention.KEY_LENGTH, hp["head_dim"], VT.UINT32)
            put(K.Attention.VALUE_LENGTH, hp["head_dim"], VT.UINT32)
        put(K.General.FILE_TYPE, int(gguf.LlamaFileType.MOSTLY_F16), VT.UINT32)

    if A in ("llama", "qwen2", "qwen3"):
        text_model_params()
        if A == "llama":
            put(K.LLM.VOCAB_SIZE, hp["vocab_size"], VT.UINT32)
            rope_dim = hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"]
            put(K.Rope.DIMENSION_COUNT, rope_dim, VT.UINT32)
    elif A == "gemma2":
        # conversion/gemma.py Gemma2Model.set_gguf_parameters
        put(K.LLM.CONTEXT_LENGTH, hp["max_position_embeddings"], VT.UINT32)
        put(K.LLM.EMBEDDING_LENGTH, hp["hidden_size"], VT.UINT32)
        put(K.LLM.BLOCK_COUNT, hp["num_hidden_layers"], VT.UINT32)
        put(K.LLM.FEED_FORWARD_LENGTH, hp["intermediate_size"], VT.UINT32)
        put(K.Attention.HEAD_COUNT, hp["num_attention_heads"], VT.UINT32)
        put(K.Attention.HEAD_COUNT_KV, hp["num_key_value_heads"], VT.UINT32)
        put(K.Attention.LAYERNORM_RMS_EPS, float(hp["rms_norm_eps"]), VT.FLOAT32)
        put(K.Attention.KEY_LENGTH, hp["head_dim"], VT.UINT32)
        put(K.Attention.VALUE_LENGTH, hp["head_dim"], VT.UINT32)
        put(K.General.FILE_TYPE, int(gguf.LlamaFileType.MOSTLY_F16), VT.UINT32)
        put(K.LLM.ATTN_LOGIT_SOFTCAPPING, float(hp["attn_logit_softcapping"]), VT.FLOAT32)
        put(K.LLM.FINAL_LOGIT_SOFTCAPPING, float(hp["final_logit_softcapping"]), VT.FLOAT32)
        put(K.Attention.SLIDING_WINDOW, hp["sliding_window"], VT.UINT32)
    elif A == "gemma3":
        # conversion/gemma.py Gemma3Model.set_gguf_parameters (after TextModel's)
        text_model_params()
        put(K.LLM.CONTEXT_LENGTH, hp.get("max_position_embeddings", 131072), VT.UINT32)
        put(K.Attention.HEAD_COUNT, hp.get("num_attention_heads", 8), VT.UINT32)
        put(K.Attention.LAYERNORM_RMS_EPS, float(hp.get("rms_norm_eps", 1e-6)), VT.FLOAT32)
        put(K.Attention.KEY_LENGTH, hp.get("head_dim", 256), VT.UINT32)
        put(K.Attention.VALUE_LENGTH, hp.get("head_dim", 256), VT.UINT32)
        put(K.Rope.FREQ_BASE, float(rp.get("rope_theta", 1_000_000.0)), VT.FLOAT32)
        assert hp.get("attn_logit_softcapping") is None
        if hp.get("final_logit_softcapping"):
            put(K.LLM.FINAL_LOGIT_SOFTCAPPING, float(hp["final_logit_softcapping"]), VT.FLOAT32)
        if hp.get("sliding_window_pattern") != 1:
            put(K.Attention.SLIDING_WINDOW, hp["sliding_window"], VT.UINT32)
        put(K.Attention.HEAD_COUNT_KV, hp.get("num_key_value_heads", 4), VT.UINT32)
    elif A == "phi3":
        # conversion/phi.py Phi3MiniModel.set_gguf_parameters
        n_embd, n_head = hp["hidden_size"], hp["num_attention_heads"]
        rot_pct = rp.get("partial_rotary_factor", 1.0)
        put(K.LLM.CONTEXT_LENGTH, hp["max_position_embeddings"], VT.UINT32)
        put(K.Rope.SCALING_ORIG_CTX_LEN, hp["original_max_position_embeddings"], VT.UINT32)
        put(K.LLM.EMBEDDING_LENGTH, n_embd, VT.UINT32)
        put(K.LLM.FEED_FORWARD_LENGTH, hp["intermediate_size"], VT.UINT32)
        put(K.LLM.BLOCK_COUNT, hp["num_hidden_layers"], VT.UINT32)
        put(K.Attention.HEAD_COUNT, n_head, VT.UINT32)
        put(K.Attention.HEAD_COUNT_KV, hp["num_key_value_heads"], VT.UINT32)
        put(K.Attention.LAYERNORM_RMS_EPS, float(hp["rms_norm_eps"]), VT.FLOAT32)
        put(K.Rope.DIMENSION_COUNT, int(rot_pct * n_embd) // n_head, VT.UINT32)
        put(K.Rope.FREQ_BASE, float(rp["rope_theta"]), VT.FLOAT32)
        put(K.General.FILE_TYPE, int(gguf.LlamaFileType.MOSTLY_F16), VT.UINT32)
        put(K.Attention.SLIDING_WINDOW, hp.get("sliding_window") or 0, VT.UINT32)
    else:
        raise ValueError(A)
    return [(k, v[0], v[1]) for k, v in kv.items()]


def gguf_tensors(case: dict, model: torch.nn.Module, hp: dict):
    """[(gguf_name, np.ndarray, QT)] as convert --outtype f16 would write them."""
    A = case["arch"]
    arch_enum = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[A]
    tmap = gguf.get_tensor_name_map(arch_enum, hp["num_hidden_layers"])
    out = []
    rp_all = hp.get("rope_parameters") or {}
    rp = rp_all.get("full_attention", rp_all)
    # generate_extra_tensors come first
    if A == "llama" and rp.get("rope_type", "").lower() == "llama3":
        out.append(("rope_freqs.weight", llama3_rope_factors(rp, hp)))
    sd = model.state_dict()
    for name, t in sd.items():
        if name.endswith(".rotary_emb.inv_freq"):
            continue
        if name == "lm_head.weight" and (hp.get("tie_word_embeddings") or A == "gemma2"):
            continue  # save_pretrained drops tied weights; Gemma2Model filters lm_head
        t = t.detach().clone().to(torch.float32)
        if A == "llama":
            n_head, n_kv = hp["num_attention_heads"], hp["num_key_value_heads"]
            if name.endswith(("q_proj.weight", "q_proj.bias")):
                t = llama_permute(t, n_head, n_head)
            if name.endswith(("k_proj.weight", "k_proj.bias")):
                t = llama_permute(t, n_head, n_kv)
        if A.startswith("gemma") and name.endswith("norm.weight"):
            t = t + 1
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ValueError(f"cannot map {name}")
        out.append((new, t))
    res = []
    for new, t in out:
        data = t.numpy()
        if data.ndim <= 1 or new.endswith("_norm.weight") or not new.endswith(".weight"):
            res.append((new, data.astype(np.float32), QT.F32))
        else:
            h = data.astype(np.float16)
            assert np.array_equal(h.astype(np.float32), data), f"{new} not exactly f16"
            res.append((new, h, QT.F16))
    return res


def write_gguf(path: str, case: dict, meta, vocab_kv, tensors) -> None:
    w = gguf.GGUFWriter(path, case["arch"])
    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(case["name"])
    for k, v, vt in meta:
        w.add_key_value(k, v, vt)
    for k, (v, vt) in case.get("extra_keys", {}).items():
        w.add_key_value(k, v, vt)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for k, spec in vocab_kv.items():
        if spec[1] == VT.ARRAY:
            w.add_key_value(k, spec[0], VT.ARRAY, sub_type=spec[2])
        else:
            w.add_key_value(k, spec[0], spec[1])
    if case["arch"].startswith("gemma"):
        w.add_add_space_prefix(False)  # Gemma2Model/Gemma3Model.set_vocab (SPM path)
    for name, data, qt in tensors:
        w.add_tensor(name, data, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def check_gguf(path: str, tensors) -> None:
    r = gguf.GGUFReader(path)
    got = {t.name: t for t in r.tensors}
    assert set(got) == {n for n, _, _ in tensors}, (set(got) ^ {n for n, _, _ in tensors})
    for name, data, qt in tensors:
        t = got[name]
        assert t.tensor_type == qt, (name, t.tensor_type, qt)
        assert tuple(int(x) for x in t.shape) == tuple(reversed(data.shape)), (name, t.shape, data.shape)
        assert np.array_equal(np.asarray(t.data).reshape(data.shape), data), name


# --------------------------------------------------------------------------
# reference forward


class _TanhProbe:
    """Records |x| for torch.tanh(x) calls (the soft-cap inputs x/cap)."""

    def __init__(self):
        self.calls = []
        self._orig = torch.tanh

    def __enter__(self):
        orig = self._orig

        def tanh(x, *a, **k):
            self.calls.append((float(x.abs().max()), float((x.abs() > 1.0).double().mean()), tuple(x.shape)))
            return orig(x, *a, **k)
        torch.tanh = tanh
        return self

    def __exit__(self, *exc):
        torch.tanh = self._orig


def sig6(x: float) -> float:
    return float(f"{x:.6g}")


def build_case(case: dict, vocab_dir: str, out_dir: str, verify_convert: str | None):
    torch.manual_seed(case["seed"])
    cfg = case["cfg_cls"](**case["cfg"])
    cfg._attn_implementation = "eager"
    model = case["model_cls"](cfg)
    model.eval()
    init_weights(model, case)
    if cfg.tie_word_embeddings:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()

    hp = cfg.to_dict()
    rng = np.random.default_rng(case["seed"])
    tokens = [int(x) for x in rng.integers(0, N_VOCAB, size=N_PROMPT)]
    ids = torch.tensor([tokens], dtype=torch.long)

    with torch.no_grad(), _TanhProbe() as probe:
        logits = model(input_ids=ids, use_cache=False).logits[0].float()
    m64 = copy.deepcopy(model).to(torch.float64)
    with torch.no_grad():
        logits64 = m64(input_ids=ids, use_cache=False).logits[0]
    f64_err = float((logits64 - logits.double()).abs().max())

    swa_effect = None
    if hp.get("sliding_window"):
        # how much the window matters: same weights, window wider than the prompt
        wide = copy.deepcopy(model)
        wide.config.sliding_window = 10 ** 6
        for mod in wide.modules():
            if hasattr(mod, "sliding_window") and mod.sliding_window:
                mod.sliding_window = 10 ** 6
        with torch.no_grad():
            lw = wide(input_ids=ids, use_cache=False).logits[0].float()
        d = (lw - logits).abs().max(dim=-1).values
        w = hp["sliding_window"]
        assert float(d[:w].max()) < 1e-4, "window changed logits inside the window"
        assert float(d[w:].min()) > 1e-3, "sliding window does not bind"
        swa_effect = {"max_abs_logit_change_without_window": sig6(float(d.max())),
                      "min_over_positions_ge_window": sig6(float(d[w:].min()))}

    softcap_stats = None
    if case["arch"] == "gemma2":
        n_layer = hp["num_hidden_layers"]
        attn = probe.calls[:n_layer]
        final = probe.calls[n_layer:]
        assert len(attn) == n_layer and len(final) == 1, probe.calls
        softcap_stats = {
            "attn_max_abs_over_cap_per_layer": [round(c[0], 4) for c in attn],
            "attn_fraction_over_cap_per_layer": [round(c[1], 4) for c in attn],
            "final_max_abs_over_cap": round(final[0][0], 4),
            "final_fraction_over_cap": round(final[0][1], 4),
        }
        assert all(c[0] > 1.0 for c in attn) and final[0][0] > 1.0, "soft caps do not bind"

    vocab_kv, vocab_info = truncated_vocab(os.path.join(vocab_dir, f"ggml-vocab-{case['vocab']}.gguf"), N_VOCAB)
    meta = gguf_metadata(case, hp)
    tensors = gguf_tensors(case, model, hp)
    path = os.path.join(out_dir, f"{case['name']}.gguf")
    write_gguf(path, case, meta, vocab_kv, tensors)
    check_gguf(path, tensors)

    if verify_convert:
        verify_against_convert(case, model, path, verify_convert)

    kv_np, w_np = _np_load(path)
    np_err = float(np.abs(np_forward(case["arch"], kv_np, w_np, tokens) - logits.double().numpy()).max())
    assert np_err < 1e-4, f"{case['name']}: numpy GGUF forward differs from HF by {np_err}"

    keys = ["architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
            "original_max_position_embeddings", "rms_norm_eps", "rope_parameters", "tie_word_embeddings",
            "attention_bias", "hidden_act", "hidden_activation", "sliding_window", "use_sliding_window",
            "layer_types", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping"]
    hp["architectures"] = [case["hf_arch"]]
    config = {k: hp[k] for k in keys if k in hp and hp[k] is not None}
    entry = {
        "name": case["name"],
        "file": f"{case['name']}.gguf",
        "architecture": case["arch"],
        "hf_class": case["hf_arch"],
        "features": case["features"],
        "config": config,
        "extra_gguf_keys_not_written_by_convert": {k: v[0] for k, v in case.get("extra_keys", {}).items()},
        "vocab": vocab_info,
        "tensors": {n: {"type": qt.name, "ne": list(reversed(d.shape))} for n, d, qt in tensors},
        "tokens": tokens,
        "f64_max_error": float(f"{f64_err:.3g}"),
        "numpy_gguf_forward_max_error": float(f"{np_err:.3g}"),
        "logits_abs_max": sig6(float(logits.abs().max())),
        "logits": [[sig6(v) for v in row] for row in logits.tolist()],
    }
    if swa_effect:
        entry["sliding_window_effect"] = swa_effect
    if softcap_stats:
        entry["softcap_stats"] = softcap_stats
    return entry



# --------------------------------------------------------------------------
# self-check: an independent float64 numpy forward that reads only the GGUF and
# follows llama.cpp's graph for each arch (src/models/*.cpp), with two stated
# departures where llama.cpp cannot match HF for these fixtures:
#   mistral: the window from llama.attention.sliding_window is applied (llama.cpp's
#            llama arch has no SWA); gemma2: the scale from gemma2.attention.scale is
#            used (llama.cpp uses 1/sqrt(head_dim) unless n_layer == 46).


def _np_load(path):
    r = gguf.GGUFReader(path)
    kv = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.ggml.tokens")}
    W = {}
    for t in r.tensors:
        a = np.asarray(t.data).astype(np.float64)
        W[t.name] = a.reshape([int(x) for x in reversed(t.shape)]) if a.ndim > 0 else a
    return kv, W


def rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, pos, base, neox, ff=None):
    # x: [T, H, d]
    T, H, d = x.shape
    i = np.arange(d // 2)
    theta = base ** (-2.0 * i / d)
    if ff is not None:
        theta = theta / ff
    ang = pos[:, None] * theta[None, :]  # T, d/2
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    y = x.copy()
    if neox:
        a, b = x[..., : d // 2], x[..., d // 2:]
        y[..., : d // 2] = a * c - b * s
        y[..., d // 2:] = a * s + b * c
    else:
        a, b = x[..., 0::2], x[..., 1::2]
        y[..., 0::2] = a * c - b * s
        y[..., 1::2] = a * s + b * c
    return y


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


def np_forward(arch, kv, W, toks):
    A = arch
    g = lambda k, d=None: kv.get(f"{A}.{k}", d)
    n_embd = g("embedding_length"); n_head = g("attention.head_count"); n_kv = g("attention.head_count_kv")
    n_layer = g("block_count"); eps = g("attention.layer_norm_rms_epsilon")
    hd = g("attention.key_length", n_embd // n_head)
    base = g("rope.freq_base", 10000.0); base_swa = g("rope.freq_base_swa", 10000.0)
    n_swa = g("attention.sliding_window", 0)
    T = len(toks); pos = np.arange(T, dtype=np.float64)
    x = W["token_embd.weight"][toks]
    if A.startswith("gemma"):
        x = x * np.float32(math.sqrt(n_embd))
    neox = A != "llama"
    if A == "gemma2":
        is_swa = [il % 2 < 1 for il in range(n_layer)]
    elif A == "gemma3":
        is_swa = [il % 6 < 5 for il in range(n_layer)] if n_swa else [False] * n_layer
    elif A == "llama" and n_swa:   # not llama.cpp: llama arch ignores SWA; HF Mistral applies it
        is_swa = [True] * n_layer
    else:
        is_swa = [False] * n_layer
    if A == "gemma2":
        scale = g("attention.scale")  # extra key; llama.cpp would use 1/sqrt(hd)
    else:
        scale = 1 / math.sqrt(hd)
    cap = g("attn_logit_softcapping") if A == "gemma2" else None
    ff = W.get("rope_freqs.weight")
    for il in range(n_layer):
        p = f"blk.{il}."
        h = rms(x, W[p + "attn_norm.weight"], eps)
        if p + "attn_qkv.weight" in W:
            qkv = h @ W[p + "attn_qkv.weight"].T
            q, k, v = np.split(qkv, [n_head * hd, n_head * hd + n_kv * hd], axis=-1)
        else:
            q = h @ W[p + "attn_q.weight"].T; k = h @ W[p + "attn_k.weight"].T; v = h @ W[p + "attn_v.weight"].T
            if p + "attn_q.bias" in W:
                q = q + W[p + "attn_q.bias"]; k = k + W[p + "attn_k.bias"]; v = v + W[p + "attn_v.bias"]
        q = q.reshape(T, n_head, hd); k = k.reshape(T, n_kv, hd); v = v.reshape(T, n_kv, hd)
        if p + "attn_q_norm.weight" in W:
            q = rms(q, W[p + "attn_q_norm.weight"], eps); k = rms(k, W[p + "attn_k_norm.weight"], eps)
        b = base_swa if (is_swa[il] and A.startswith("gemma")) else base
        q = rope(q, pos, b, neox, ff); k = rope(k, pos, b, neox, ff)
        rep = n_head // n_kv
        k = np.repeat(k, rep, axis=1); v = np.repeat(v, rep, axis=1)
        s = np.einsum("thd,shd->hts", q, k) * scale
        if cap:
            s = np.tanh(s / cap) * cap
        qi, ki = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
        mask = ki > qi
        if is_swa[il]:
            mask |= (qi - ki) >= n_swa
        s = np.where(mask[None], -np.inf, s)
        s = s - s.max(-1, keepdims=True); pr = np.exp(s); pr /= pr.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", pr, v).reshape(T, n_head * hd)
        o = o @ W[p + "attn_output.weight"].T
        if A.startswith("gemma"):
            o = rms(o, W[p + "post_attention_norm.weight"], eps)
        x = x + o
        h = rms(x, W[p + "ffn_norm.weight"], eps)
        if A == "phi3":
            gu = h @ W[p + "ffn_up.weight"].T
            n_ff = gu.shape[-1] // 2
            m = silu(gu[:, :n_ff]) * gu[:, n_ff:]
        else:
            gt = h @ W[p + "ffn_gate.weight"].T; up = h @ W[p + "ffn_up.weight"].T
            m = (gelu_tanh(gt) if A.startswith("gemma") else silu(gt)) * up
        m = m @ W[p + "ffn_down.weight"].T
        if A.startswith("gemma"):
            m = rms(m, W[p + "post_ffw_norm.weight"], eps)
        x = x + m
    x = rms(x, W["output_norm.weight"], eps)
    out = W.get("output.weight", W["token_embd.weight"])
    lg = x @ out.T
    fc = g("final_logit_softcapping")
    if fc:
        lg = np.tanh(lg / fc) * fc
    return lg


# --------------------------------------------------------------------------
# optional cross-check with the vendored convert_hf_to_gguf.py

_CONVERT_DRIVER = r"""
import sys, json, logging
from pathlib import Path
llamacpp, model_dir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
sys.path.insert(0, llamacpp + "/gguf-py")
sys.path.insert(0, llamacpp)
logging.basicConfig(level=logging.WARNING)
import gguf
from conversion import ModelBase, ModelType, get_model_architecture, get_model_class
hp = ModelBase.load_hparams(model_dir, False)
arch = get_model_architecture(hp, ModelType.TEXT)
cls = get_model_class(arch)
cls.set_vocab = lambda self: None
m = cls(model_dir, gguf.LlamaFileType.MOSTLY_F16, out, eager=True)
m.write()
print(cls.__name__)
"""


def verify_against_convert(case, model, ours_path, llamacpp):
    with tempfile.TemporaryDirectory() as td:
        mdir = os.path.join(td, "hf")
        model.save_pretrained(mdir, safe_serialization=True)
        # Gemma3Model.modify_tensors sizes token_embd from tokenizer.json; give it N_VOCAB entries
        with open(os.path.join(mdir, "tokenizer.json"), "w") as f:
            json.dump({"model": {"vocab": {f"t{i}": i for i in range(N_VOCAB)}}, "added_tokens": []}, f)
        out = os.path.join(td, "conv.gguf")
        drv = os.path.join(td, "drv.py")
        with open(drv, "w") as f:
            f.write(_CONVERT_DRIVER)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        p = subprocess.run([sys.executable, drv, llamacpp, mdir, out], capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise RuntimeError(f"convert failed for {case['name']}:\n{p.stdout}\n{p.stderr[-4000:]}")
        a = gguf.GGUFReader(ours_path)
        b = gguf.GGUFReader(out)
        skip = ("tokenizer.", "general.name", "general.size_label", "general.basename", "general.finetune",
                "general.quantization_version", "GGUF.")
        extra = set(case.get("extra_keys", {}))

        def kvs(r):
            d = {}
            for k, f in r.fields.items():
                if k.startswith(skip) or k in extra:
                    continue
                v = f.contents()
                d[k] = v
            return d
        ka, kb = kvs(a), kvs(b)
        diffs = []
        for k in sorted(set(ka) | set(kb)):
            va, vb = ka.get(k), kb.get(k)
            if isinstance(va, float) and isinstance(vb, float):
                same = np.float32(va) == np.float32(vb)
            else:
                same = va == vb
            if not same:
                diffs.append(f"  key {k}: ours={va!r} convert={vb!r}")
        ta = {t.name: t for t in a.tensors}
        tb = {t.name: t for t in b.tensors}
        if set(ta) != set(tb):
            diffs.append(f"  tensor sets differ: ours-only={sorted(set(ta) - set(tb))} convert-only={sorted(set(tb) - set(ta))}")
        for n in sorted(set(ta) & set(tb)):
            x, y = ta[n], tb[n]
            if x.tensor_type != y.tensor_type or list(x.shape) != list(y.shape) or not np.array_equal(np.asarray(x.data), np.asarray(y.data)):
                diffs.append(f"  tensor {n}: ours {x.tensor_type.name}{list(x.shape)} convert {y.tensor_type.name}{list(y.shape)}")
        if diffs:
            raise RuntimeError(f"{case['name']}: differs from vendored convert ({p.stdout.strip()}):\n" + "\n".join(diffs))
        print(f"  {case['name']}: matches vendored convert ({p.stdout.strip()}): "
              f"{len(ka)} keys, {len(ta)} tensors", flush=True)


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--llamacpp", default=DEFAULT_LLAMACPP)
    ap.add_argument("--only", default="")
    ap.add_argument("--verify-convert", action="store_true")
    args = ap.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    vocab_dir = os.path.join(args.llamacpp, "models")
    if not os.path.isdir(vocab_dir):
        sys.exit(f"missing {vocab_dir}: run ./scripts/fetch-vocab-tests first")
    os.makedirs(args.out, exist_ok=True)
    only = set(filter(None, args.only.split(",")))
    entries = []
    for case in _cases():
        if only and case["name"] not in only:
            continue
        e = build_case(case, vocab_dir, args.out, args.llamacpp if args.verify_convert else None)
        print(f"{case['name']:8s} {os.path.getsize(os.path.join(args.out, e['file'])):8d} B  "
              f"f64_err {e['f64_max_error']:.2e}  |logits|max {e['logits_abs_max']}", flush=True)
        entries.append(e)
    doc = {
        "generator": "scripts/reference/make_arch_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "gguf": getattr(gguf, "__version__", "0.19.0"), "numpy": np.__version__},
        "notes": [
            "logits: HF transformers float32 forward, attn_implementation=eager, one pass over all tokens; "
            "logits[i] is the distribution after tokens[0..i]; rounded to 6 significant digits",
            "every 2-D HF weight was rounded to float16 before the forward, so the F16 GGUF matrices are exact",
            "f64_max_error: max |float64 forward - float32 forward| over all logits",
            "numpy_gguf_forward_max_error: max |HF float32 logits - np_forward() of this script| where np_forward "
            "reads only the GGUF and follows llama.cpp's graphs (see the self-check section of the script)",
        ],
        "cases": entries,
    }
    if not only:
        with open(os.path.join(args.out, "architectures.json"), "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
