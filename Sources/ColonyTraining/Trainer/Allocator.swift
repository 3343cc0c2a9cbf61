import ColonyKernels

/// Keeps freed training buffers in the process instead of returning them to the kernel.
///
/// A training step allocates and frees hundreds of multi-megabyte temporaries. With glibc's
/// defaults, blocks above 128 KiB are mmapped and unmapped each time, so every step pays
/// page faults to zero them again (system time was half the user time): measured on
/// SmolLM2-135M, 67 → 109 tokens/s for a full fine-tune and 137 → 189 for LoRA once they
/// are reused. Process-wide and idempotent.
enum Allocator {
    static let tuned: Void = ck_tune_allocator()
}
