import ColonyHTTP
import ColonyOpenAI
import Foundation

/// One streaming chat completion as a client sees it: when each token arrived, the text,
/// and the usage the server reported.
struct StreamedChat: Sendable {
    var ttft: Double?
    var gaps: [Double] = []
    var tokens = 0
    var text = ""
    var promptTokens = 0
    var cachedPromptTokens = 0
    var error: String?

    /// Sends `request` (which should ask for streaming with usage) and reads its events.
    static func send(_ request: ChatCompletionRequest, to endpoint: HTTPClient.Endpoint, headers: [String: String]) -> StreamedChat {
        var result = StreamedChat()
        let data = try! JSONEncoder().encode(request)  // strings and numbers only
        let start = Date()
        var last = start
        var parser = SSEParser()
        var usageTokens: Int?
        do {
            let response = try HTTPClient.send(
                "POST", endpoint, path: "/v1/chat/completions",
                headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a }, body: data
            ) { chunk in
                let now = Date()
                for event in parser.feed(chunk) where event != "[DONE]" {
                    guard let chunk = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(event.utf8)) else { continue }
                    if let usage = chunk.usage {
                        usageTokens = usage.completionTokens
                        result.promptTokens = usage.promptTokens
                        result.cachedPromptTokens = usage.promptTokensDetails?.cachedTokens ?? 0
                    }
                    if let content = chunk.choices.first?.delta.content, !content.isEmpty {
                        if result.ttft == nil {
                            result.ttft = now.timeIntervalSince(start)
                        } else {
                            result.gaps.append(now.timeIntervalSince(last))
                        }
                        last = now
                        result.tokens += 1
                        result.text += content
                    }
                }
                return true
            }
            if response.status != 200 {
                result.error = "HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))"
            }
        } catch {
            result.error = error.description
        }
        if let usageTokens { result.tokens = usageTokens }
        return result
    }
}
