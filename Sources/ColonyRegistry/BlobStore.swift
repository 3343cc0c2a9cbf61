import Crypto
import Foundation

/// Weights stored by content: `<root>/blobs/sha256/<digest>`, hard-linked from the file
/// registered when both are on one filesystem, else copied. Reading checks the digest; a
/// check is remembered by the blob's size and modification time (`verified.json`), so an
/// unchanged blob is not hashed again.
public struct BlobStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public func path(of digest: String) -> String { "\(root)/blobs/sha256/\(digest)" }

    /// SHA-256 of the file at `path`, hex, read in 8 MiB chunks.
    public static func sha256(path: String) throws(RegistryError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .unreadable(path, why: "no such file, or no permission") }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 8 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        } catch { throw .unreadable(path, why: "\(error)") }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Stores the file at `path`; returns its digest. A blob already there is kept.
    public func add(_ path: String) throws(RegistryError) -> String {
        let digest = try Self.sha256(path: path)
        let target = self.path(of: digest)
        let fm = FileManager.default
        if fm.fileExists(atPath: target) { return digest }
        do {
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // Into a temporary name first, then renamed: a reader never sees half a blob.
            let temporary = target + ".\(UUID().uuidString).tmp"
            if link(path, temporary) != 0 { try fm.copyItem(atPath: path, toPath: temporary) }
            if rename(temporary, target) != 0 {
                try? fm.removeItem(atPath: temporary)
                if !fm.fileExists(atPath: target) { throw RegistryError.unreadable(target, why: "cannot store the blob") }
            }
        } catch let error as RegistryError {
            throw error
        } catch {
            throw .unreadable(path, why: "cannot store it in \(root): \(error)")
        }
        return digest
    }

    /// The path of `version`'s blob, once its bytes are checked against `digest`.
    public func verified(_ digest: String, version: String) throws(RegistryError) -> String {
        let target = path(of: digest)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: target) else {
            throw .blobMissing(version: version, digest: digest, path: target)
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let stamp = "\(size):\(mtime)"
        if checks()[digest] == stamp { return target }
        let actual = try Self.sha256(path: target)
        guard actual == digest else { throw .blobAltered(version: version, expected: digest, actual: actual, path: target) }
        remember(digest, stamp)
        return target
    }

    private var checksPath: String { "\(root)/verified.json" }

    private func checks() -> [String: String] {
        guard let data = FileManager.default.contents(atPath: checksPath),
            let checks = try? JSONDecoder().decode([String: String].self, from: data)
        else { return [:] }
        return checks
    }

    /// Records a check; a lost race with another process only costs a later re-hash.
    private func remember(_ digest: String, _ stamp: String) {
        var all = checks()
        all[digest] = stamp
        guard let data = try? JSONEncoder().encode(all) else { return }
        let temporary = checksPath + ".\(UUID().uuidString).tmp"
        if FileManager.default.createFile(atPath: temporary, contents: data), rename(temporary, checksPath) != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }
}
