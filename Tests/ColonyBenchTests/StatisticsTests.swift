import ColonyBench
import Testing

@Suite("Statistics")
struct StatisticsTests {
    @Test(
        "percentile interpolates linearly between the nearest ranks",
        arguments: [
            ([1.0, 2, 3, 4], 0.5, 2.5),
            ([1.0, 2, 3, 4], 0.0, 1.0),
            ([1.0, 2, 3, 4], 1.0, 4.0),
            ([1.0, 2, 3, 4], 0.25, 1.75),
            ([10.0, 20, 30, 40, 50], 0.99, 49.6),
            ([5.0], 0.99, 5.0),
            ([Double](), 0.5, 0.0),
        ])
    func percentile(values: [Double], q: Double, expected: Double) {
        #expect(abs(Statistics.percentile(values, q) - expected) < 1e-9)
    }

    @Test("unsorted input is sorted first; q outside [0, 1] is clamped")
    func unsortedAndClamped() {
        #expect(Statistics.percentile([4, 1, 3, 2], 0.5) == 2.5)
        #expect(Statistics.percentile([4, 1, 3, 2], -1) == 1)
        #expect(Statistics.percentile([4, 1, 3, 2], 2) == 4)
        #expect(Statistics.percentile(sorted: [1, 2, 3, 10], 0.5) == 2.5)
    }

    @Test("the median is the middle value, or the mean of the middle two")
    func median() {
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        #expect(Statistics.median([7]) == 7)
        #expect(Statistics.median([]) == 0)
    }
}
