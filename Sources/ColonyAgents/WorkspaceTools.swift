import Foundation

/// A run's own folder, and the only files its tools may touch: relative paths only,
/// no `..`, no absolute paths, no links out.
public struct Workspace: Sendable {
    public let root: URL

    public init(root: URL) throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        self.root = root.standardizedFileURL.resolvingSymlinksInPath()
    }

    /// The file a relative path names inside the workspace, or a `ToolError`.
    public func resolve(_ path: String) throws -> URL {
        guard !path.isEmpty else { throw ToolError.emptyPath }
        guard !path.hasPrefix("/") && !path.hasPrefix("~") else { throw ToolError.absolutePath(path) }
        guard !path.split(separator: "/").contains("..") else { throw ToolError.parentComponent(path) }
        let url = root.appendingPathComponent(path).standardizedFileURL.resolvingSymlinksInPath()
        guard url.path == root.path || url.path.hasPrefix(root.path + "/") else {
            throw ToolError.outsideWorkspace(path)
        }
        return url
    }
}

/// Reads a text file of the workspace.
public struct ReadFileTool: Tool {
    public let workspace: Workspace
    public let name = "workspace.read"
    public let description = "Read a text file from the workspace."
    public let parametersJSON = #"{"type":"object","properties":{"path":{"type":"string"}}}"#
    public let isIdempotent = true
    public init(workspace: Workspace) { self.workspace = workspace }

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable { let path: String }
        let url = try workspace.resolve(try decodeArguments(Arguments.self, arguments, tool: name).path)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ToolError.noFile(url.lastPathComponent) }
        return String(decoding: data.prefix(64 * 1024), as: UTF8.self)
    }
}

/// Writes (replaces) a text file of the workspace.
public struct WriteFileTool: Tool {
    public let workspace: Workspace
    public let name = "workspace.write"
    public let description = "Write a text file in the workspace, replacing it."
    public let parametersJSON = #"{"type":"object","properties":{"content":{"type":"string"},"path":{"type":"string"}}}"#
    public let isIdempotent = true
    public init(workspace: Workspace) { self.workspace = workspace }

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable {
            let path: String
            let content: String
        }
        let a = try decodeArguments(Arguments.self, arguments, tool: name)
        let url = try workspace.resolve(a.path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(a.content.utf8).write(to: url, options: .atomic)
        return "wrote \(a.content.utf8.count) bytes to \(a.path)"
    }
}

/// Lists the files of the workspace.
public struct ListFilesTool: Tool {
    public let workspace: Workspace
    public let name = "workspace.list"
    public let description = "List the files in the workspace."
    public let parametersJSON = #"{"type":"object","properties":{}}"#
    public let isIdempotent = true
    public init(workspace: Workspace) { self.workspace = workspace }

    public func call(arguments: String) async throws -> String {
        let items = (FileManager.default.enumerator(atPath: workspace.root.path)?.allObjects as? [String]) ?? []
        return items.sorted().joined(separator: "\n")
    }
}
