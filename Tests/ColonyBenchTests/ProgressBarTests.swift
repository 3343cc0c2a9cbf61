import ColonyBench
import Testing

@Suite("Progress bar")
struct ProgressBarTests {
    @Test(
        "the bar fills in proportion, rounding down, and clamps",
        arguments: [
            (0, 10, "[..........]"), (3, 10, "[###.......]"), (10, 10, "[##########]"), (15, 10, "[##########]"), (1, 3, "[###.......]"),
        ])
    func bar(done: Int, total: Int, expected: String) {
        #expect(ProgressBar(width: 10).bar(done, of: total) == expected)
    }

    @Test("a line redraws in place: carriage return, erase, bar, label")
    func line() {
        #expect(ProgressBar(width: 4).line(1, of: 2, "1/2 runs") == "\r\u{1B}[K[##..] 1/2 runs")
        #expect(ProgressBar.status("run 2/5") == "\r\u{1B}[Krun 2/5")
        #expect(ProgressBar.clear == "\r\u{1B}[K")
    }

    @Test("time left reads as seconds, then minutes and seconds; unknown as ?")
    func duration() {
        #expect(ProgressBar.duration(44.6) == "45s")
        #expect(ProgressBar.duration(74.6) == "1m15s")
        #expect(ProgressBar.duration(185) == "3m05s")
        #expect(ProgressBar.duration(.infinity) == "?")
    }
}
