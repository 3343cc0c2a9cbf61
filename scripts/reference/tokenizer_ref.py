"""Reference tokenizer + chat template built ONLY from GGUF metadata.

We rebuild a HuggingFace `tokenizers` Tokenizer from tokenizer.ggml.* keys
(never from a tokenizer.json), so the fixtures check exactly the information a
GGUF-only runtime like Colony has available:

  * model: byte-level BPE over tokenizer.ggml.tokens / tokenizer.ggml.merges
    (merge rank = position in the merges list);
  * pre-tokenizer for tokenizer.ggml.pre == "smollm" (llama.cpp groups it with
    starcoder/refact/...): first split every \\p{N} character on its own
    (Digits(individual_digits=True)), then the GPT-2 regex
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
    with GPT-2's bytes->unicode mapping (ByteLevel(use_regex=True));
  * control tokens (token_type == 3) are matched verbatim in the input text
    before BPE, i.e. llama.cpp's tokenize(..., parse_special=true).

Usage:
    python tokenizer_ref.py MODEL.gguf "some text"
"""

from __future__ import annotations

import sys

import jinja2
import regex
from jinja2.sandbox import ImmutableSandboxedEnvironment
from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

TOKEN_TYPE_CONTROL = 3  # llama.cpp LLAMA_TOKEN_TYPE_CONTROL / gguf TokenType.CONTROL

# GPT-2 split regex (what llama.cpp uses after the \\p{N} split for "smollm").
GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
DIGIT_SPLIT = regex.compile(r"(\p{N})")

# Pre-tokenizer types this reference knows how to express with HF components.
_SUPPORTED_PRE = {"smollm"}


def _field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


class GGUFTokenizer:
    def __init__(self, path_or_reader):
        reader = path_or_reader if isinstance(path_or_reader, GGUFReader) else GGUFReader(path_or_reader)
        model = _field(reader, "tokenizer.ggml.model")
        pre = _field(reader, "tokenizer.ggml.pre", "default")
        if model != "gpt2":
            raise ValueError(f"only byte-level BPE ('gpt2') is supported, got {model!r}")
        if pre not in _SUPPORTED_PRE:
            raise ValueError(f"unsupported pre-tokenizer {pre!r}")

        self.tokens: list[str] = list(_field(reader, "tokenizer.ggml.tokens"))
        self.token_types: list[int] = [int(t) for t in _field(reader, "tokenizer.ggml.token_type")]
        merges: list[str] = list(_field(reader, "tokenizer.ggml.merges"))
        self.bos_id = _field(reader, "tokenizer.ggml.bos_token_id")
        self.eos_id = _field(reader, "tokenizer.ggml.eos_token_id")
        self.add_bos = bool(_field(reader, "tokenizer.ggml.add_bos_token", False))
        self.chat_template: str | None = _field(reader, "tokenizer.chat_template")

        vocab = {tok: i for i, tok in enumerate(self.tokens)}
        if len(vocab) != len(self.tokens):
            raise ValueError("duplicate token strings in vocabulary")
        # GGUF stores each merge as "left right"; byte-level tokens never
        # contain a real space (it is mapped to 'Ġ'), so split on the first one.
        merge_pairs = [tuple(m.split(" ", 1)) for m in merges]
        self._merges = merges

        tk = Tokenizer(models.BPE(vocab=vocab, merges=merge_pairs, fuse_unk=False, byte_fallback=False))
        tk.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
        tk.decoder = decoders.ByteLevel()
        # Control tokens: recognised anywhere in the text, never split/normalised.
        # They already exist in the vocab, so they keep their GGUF ids.
        self.control_ids = [i for i, t in enumerate(self.token_types) if t == TOKEN_TYPE_CONTROL]
        tk.add_special_tokens([
            AddedToken(self.tokens[i], special=True, normalized=False, lstrip=False, rstrip=False, single_word=False)
            for i in self.control_ids
        ])
        for i in self.control_ids:
            assert tk.token_to_id(self.tokens[i]) == i
        self.hf = tk

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        # add_bos is false for SmolLM2; honour the flag anyway.
        ids = self.hf.encode(text, add_special_tokens=False).ids
        if self.add_bos and self.bos_id is not None:
            ids = [self.bos_id] + ids
        return ids

    def decode(self, ids) -> str:
        # Keep control tokens in the output so the text round-trips.
        return self.hf.decode(list(ids), skip_special_tokens=False)

    def naive_encode(self, text: str) -> list[int]:
        """Second, independent encoder: a direct transcription of llama.cpp's
        algorithm (no HF code). Used only to cross-check `encode`.
          1. cut the text at control-token occurrences (longest token first);
          2. split every \\p{N} char off on its own, then apply the GPT-2 regex;
          3. map bytes to GPT-2's unicode symbols;
          4. BPE: repeatedly merge the adjacent pair with the lowest merge rank.
        """
        if not hasattr(self, "_ranks"):
            self._ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(self._merges)}
            self._ids = {t: i for i, t in enumerate(self.tokens)}
            self._b2u = bytes_to_unicode()
        specials = sorted((self.tokens[i] for i in self.control_ids), key=len, reverse=True)
        frags = [text]
        for sp in specials:
            nxt = []
            for f in frags:
                if isinstance(f, int) or sp not in f:
                    nxt.append(f)
                    continue
                parts = f.split(sp)
                for j, part in enumerate(parts):
                    if j:
                        nxt.append(self._ids[sp])
                    nxt.append(part)
            frags = nxt

        ids = [self.bos_id] if (self.add_bos and self.bos_id is not None) else []
        for f in frags:
            if isinstance(f, int):
                ids.append(f)
                continue
            for chunk in DIGIT_SPLIT.split(f):
                for word in GPT2_PATTERN.findall(chunk):
                    syms = [self._b2u[b] for b in word.encode("utf-8")]
                    while len(syms) > 1:
                        pairs = [(self._ranks.get((a, b), 1 << 62), k) for k, (a, b) in enumerate(zip(syms, syms[1:]))]
                        rank, k = min(pairs)
                        if rank == 1 << 62:
                            break
                        syms[k:k + 2] = [syms[k] + syms[k + 1]]
                    ids.extend(self._ids[s] for s in syms)
        return ids

    def token_piece(self, i: int) -> str:
        return self.tokens[i]

    def render_chat(self, messages, add_generation_prompt: bool = True) -> str:
        return render_chat_template(self.chat_template, messages, add_generation_prompt)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode char table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def render_chat_template(template: str, messages, add_generation_prompt: bool = True, **extra) -> str:
    """Render a GGUF chat template the way HF transformers does
    (sandboxed, trim_blocks + lstrip_blocks, raise_exception available)."""
    if template is None:
        raise ValueError("model has no tokenizer.chat_template")
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.globals["raise_exception"] = _raise_exception
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, **extra
    )


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    tok = GGUFTokenizer(argv[1])
    ids = tok.encode(argv[2])
    print(ids)
    print([tok.token_piece(i) for i in ids])
    print(repr(tok.decode(ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
