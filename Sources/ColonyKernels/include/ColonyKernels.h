// ColonyKernels: the hot loops of Colony, in C.
//
// Everything here is synchronous, allocates nothing, logs nothing and cannot fail:
// callers validate shapes first. Parallelism lives one level up (ck_par_*), over the
// persistent pool in pool.c.
//
// Shape letters used throughout: N rows of a weight matrix, K columns (the reduction
// length, a multiple of 32 for quantised types), T tokens in a batch.
#ifndef COLONY_KERNELS_H
#define COLONY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Tensor element types, numbered as GGML numbers them so GGUF type ids map 1:1.
typedef enum {
    CK_F32 = 0,
    CK_F16 = 1,
    CK_Q4_0 = 2,
    CK_Q4_1 = 3,
    CK_Q5_0 = 6,
    CK_Q5_1 = 7,
    CK_Q8_0 = 8,
    CK_Q2_K = 10,
    CK_Q3_K = 11,
    CK_Q4_K = 12,
    CK_Q5_K = 13,
    CK_Q6_K = 14,
    CK_BF16 = 30,
} ck_type;

/// Elements per block (1 for plain float types, 32 for the legacy quants, 256 for K-quants).
int64_t ck_block_elements(int type);
/// Bytes per block.
int64_t ck_block_bytes(int type);
/// 1 if `type` is one of the types above.
int ck_type_supported(int type);

// MARK: - Conversions

// ck_f32_to_f16, ck_f16_to_f32, ck_f32_to_bf16, ck_bf16_to_f32: inline, to vectorise.
#include "ck_half.h"

/// Expands `n` elements of a row of `type` into floats.
void ck_dequantize_row(int type, const void *src, float *dst, int64_t n);
/// 1 if `ck_quantize_row` can write `type` (float types, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; the
/// K-quants are read, not written: llama.cpp's `llama-quantize` makes them).
int ck_quantizable(int type);
/// Quantises `n` floats into a row of `type` (round to nearest, as GGML's reference does).
void ck_quantize_row(int type, const float *src, void *dst, int64_t n);

// MARK: - Packed quantised matrices and integer activations

/// Activations of one token quantised per block of 32 for the packed kernels.
/// Plain int8 (`lo` == NULL): v = round(x / d) in [-127, 127] with d = max|x| / 127.
/// Split int16 (`lo` != NULL): d = max|x| / 16256 and v = 128·hi + lo with hi in
/// [-127, 127] and lo in [0, 127], so two int8 dot products give a 14-bit-accurate one.
/// `isum[b]` = sum of v over block b and `s[b]` = d[b]·isum[b] carry the offsets of Q4_0,
/// Q4_1 and Q8_0; `isum16[2b]`, `isum16[2b+1]` = the sums over its two halves, for the
/// K-quants whose scales and offsets change every 16 columns.
typedef struct {
    int8_t *hi;
    int8_t *lo;
    float *d;
    float *s;
    int32_t *isum;
    int32_t *isum16;
} ck_act;

/// Quantises `k` floats (k % 32 == 0) into `out` (plain or split, by `out.lo`).
void ck_quantize_act(const float *x, int64_t k, ck_act out);

/// 1 if a matrix of `type` with `n` rows can be packed (n % 16 == 0 and a type from Q4_0,
/// Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K).
int ck_packable(int type, int64_t n);
/// Bytes of the packed form (the same as the GGUF form).
int64_t ck_packed_bytes(int type, int64_t n, int64_t k);
/// Rewrites an N×K matrix into 16-row groups: per group and block of 32 columns, the 16
/// scales (and mins), then the quants interleaved so that one 64-byte load holds 4 columns
/// of all 16 rows — the shape of one VNNI dot-product instruction.
void ck_pack(int type, const void *src, void *dst, int64_t n, int64_t k);
/// Y[t][r] = W[r] · X[t] for the rows of groups [g0, g1) of a packed matrix and T tokens.
void ck_packed_matmul(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,
                      const ck_act *x, int64_t t, float *y, int64_t ldy);

// MARK: - Dot products

/// Reference: dequantise then dot in double. Slow; for tests.
double ck_ref_dot(int type, const void *row, const float *x, int64_t k);
/// Exact path: float activations against a row of any type (blocks expanded on the fly).
float ck_dot_f32(int type, const void *row, const float *x, int64_t k);
/// 1 when the AVX-512 VNNI paths are in use on this CPU.
int ck_has_avx512_vnni(void);
/// Forces the portable paths (tests compare both). 0 = auto.
void ck_force_generic(int on);

/// Y[t][n] = W[n] · X[t] for rows [n0, n1) and T tokens, float activations (row stride k),
/// `y` T rows of stride ldy.
void ck_matmul_rows(int type, const void *w, int64_t k, int64_t n0, int64_t n1,
                    const float *x, int64_t t, float *y, int64_t ldy);

// MARK: - Element-wise and normalisation

