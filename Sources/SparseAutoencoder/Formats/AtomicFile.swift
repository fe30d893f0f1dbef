import CSignals
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a reader (or a crash) never sees a partial one: the bytes go to a
/// temporary file beside the destination, are flushed to disk, then renamed over it.
package enum AtomicFile {
    /// - Parameter beforeRename: runs after the data is on disk and before it replaces `path`
    ///   (where a crash is most interesting to test).
    ///   - owner: the permissions, user and group the file gets (those of a file it replaces);
    ///     nil: 0644 less the umask, and the process's user.
    package static func write(_ data: Data, to path: String, owner: (mode: mode_t, uid: uid_t, gid: gid_t)? = nil,
                              beforeRename: () -> Void = {}) throws {
        try write(to: path, owner: owner, beforeRename: beforeRename) { sink in
            try data.withUnsafeBytes { try sink.write($0) }
        }
    }

    /// The same with the bytes streamed by `body` into a buffered `Sink`, so that a large file
    /// (a checkpoint: the weights and Adam's two moments) is never assembled in memory.
    package static func write(to path: String, owner: (mode: mode_t, uid: uid_t, gid: gid_t)? = nil,
                              beforeRename: () -> Void = {}, body: (inout Sink) throws -> Void) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temp = temporaryPath(beside: path)
        // Removed if a signal ends the process before the rename (see `Interrupt`).
        let slot = sae_signals_register(temp)
        defer { sae_signals_unregister(slot) }
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw SAEError.badFile(path, "cannot write (\(String(cString: strerror(errno))))")
        }
        if let owner {
            _ = fchown(fd, owner.uid, owner.gid)   // only root may give a file away; otherwise it stays ours
            _ = fchmod(fd, owner.mode)
        }
        var sink = Sink(fd: fd)
        var failure: String?
        do {
            try body(&sink)
            try sink.flush()
            if fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        } catch let error as Sink.Failure {
            failure = error.reason
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        if failure == nil {
            beforeRename()
            if rename(temp, path) != 0 { failure = String(cString: strerror(errno)) }
        }
        guard let failure else { return syncDirectory(directory.isEmpty ? "." : directory) }
        unlink(temp)
        throw SAEError.badFile(path, "write failed (\(failure))")
    }

    /// `DIR/.NAME.tmp-PID-RANDOM` for `DIR/NAME`: hidden, unique, and recognisable as a killed
    /// write's leftover (`RunDirectory.removeStaleTemporaryFiles`).
    package static func temporaryPath(beside path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return (directory.isEmpty ? "." : directory) + "/." + (path as NSString).lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Buffered writes to a file descriptor (1 MB at a time).
    package struct Sink {
        struct Failure: Error {
            let code: Int32
            var reason: String { String(cString: strerror(code)) }
        }
        let fd: Int32
        private var buffer: [UInt8] = []
        private static let capacity = 1 << 20

        init(fd: Int32) {
            self.fd = fd
            buffer.reserveCapacity(Sink.capacity)
        }

        package mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
            if buffer.count + bytes.count > Sink.capacity { try flush() }
            if bytes.count >= Sink.capacity { return try writeAll(bytes) }
            buffer.append(contentsOf: bytes)
        }

        package mutating func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

        mutating func flush() throws {
            try buffer.withUnsafeBytes { try writeAll($0) }
            buffer.removeAll(keepingCapacity: true)
        }

        private func writeAll(_ raw: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure(code: errno)
                }
                offset += n
            }
        }
    }

    /// Makes a rename durable: fsync of the directory that holds the file.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    package static func write(_ bytes: [UInt8], to path: String) throws {
        try write(Data(bytes), to: path)
    }

    package static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}
