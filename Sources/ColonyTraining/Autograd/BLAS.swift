import CBLAS

/// Single-precision GEMM on row-major matrices (OpenBLAS):
/// `C[m×n] = alpha · op(A) · op(B) + beta · C`, where `op` transposes when asked.
///
/// `lda`, `ldb` and `ldc` are the row strides of the matrices as stored, which lets a
/// head's columns of a wider matrix be used without copying.
@inline(__always)
func sgemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Threads OpenBLAS uses for one GEMM.
public func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
