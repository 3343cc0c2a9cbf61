// Parallel operations: the kernels of matmul.c and ops.c spread over the pool.
#include "ColonyKernels.h"

typedef struct {
    const ck_matmul_job *jobs;
    int n_jobs;
    int64_t k, t;
    const float *x;
    const ck_act *xq;
} matmul_ctx;

static int64_t padded_rows(int64_t n) { return (n + 15) / 16 * 16; }

// Rows of all jobs are numbered as one range, so fused Q/K/V (or gate/up) split evenly.
// Each job starts on a multiple of 16 and ranges come in multiples of 16, so a packed job
// always gets whole 16-row groups.
static void matmul_range(void *raw, int64_t begin, int64_t end) {
    const matmul_ctx *c = raw;
    int64_t base = 0;
    for (int j = 0; j < c->n_jobs && base < end; j++) {
        const ck_matmul_job *job = &c->jobs[j];
        int64_t lo = begin > base ? begin - base : 0;
        int64_t hi = end - base < job->n ? end - base : job->n;
        if (lo < hi) {
            if (job->packed) ck_packed_matmul(job->type, job->packed, c->k, lo / 16, hi / 16, c->xq, c->t, job->y, job->ldy);
            else ck_matmul_rows(job->type, job->w, c->k, lo, hi, c->x, c->t, job->y, job->ldy);
        }
        base += padded_rows(job->n);
    }
}

void ck_par_matmul(ck_pool *pool, const ck_matmul_job *jobs, int n_jobs, int64_t k,
                   const float *x, const ck_act *xq, int64_t t) {
    matmul_ctx c = { jobs, n_jobs, k, t, x, xq };
    int64_t rows = 0;
    for (int j = 0; j < n_jobs; j++) rows += padded_rows(jobs[j].n);
    ck_pool_for(pool, rows, 16, matmul_range, &c);
}

typedef struct {
    const ck_attn_token *tokens;
    int64_t t;
    ck_kv_layer kv;
    int64_t n_head, group, head_dim;
    float scale, softcap;
} attention_ctx;

static void attention_range(void *raw, int64_t begin, int64_t end) {
    const attention_ctx *c = raw;
    for (int64_t i = begin; i < end; i++) {
        // Tokens are visited as 0, T-1, 1, T-2, …: in a causal prefill later tokens see more
        // positions, and this order gives every contiguous share of tasks a similar load.
        int64_t u = i / c->n_head;
        const ck_attn_token *tok = &c->tokens[u % 2 == 0 ? u / 2 : c->t - 1 - u / 2];
        int64_t h = i % c->n_head;
        ck_attn_params params = { tok->start, c->scale, c->softcap };
        ck_attention_head(tok->q + h * c->head_dim, c->kv, tok->block_table, tok->n_ctx,
                          h / c->group, c->head_dim, params, tok->out + h * c->head_dim);
    }
}

void ck_par_attention(ck_pool *pool, const ck_attn_token *tokens, int64_t t, ck_kv_layer kv,
                      int64_t n_head, int64_t n_kv_head, int64_t head_dim, float scale, float softcap) {
    attention_ctx c = { tokens, t, kv, n_head, n_head / n_kv_head, head_dim, scale, softcap };
    ck_pool_for(pool, t * n_head, 1, attention_range, &c);
}

typedef struct {
    const float *x;
    int64_t per;
    float partial[256]; // one slot per thread's range (each written once, at the end)
} sum_ctx;

static void sum_range(void *raw, int64_t begin, int64_t end) {
    sum_ctx *c = raw;
    c->partial[begin / c->per] = ck_sum_floats(c->x + begin, end - begin);
}

float ck_par_sum(ck_pool *pool, const float *x, int64_t n) {
    int threads = ck_pool_threads(pool);
    int64_t per = (n + threads - 1) / threads;
    sum_ctx c = { x, per > 0 ? per : 1, {0} };
    // grain == per: the pool hands out ranges of exactly `per` floats, one slot each.
    ck_pool_for(pool, n, c.per, sum_range, &c);
    float s = 0;
    for (int i = 0; i < threads && i < 256; i++) s += c.partial[i];
    return s;
}
