/// The GGUF architectures Colony runs, and what each changes in the shared decoder: which
/// rotation RoPE uses, the feed-forward activation, the embedding scale, and the extra norms.
/// Per-model numbers (soft caps, sliding windows) come from the file's metadata; these are
/// the fixed traits of the family, as llama.cpp's graph builds them.
public enum ModelArchitecture: String, Sendable, Codable, CaseIterable {
    /// Llama 1–3.x, Mistral, SmolLM (llama.cpp's "llama").
    case llama
    /// Qwen2 and Qwen2.5: Llama with biases on Q, K and V.
    case qwen2
    /// Qwen3: Llama with RMS norms on each head of Q and K.
    case qwen3
    /// Gemma 2: scaled embedding, GeGLU, soft-capped attention and logits, norms after
    /// attention and feed-forward, sliding-window attention on every other layer.
    case gemma2
    /// Gemma 3 (text): Gemma 2 without soft caps, with Q/K norms and five sliding layers
    /// (with their own RoPE base) to each global one.
    case gemma3
    /// Phi-3: fused QKV and gate-up matrices.
    case phi3

    /// How RoPE pairs the elements of a head.
    public var ropeStyle: RopeStyle { self == .llama ? .interleaved : .halves }

    public var activation: FeedForwardActivation { isGemma ? .geluTanh : .silu }

    /// Gemma multiplies the token embedding by √dim.
    public var scalesEmbedding: Bool { isGemma }

    /// Gemma normalises the outputs of attention and feed-forward before the residual add.
    public var hasPostNorms: Bool { isGemma }

    /// Layers out of each group of this many that use the sliding window, the last being
    /// global (llama.cpp's `set_swa_pattern`); 0 when every layer uses the window it has.
    var defaultSlidingPattern: Int {
        switch self {
        case .gemma2: 2
        case .gemma3: 6
        default: 0
        }
    }

    var isGemma: Bool { self == .gemma2 || self == .gemma3 }
}

/// Which elements of a head RoPE rotates together.
public enum RopeStyle: String, Sendable, Codable {
    /// Adjacent pairs (x[2i], x[2i+1]): GGML's "normal" mode; llama.cpp's converter permutes
    /// Llama's Q and K rows so that this matches the Hugging Face rotation.
    case interleaved
    /// Elements i and i + d/2 (GGML's NEOX mode, Hugging Face's `rotate_half`).
    case halves
}

/// The non-linearity of a gated feed-forward block: `act(gate) · up`.
public enum FeedForwardActivation: String, Sendable, Codable {
    /// SiLU (SwiGLU).
    case silu
    /// GELU, tanh approximation (GeGLU, as Gemma's `gelu_pytorch_tanh`).
    case geluTanh
}
