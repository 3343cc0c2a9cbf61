import Foundation

/// What this process has used of the machine.
public enum ResourceUsage {
    /// Peak resident set size of this process, in bytes (Linux reports kilobytes).
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
