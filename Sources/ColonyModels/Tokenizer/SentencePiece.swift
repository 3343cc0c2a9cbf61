/// The SentencePiece-style tokenizer of `tokenizer.ggml.model = "llama"` vocabularies (Llama 2,
/// Mistral, Phi-3), as llama.cpp runs it: spaces become "▁", and adjacent pieces merge while
/// their concatenation is a token, the highest-scored merge first (ties: leftmost); what
/// remains unknown falls back to `<0xXX>` byte tokens.
struct SentencePieceModel: Sendable {
    /// Token text (UTF-8, with "▁") → id; bytes, not `String`, because distinct tokens may be
    /// canonically equivalent strings.
    private let pieces: [[UInt8]: Int32]
    private let scores: [Float]
    /// Whether text starts with a space, as after every special token (`add_space_prefix`).
    let addsSpacePrefix: Bool

    static let space: [UInt8] = [0xE2, 0x96, 0x81]  // ▁

    /// `pieces`: each token's bytes → its id; `scores`: by id (a token without one scores 0).
    init(pieces: [[UInt8]: Int32], scores: [Float], addsSpacePrefix: Bool) {
        self.pieces = pieces
        self.scores = scores
        self.addsSpacePrefix = addsSpacePrefix
    }

    /// Encodes one fragment of text (between special tokens); `afterSpecial` says whether it
    /// starts the text or follows a special token, where the space prefix goes.
    func encode(_ fragment: ArraySlice<UInt8>, afterSpecial: Bool, into out: inout [Int]) {
        var text: [UInt8] = addsSpacePrefix && afterSpecial ? Self.space : []
        for b in fragment { if b == 0x20 { text += Self.space } else { text.append(b) } }
        guard !text.isEmpty else { return }
        // Symbols: UTF-8 characters (by lead byte, clipped at the end), linked both ways.
        var start: [Int] = []
        var length: [Int] = []
        var offset = 0
        while offset < text.count {
            let n = min(TokenBytes.characterLength(lead: text[offset]), text.count - offset)
            start.append(offset)
            length.append(n)
            offset += n
        }
        var previous = Array(-1..<(start.count - 1))
        var next = Array(1...start.count)
        next[next.count - 1] = -1
        var queue = BigramQueue()
        func propose(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0, let id = pieces[Array(text[start[l]..<(start[l] + length[l] + length[r])])] else { return }
            let score = scores.indices.contains(Int(id)) ? scores[Int(id)] : 0
            queue.push(Bigram(score: score, left: l, right: r, size: length[l] + length[r]))
        }
        for i in 1..<start.count { propose(i - 1, i) }
        while let b = queue.pop() {
            // A bigram whose symbols have changed since it was proposed is stale.
            guard length[b.left] > 0, length[b.right] > 0, length[b.left] + length[b.right] == b.size else { continue }
            length[b.left] += length[b.right]
            length[b.right] = 0
            next[b.left] = next[b.right]
            if next[b.right] >= 0 { previous[next[b.right]] = b.left }
            propose(previous[b.left], b.left)
            propose(b.left, next[b.left])
        }
        var i = 0
        while i >= 0 {
            let symbol = Array(text[start[i]..<(start[i] + length[i])])
            if let id = pieces[symbol] {
                out.append(Int(id))
            } else {
                for byte in symbol {
                    if let id = pieces[Array(TokenBytes.fallbackText(byte).utf8)] ?? pieces[[byte]] { out.append(Int(id)) }
                }
            }
            i = next[i]
        }
    }

    /// A merge of two adjacent symbols into a token.
    struct Bigram {
        var score: Float
        var left: Int
        var right: Int
        var size: Int

        /// Higher score first, then the leftmost.
        func comesBefore(_ o: Bigram) -> Bool { score != o.score ? score > o.score : left < o.left }
    }

    /// A binary heap of bigrams, the one that `comesBefore` all others on top.
    struct BigramQueue {
        private var heap: [Bigram] = []

        mutating func push(_ b: Bigram) {
            heap.append(b)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard heap[i].comesBefore(heap[parent]) else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        }

        mutating func pop() -> Bigram? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            guard !heap.isEmpty else { return top }
            heap[0] = last
            var i = 0
            while true {
                let (l, r) = (2 * i + 1, 2 * i + 2)
                var best = i
                if l < heap.count, heap[l].comesBefore(heap[best]) { best = l }
                if r < heap.count, heap[r].comesBefore(heap[best]) { best = r }
                if best == i { break }
                heap.swapAt(i, best)
                i = best
            }
            return top
        }
    }
}
