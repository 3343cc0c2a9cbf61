import ColonyHTTP
import ColonyRouting
import Foundation

extension ClusterStatus {
    /// Reads `GET /v1/cluster` from a router (a blocking call: run it off the cooperative pool).
    ///
    /// - Throws: `ClusterStatusError` saying whether the router could not be reached, or
    ///   answered but is not a Colony router.
    public static func fetch(from router: HTTPClient.Endpoint, timeout: TimeInterval = 10) throws(ClusterStatusError) -> ClusterStatus {
        let response: HTTPClient.Response
        do { response = try HTTPClient.send("GET", router, path: "/v1/cluster", timeout: timeout) } catch {
            throw .unreachable(router: "http://\(router)", "\(error)")
        }
        guard response.status == 200, let status = try? JSONDecoder().decode(ClusterStatus.self, from: response.body) else {
            throw .notARouter(router: "http://\(router)", status: response.status)
        }
        return status
    }
}

/// Why a router's cluster status could not be read.
public enum ClusterStatusError: Error, CustomStringConvertible, Equatable {
    case unreachable(router: String, String)
    case notARouter(router: String, status: Int)

    public var description: String {
        switch self {
        case .unreachable(let router, let why): "cannot reach the router at \(router): \(why)"
        case .notARouter(let router, let status):
            "\(router)/v1/cluster answered HTTP \(status) without a member list: is this a Colony router (not 'colony serve')?"
        }
    }
}
