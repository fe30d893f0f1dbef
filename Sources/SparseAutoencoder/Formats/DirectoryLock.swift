import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One writer per run directory: an exclusive flock on its `.sae-lock`, held until the process
/// ends. The kernel drops it when a process dies, so a killed run never blocks the next; a second
/// writer is refused with a sentence naming the holder (pid, command, time).
///
/// The library's own writers honour it too: `SAEExport` locks a run directory before writing
/// into it, and `UserOutput` never replaces a run's own files (`ownFiles`), even with --force.
package struct DirectoryLock: Sendable {
    package static let fileName = ".sae-lock"
    /// The files sae writes into a run directory (and `figures/`): all that `--force` may delete.
    package static let ownFiles: Set<String> = ["config.json", "model.safetensors", "history.json", "metrics.json",
                                                "checkpoint.safetensors", "status.json", "eval.json", fileName]
    /// The file that makes a directory a run.
    package static let configFile = "config.json"

    package let directory: String
    package var path: String { directory + "/" + DirectoryLock.fileName }

    package init(directory: String) { self.directory = directory }

    /// Who holds the lock, if another process does (without creating anything).
    package func holder() -> String? {
        if DirectoryLock.heldLock.withLock({ DirectoryLock.held[key] != nil }) { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) != 0 else {
            flock(fd, LOCK_UN)
            return nil
        }
        return DirectoryLock.holder(fd)
    }

    /// Takes the lock (a no-op if this process holds it already).
    package func lock() throws {
        let key = self.key
        DirectoryLock.heldLock.lock()
        defer { DirectoryLock.heldLock.unlock() }
        if DirectoryLock.held[key] != nil { return }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw SAEError("cannot lock \(directory) (\(String(cString: strerror(errno)))): is it a writable directory?") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = DirectoryLock.holder(fd)
            close(fd)
            throw DirectoryLock.inUse(directory, by: holder)
        }
        let command = CommandLine.arguments.map { ($0 as NSString).lastPathComponent == "sae" ? "sae" : $0 }.prefix(4).joined(separator: " ")
        let text = "pid \(getpid()), `\(command)`, since \(ISO8601DateFormatter().string(from: Date()))\n"
        // Written over the old text, then cut to length: a reader never finds the file empty.
        let written = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        if written > 0 { ftruncate(fd, off_t(written)) }
        DirectoryLock.held[key] = fd
    }

    package static func inUse(_ directory: String, by holder: String) -> SAEError {
        SAEError("\(directory) is in use by \(holder); wait for it to finish or stop it, or choose another directory")
    }

    /// The directory's canonical path: `runs/x`, `./runs/x` and a link to it are one lock.
    private var key: String {
        guard let resolved = realpath(directory, nil) else { return directory }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// What the lock file says of its holder, checked: the pid it names may have ended while the
    /// lock lives on in another process (one it started, or a program other than sae holding it).
    private static func holder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        guard text.hasPrefix("pid "), let pid = Int32(text.dropFirst(4).prefix { $0.isNumber }) else {
            return "another process (its \(fileName) names none; `fuser \(fileName)` in the directory does)"
        }
        if kill(pid, 0) != 0 && errno == ESRCH {
            return "a process other than the one its \(fileName) names (pid \(pid) has ended; `fuser \(fileName)` in the directory names the holder)"
        }
        return "another sae process (\(text))"
    }

    /// Locks held by this process, by canonical path: a process may open a run it already holds.
    nonisolated(unsafe) private static var held: [String: Int32] = [:]
    private static let heldLock = NSLock()
}
