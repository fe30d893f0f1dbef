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
        let directory = (path as NSString).deletingLastPathComponent
        let temp = (directory.isEmpty ? "." : directory) + "/." + (path as NSString).lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw SAEError.badFile(path, "cannot write (\(String(cString: strerror(errno))))")
        }
        if let owner {
            _ = fchown(fd, owner.uid, owner.gid)   // only root may give a file away; otherwise it stays ours
            _ = fchmod(fd, owner.mode)
        }
        var ok = true
        var failure = ""
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false; failure = String(cString: strerror(errno)); return
                }
                offset += n
            }
        }
        if ok && fsync(fd) != 0 { ok = false; failure = String(cString: strerror(errno)) }
        close(fd)
        if ok { beforeRename() }
        if ok && rename(temp, path) != 0 { ok = false; failure = String(cString: strerror(errno)) }
        if ok { syncDirectory(directory.isEmpty ? "." : directory) }
        if !ok {
            unlink(temp)
            throw SAEError.badFile(path, "write failed (\(failure))")
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
