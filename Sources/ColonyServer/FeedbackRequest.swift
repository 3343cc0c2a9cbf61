import Foundation

/// `POST /v1/feedback`: the outcome of one response, by its id.
struct FeedbackRequest: Decodable {
    let id: String
    let reward: Double?
    let success: Bool?

    func validate() throws(APIError) {
        guard !id.isEmpty else { throw .badRequest("'id' must name a response (the id of a completion)", param: "id") }
        guard reward != nil || success != nil else {
            throw .badRequest("give 'success' (true or false), 'reward' (a number), or both", param: "success")
        }
        if let reward, !reward.isFinite { throw .badRequest("'reward' must be a finite number", param: "reward") }
    }
}

/// `GET /v1/feedback`: per version, responses, errors, latency and the outcomes posted.
struct FeedbackReport: Encodable {
    struct Version: Encodable {
        let requests: Int
        let errors: Int
        let feedback: Int
        let successes: Int
        let successRate: Double?
        let rewardMean: Double?
        let latencyMeanSeconds: Double?
        let latencyP95Seconds: Double?

        enum CodingKeys: String, CodingKey {
            case requests, errors, feedback, successes
            case successRate = "success_rate"
            case rewardMean = "reward_mean"
            case latencyMeanSeconds = "latency_mean_s"
            case latencyP95Seconds = "latency_p95_s"
        }
    }

    let versions: [String: Version]

    init(_ tallies: [String: FeedbackLedger.Tally]) {
        versions = tallies.mapValues { t in
            let sorted = t.recentLatencies.sorted()
            return Version(
                requests: t.requests, errors: t.errors, feedback: t.feedback, successes: t.successes,
                successRate: t.feedback > 0 ? Double(t.successes) / Double(t.feedback) : nil,
                rewardMean: t.feedback > 0 ? t.rewardSum / Double(t.feedback) : nil,
                latencyMeanSeconds: t.requests > 0 ? t.latencySum / Double(t.requests) : nil,
                latencyP95Seconds: sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int(0.95 * Double(sorted.count)))])
        }
    }
}
