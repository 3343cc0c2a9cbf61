import ArgumentParser
import ColonyCollectives
import ColonyModels
import ColonyTraining
import Foundation

/// `colony train`: fine-tune a GGUF model (LoRA or full) on chat JSONL.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model (LoRA or full) on chat or agent-trajectory JSONL, with checkpoints, evaluation and GGUF export.",
        discussion: """
            Each line of --data is {"messages": [{"role": ..., "content": ...}, ...]} (the format of \
            `colony agents --trajectories` too); the loss is taken on assistant turns only. Every line \
            is checked before training starts. Writes DIR/checkpoints/step-N.ckpt (atomically, the \
            newest --keep kept), DIR/log.jsonl (one line per step and evaluation) and, at the end, \
            DIR/model.gguf with LoRA merged in, and for LoRA DIR/adapter.gguf (the adapter alone, in \
            llama.cpp's format: `colony models register NAME DIR/adapter.gguf --parent ID` serves it on its \
            base without merging). With --resume the run continues from the newest \
            checkpoint and follows the same loss curve as an uninterrupted run.

            --batch is sequences per optimiser step per data-parallel replica; --micro-batches M \
            splits it into M micro-batches (gradient accumulation, and what keeps a pipeline busy). \
            The loss is the token-weighted mean over the whole step, however it is split.

            Over MPI (launch with mpirun --allow-run-as-root -np N colony train --collective mpi ...), \
            the N ranks form replicas of --pipeline-stages S × --tensor-parallel T ranks each \
            (N a multiple of S×T), data parallel across replicas. --pipeline-stages S splits the \
            layers into S stages (balanced against the output projection) run 1F1B over the \
            micro-batches; --tensor-parallel T splits attention heads (whole KV groups) and \
            feed-forward features; --zero 1|2|3 shards optimiser state, gradients and parameters \
            across replicas (with S or T above 1, only --zero 0 or 1). Rank 0 prints progress and \
            writes the log and the model; \
            under ZeRO or a mesh each rank keeps its own checkpoints in DIR/checkpoints/rank-N. \
            Across hosts add --hostfile FILE to mpirun.

            --sync picks how workers agree. dp (the default): every step all-reduces the \
            gradients. ps: the last --parameter-servers ranks hold shards of the parameters; each \
            worker pushes its gradient and pulls the shard back without waiting for the others; a \
            server damps an update k versions stale by 1/(1+k) and rejects (and counts) those \
            past --max-staleness. hybrid: workers step on their own, every --delta-every steps \
            send their change as FP16 (optionally only the --delta-top-k largest, the rest kept \
            for next time) and take back the servers' merged change; every --sync-every steps and \
            at the end all synchronise fully. ps and hybrid log each worker-0 step with its \
            exchange (version, rejected, bytes_sent) and keep no checkpoints (the state lives on \
            the servers).

            --elastic supervises the job instead of being a rank: it runs mpirun -np --ranks of \
            this command (add --zero for sharded state), and when a rank dies of a signal it \
            restarts from the newest complete checkpoint: with --ranks again if the --hostfile is \
            rewritten with enough slots within --rejoin-timeout, else with the ranks that remain. \
            Under --elastic, --batch is the global batch and a step's micro-batches are dealt \
            round-robin to the ranks, so the data and the loss curve do not depend on the world \
            size, and ZeRO checkpoints load at any world size. Checkpoints are written in the \
            background while training goes on, every --checkpoint-every steps or \
            --checkpoint-minutes minutes (under --elastic with neither, every 30 minutes).
            """)

    @Option(name: .long, help: "The GGUF model to start from: a path or ref:NAME[@REF] (default: $COLONY_MODEL or the default model).")
    var base: String?

    @Option(name: .long, help: "Training data (JSONL of conversations).")
    var data: String

    @Option(name: .long, help: "Held-out data for evaluation (same format).")
    var eval: String?

    @Option(name: .long, help: "LoRA rank; 0 trains every weight (full fine-tune, in f32).")
    var loraRank = 8

    @Option(name: .long, help: "LoRA alpha (the update is scaled by alpha/rank).")
    var loraAlpha: Float = 16

    @Option(name: .long, help: "Projections that get LoRA adapters (comma-separated: q,k,v,o,gate,up,down).")
    var loraTargets = "q,k,v,o"

    @Option(
        name: .long,
        help: "Start the LoRA from this adapter (GGUF; same rank, alpha and targets) instead of from zero, e.g. the version serving.")
    var initAdapter: String?

    @Option(
        name: .long, help: "Forward products of the frozen quantized base (LoRA): int16 (integer kernels, near-exact, faster) or float32.")
    var precision = ActivationPrecision.int16

    @Option(name: .long, help: "Optimiser steps.")
    var steps = 100

    @Option(name: .long, help: "Sequences per optimiser step per data-parallel replica.")
    var batch = 4

    @Option(name: .long, help: "Tokens per sequence; conversations are packed, longer ones cut.")
    var seqLen = 256

    @Option(name: .long, help: "Micro-batches each step's batch is split into (gradient accumulation; keeps a pipeline busy).")
    var microBatches = 1

    @Option(name: .long, help: "Peak learning rate.")
    var lr: Float = 1e-3

    @Option(name: .long, help: "Warmup steps (linear), then cosine decay to 10% of the peak.")
    var warmup = 10

    @Option(name: .long, help: "adamw or sgd (with momentum 0.9).")
    var optimizer = "adamw"

    @Option(name: .long, help: "Decoupled weight decay.")
    var weightDecay: Float = 0.01

    @Option(name: .long, help: "Clip the global gradient norm to this (0: off).")
    var clip: Float = 1

    @Option(name: .long, help: "Evaluate every N steps (0: only at the start and the end).")
    var evalEvery = 0

    @Option(name: .long, help: "Batches per evaluation.")
    var evalBatches = 4

    @Option(name: .long, help: "Output folder.")
    var out = "runs/train"

    @Option(name: .long, help: "Checkpoint every N steps (0: only at the end).")
    var checkpointEvery = 0

    @Option(name: .long, help: "Checkpoints to keep.")
    var keep = 3

    @Flag(name: .long, help: "Continue from the newest checkpoint in --out.")
    var resume = false

    @Option(name: .long, help: "Stop (with a checkpoint) after this many steps in this invocation; continue later with --resume.")
    var stopAfter: Int?

    @Option(name: .long, help: "Tensor type of the exported model: f32, f16, q8_0 or q4_1.")
    var exportType = "q8_0"

    @Option(name: .long, help: "Skip conversations whose \"reward\" is below this.")
    var minReward: Double?

    @Option(name: .long, help: "Seed for initialisation and data order.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Threads for matrix products.")
    var threads: Int?

    @Option(name: .long, help: "none, or mpi (launch with mpirun).")
    var collective = "none"

    @Option(name: .long, help: "ZeRO stage across replicas: 0 (plain data parallel), 1, 2 or 3.")
    var zero = 0

    @Option(name: .long, help: "Pipeline stages per replica (MPI): layers split into S contiguous stages, scheduled 1F1B.")
    var pipelineStages = 1

    @Option(name: .long, help: "Tensor-parallel ranks per stage (MPI): attention heads and feed-forward features split.")
    var tensorParallel = 1

    @Flag(
        name: .long, inversion: .prefixedNo,
        help: "Data parallel (ZeRO 0/1): all-reduce each bucket of layers' gradients during backward, not after it (needs spare cores).")
    var overlap = false

    @Flag(
        name: .long, inversion: .prefixedNo,
        help: "ZeRO 3: gather parameters a layer at a time, the next one prefetched (else the whole model for each step).")
    var gatherByLayer = true

    @Option(name: .long, help: "How workers agree (MPI): dp (all-reduce every step), ps (parameter servers, asynchronous SGD) or hybrid.")
    var sync = "dp"

    @Option(name: .long, help: "ps/hybrid: ranks that are parameter servers (the last N).")
    var parameterServers = 1

    @Option(name: .long, help: "ps: updates more than K versions behind their shard are rejected (and counted).")
    var maxStaleness = 4

    @Option(name: .long, help: "hybrid: steps between FP16 delta exchanges.")
    var deltaEvery = 100

    @Option(name: .long, help: "hybrid: steps between full synchronisations.")
    var syncEvery = 1000

    @Option(name: .long, help: "hybrid: send only this fraction of each delta (largest first); the rest waits for the next.")
    var deltaTopK: Double?

    @Option(name: .long, help: "Also checkpoint every N minutes (rank 0's clock decides for all ranks).")
    var checkpointMinutes: Double?

    @Flag(name: .long, help: "Supervise an MPI job of --ranks ranks and restart it from the newest checkpoint when a rank dies.")
    var elastic = false

    @Option(name: .long, help: "--elastic: ranks to run (mpirun -np).")
    var ranks = 2

    @Option(name: .long, help: "--elastic: seconds to wait for a replacement (a rewritten --hostfile) before going on with the ranks left.")
    var rejoinTimeout: Double = 30

    @Option(name: .long, help: "--elastic: restarts allowed over the run.")
    var maxRestarts = 3

    @Option(name: .long, help: "--elastic: the hosts and their slots, passed to mpirun and read again after a failure.")
    var hostfile: String?

    @Option(name: .long, help: "--elastic: the mpirun to use (default: the one on PATH).")
    var mpirun: String?

    @Flag(name: .long, help: .hidden)
    var elasticMember = false
}
