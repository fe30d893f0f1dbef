import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file's identity as a resume checks it: its size and a SHA-256 of four 4 KiB blocks (the
/// start, a third in, two thirds in, the end), so a file that was replaced, grown, cut or
/// rewritten is told apart without reading it all; `touch` or a copy changes nothing.
///
///     let before = try DataFingerprint.files(["runs/data/train"])   // [path: fingerprint]
package enum DataFingerprint {
    /// The fingerprints of the .npy files `paths` name (a directory: its .npy files, as training
    /// reads them).
    package static func files(_ paths: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for file in try VectorShards.files(for: paths) { out[file] = try fingerprint(file) }
        return out
    }

    static func fingerprint(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SAEError.badFile(path, InputFile.reason(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
        let size = Int(info.st_size), block = 4096
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: block)
        for offset in Set([0, size / 3, 2 * size / 3, max(0, size - block)]).sorted() {
            let n = pread(fd, &buffer, block, off_t(offset))
            if n > 0 { bytes += buffer[0..<n] }
        }
        var hash = SHA256()
        hash.update(bytes)
        return "\(size) bytes, sha256 of 4 blocks \(hash.finalizeHex())"
    }
}
