/// The one percentile and median of Colony's reports (benchmarks, load tests, swarm summaries).
///
/// Definition: linear interpolation between the two nearest ranks of the sorted sample
/// (NumPy's default, "type 7"): at q the position is `q × (n − 1)`; a fractional position
/// blends its two neighbours. So the median of an even count is the mean of the middle two,
/// `percentile(xs, 0)` is the minimum and `percentile(xs, 1)` the maximum.
public enum Statistics {
    /// The q-quantile (q in [0, 1], clamped) of `values`, which need not be sorted; 0 for an
    /// empty sample, so an empty report reads as zeros rather than failing.
    ///
    /// Complexity: O(n log n) for the sort; pass already sorted values to `percentile(sorted:_:)`.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        percentile(sorted: values.sorted(), q)
    }

    /// The q-quantile of values already in ascending order.
    public static func percentile(sorted: [Double], _ q: Double) -> Double {
        guard let first = sorted.first else { return 0 }
        guard sorted.count > 1 else { return first }
        let position = min(max(q, 0), 1) * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// The median: `percentile(values, 0.5)`.
    public static func median(_ values: [Double]) -> Double {
        percentile(values, 0.5)
    }
}