/// out = x / rms(x) * w, over n elements.
void ck_rmsnorm(const float *x, const float *w, float *out, int64_t n, float eps);
/// Rotates adjacent pairs (x[2i], x[2i+1]) of each of `heads` heads of `head_dim` floats
/// ("normal" RoPE as GGML's llama uses): only the first `rot_dim` elements of a head turn.
void ck_rope(float *x, int64_t heads, int64_t head_dim, int64_t rot_dim,
             const float *cos_tab, const float *sin_tab);
/// Rotates the pairs (x[i], x[i + rot_dim/2]) of each head (GGML's NEOX mode, the
/// `rotate_half` of Hugging Face models).
void ck_rope_neox(float *x, int64_t heads, int64_t head_dim, int64_t rot_dim,
                  const float *cos_tab, const float *sin_tab);
/// out[i] = silu(gate[i]) * up[i].
void ck_swiglu(const float *gate, const float *up, float *out, int64_t n);
/// out[i] = gelu(gate[i]) * up[i], GELU in its tanh approximation (Gemma's GeGLU).
void ck_geglu(const float *gate, const float *up, float *out, int64_t n);
/// x[i] = cap * tanh(x[i] / cap).
void ck_softcap(float *x, int64_t n, float cap);
/// x[i] += y[i].
void ck_add(float *x, const float *y, int64_t n);

// MARK: - Attention over a paged KV cache

/// Geometry of a paged KV cache of one layer: blocks of `block_size` positions, each
/// position holding `kv_dim` = n_kv_head * head_dim values, K and V in separate arrays of
/// floats, or of f16 when `f16` is 1 (half the memory traffic at long context).
typedef struct {
    const void *k;
    const void *v;
    int64_t block_size;
    int64_t kv_dim;
    int f16;
} ck_kv_layer;

/// Writes `n` floats into a cache array of `f16` or float elements at element `offset`.
void ck_kv_store(void *dst, int f16, int64_t offset, const float *src, int64_t n);

/// How a query sees the cache: keys at positions [start, n_ctx) of its sequence, scores
/// q·k·scale, soft-capped to cap·tanh(s/cap) when `softcap` > 0.
typedef struct {
    int64_t start;
    float scale;
    float softcap;
} ck_attn_params;

/// Causal attention of one query head over its visible positions of one sequence, whose
/// blocks are listed in `block_table`. Online softmax: no scratch memory.
void ck_attention_head(const float *q, ck_kv_layer kv, const int32_t *block_table,
                       int64_t n_ctx, int64_t kv_head, int64_t head_dim, ck_attn_params params,
                       float *out);

// MARK: - Persistent thread pool

typedef struct ck_pool ck_pool;
typedef void (*ck_range_fn)(void *ctx, int64_t begin, int64_t end);

/// Starts `n_threads - 1` workers (the caller is the n-th). Workers spin briefly between
/// jobs before they sleep, so back-to-back jobs of a decode step do not pay a wake-up.
ck_pool *ck_pool_create(int n_threads);
void ck_pool_destroy(ck_pool *pool);
int ck_pool_threads(const ck_pool *pool);
/// Runs fn over [0, n) in contiguous chunks (multiples of `grain`, about two per thread)
/// that threads take as they become free. Returns when all are done. Not reentrant: one
/// caller at a time.
void ck_pool_for(ck_pool *pool, int64_t n, int64_t grain, ck_range_fn fn, void *ctx);

// MARK: - Parallel operations (over the pool)

/// One weight matrix to multiply in a fused parallel job: `packed` (with integer
/// activations) when non-NULL, else `w` with float activations.
typedef struct {
    int type;
    const void *w;
    const void *packed;
    int64_t n;     // rows
    float *y;      // T rows of stride ldy
    int64_t ldy;
} ck_matmul_job;

/// Runs several matmuls sharing the same input (e.g. Q, K, V) as one parallel job.
/// `x` is T×K floats; `xq` the same T tokens quantised (needed by packed jobs only).
void ck_par_matmul(ck_pool *pool, const ck_matmul_job *jobs, int n_jobs, int64_t k,
                   const float *x, const ck_act *xq, int64_t t);

/// One query token for ck_par_attention.
typedef struct {
    const float *q;              // n_head * head_dim
    float *out;                  // n_head * head_dim
    const int32_t *block_table;
    int64_t n_ctx;               // pos + 1
    int64_t start;               // first visible position (0, or pos + 1 - window)
} ck_attn_token;

/// Attention of T tokens, every head; `scale` and `softcap` as in ck_attn_params.
void ck_par_attention(ck_pool *pool, const ck_attn_token *tokens, int64_t t, ck_kv_layer kv,
                      int64_t n_head, int64_t n_kv_head, int64_t head_dim, float scale, float softcap);

// MARK: - Memory bandwidth probe

/// Sums `n` floats; the compiler cannot drop it. Used by the bandwidth roofline.
float ck_sum_floats(const float *x, int64_t n);
/// Sums `n` floats split over the pool (a STREAM-style read of memory).
float ck_par_sum(ck_pool *pool, const float *x, int64_t n);

// Makes glibc keep freed large blocks for reuse instead of unmapping them (training
// allocates and frees many multi-megabyte temporaries per step). No-op elsewhere.
void ck_tune_allocator(void);

#ifdef __cplusplus
}
#endif

#endif
