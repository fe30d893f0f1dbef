import CSignals
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files written where the user said (`--out` of encode, reconstruct, export, compare, report,
/// sweep), under rules that never harm a path sae does not own. The tool's own run files go
/// through `AtomicFile` instead.
///
/// What happens at `path`, by what is there:
/// - nothing: a new file, written atomically (temporary file, fsync, rename) in an existing directory;
/// - a regular file: refused unless `force`; with `force` it is replaced atomically keeping its
///   permissions, or, when it has other hard links, rewritten in place so every name sees the new
///   bytes. A run's own file (config.json, model.safetensors, ... in a run directory) is refused
///   even with `force`: one command's output never destroys another's run;
/// - a symbolic link: the rules apply to what it points to; the link itself is never replaced
///   (a dangling link is refused);
/// - a character device or a FIFO (`/dev/null`, a terminal, a named pipe): the bytes are
///   written to it, nothing is created or replaced; `-`, `/dev/stdout`, `/dev/stderr` and
///   `/dev/fd/N` are this process's own descriptors, written to whatever they are connected to;
/// - a directory, a block device or a socket: refused.
///
///     try UserOutput.write(data, to: "codes.npy", force: false)
package enum UserOutput {
    /// Writes `data` to `path` under the rules above.
    package static func write(_ data: Data, to path: String, force: Bool) throws {
        try write(to: path, force: force) { sink in try data.withUnsafeBytes { try sink.write($0) } }
    }

    /// The same with the bytes streamed by `body` (output larger than memory: `sae encode` of a
    /// streamed dataset). If `body` throws, a new or replaced file is left as it was; bytes
    /// already sent to a pipe or device stay sent.
    package static func write(to path: String, force: Bool, body: (inout AtomicFile.Sink) throws -> Void) throws {
        if let fd = standardDescriptor(path) { return try stream(to: fd, name: path, body) }
        switch try plan(path, force: force) {
        case .create(let target):
            try AtomicFile.write(to: target, body: body)
        case .replace(let target, let info):
            if info.st_nlink > 1 {
                try replaceInPlace(target, body)
            } else {
                try AtomicFile.write(to: target, owner: (info.st_mode & 0o7777, info.st_uid, info.st_gid), body: body)
            }
        case .stream(let target):
            try writeInPlace(to: target, truncate: false, body)
        }
    }

    /// Writes several files into `directory` (created if missing), checking every one of them
    /// before writing any, so that a refusal leaves nothing half-written.
    package static func write(_ files: [(name: String, data: Data)], into directory: String, force: Bool) throws {
        try makeDirectory(directory)
        let targets = files.map { directory + "/" + $0.name }
        for target in targets { try check(target, force: force) }
        for (file, target) in zip(files, targets) { try write(file.data, to: target, force: force) }
    }

    /// Makes `path` a directory if nothing is there; accepts an existing directory (or a link to
    /// one); refuses anything else.
    package static func makeDirectory(_ path: String) throws {
        guard !path.isEmpty else { throw SAEError("the output directory is an empty path; give a directory name") }
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw SAEError("\(path) exists and is not a directory; choose another --out") }
            guard access(path, W_OK) == 0 else { throw SAEError("\(path) is not writable (\(String(cString: strerror(errno))))") }
            return
        }
        if lstat(path, &info) == 0 { throw SAEError("\(path) is a symbolic link to nothing; remove it or choose another --out") }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SAEError("cannot create the directory \(path): \(FileSystemError.describe(error))")
        }
    }

    private enum Plan {
        case create(String)
        case replace(String, stat)
        case stream(String)
    }

    /// Throws the sentence that refuses writing `path`, if any (before a long computation);
    /// `reading` names the files the command reads (its inputs, the run's files), which the
    /// output must not be under any name (a hard link, a symlink, `./` spellings).
    package static func check(_ path: String, force: Bool, reading inputs: [String] = []) throws {
        _ = try plan(path, force: force)
        try refuseSameFile(path, as: inputs)
    }

    /// Throws if `path` exists and is one of `inputs` under any name.
    package static func refuseSameFile(_ path: String, as inputs: [String]) throws {
        var target = stat(), input = stat()
        guard standardDescriptor(path) == nil, stat(path, &target) == 0, target.st_mode & S_IFMT == S_IFREG else { return }
        for file in inputs where stat(file, &input) == 0 && input.st_dev == target.st_dev && input.st_ino == target.st_ino {
            throw SAEError("\(path) is the same file as \(file), which this command reads; choose another output")
        }
    }

    /// `-`, /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N name a descriptor this
    /// process already has (whatever the shell connected it to, a file included): written to as is.
    static func standardDescriptor(_ path: String) -> Int32? {
        switch path {
        case "-", "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                if let n = Int32(path.dropFirst(prefix.count)), fcntl(n, F_GETFD) != -1 { return n }
            }
            return nil
        }
    }

    /// What writing `path` would do, or the sentence that refuses it.
    private static func plan(_ path: String, force: Bool) throws -> Plan {
        guard !path.isEmpty else { throw SAEError("the output path is empty; give a file name") }
        if standardDescriptor(path) != nil { return .stream(path) }
        guard !path.hasSuffix("/") else { throw SAEError("\(path) names a directory; give a file name") }
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw SAEError("cannot use \(path): \(String(cString: strerror(errno)))") }
            let parent = (path as NSString).deletingLastPathComponent
            let directory = parent.isEmpty ? "." : parent
            var parentInfo = stat()
            guard stat(directory, &parentInfo) == 0 else { throw SAEError("cannot write \(path): the directory \(directory) does not exist") }
            guard parentInfo.st_mode & S_IFMT == S_IFDIR else { throw SAEError("cannot write \(path): \(directory) is not a directory") }
            guard access(directory, W_OK) == 0 else { throw SAEError("cannot write \(path): \(directory) is not writable") }
            return .create(path)
        }
        var target = path
        if info.st_mode & S_IFMT == S_IFLNK {
            // What the link leads to (a /proc/self/fd link to a pipe has no path: it is streamed to).
            guard stat(path, &info) == 0 else { throw SAEError("\(path) is a symbolic link to nothing; remove it or choose another output") }
            if info.st_mode & S_IFMT == S_IFREG {
                guard let resolved = realpath(path, nil) else { throw SAEError("cannot follow the link \(path): \(String(cString: strerror(errno)))") }
                target = String(cString: resolved)
                free(resolved)
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFCHR, S_IFIFO:
            return .stream(target)
        case S_IFREG:
            if let run = owningRun(of: target) {
                throw SAEError("\(path) belongs to the run in \(run); write the output somewhere else")
            }
            // Another name of a run's file (a hard link made anywhere): written in place, it would
            // change that run. Its other names cannot be listed, but its contents say what it is.
            if info.st_nlink > 1, let kind = runFileKind(target) {
                throw SAEError("\(path) is a hard link to a run's \(kind) (\(info.st_nlink) names); writing it would change that run: "
                    + "remove the link or choose another output")
            }
            guard force else { throw SAEError("\(path) already exists; pass --force to replace it, or choose another output") }
            // Replacing writes a temporary file beside the target first (then renames it, or
            // copies it into a hard-linked file): refused here, before any long computation.
            let parent = (target as NSString).deletingLastPathComponent
            guard access(parent.isEmpty ? "." : parent, W_OK) == 0 else {
                throw SAEError("cannot replace \(path): its directory \(parent.isEmpty ? "." : parent) is not writable")
            }
            return .replace(target, info)
        case S_IFDIR:
            throw SAEError("\(path) is a directory; give a file name")
        case S_IFBLK:
            throw SAEError("\(path) is a block device; sae does not write to disks directly")
        default:
            throw SAEError("\(path) is not a regular file, a pipe or a terminal; choose another output")
        }
    }

    /// What run file `file` holds, judged by its first bytes: sae's weights or checkpoint
    /// (safetensors whose metadata says "sae-autoencoder" / "sae-checkpoint"), or a run's
    /// config.json, status.json, history.json or metrics.json; nil for anything else.
    static func runFileKind(_ file: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: file) else { return nil }
        defer { try? handle.close() }
        let head = String(decoding: (try? handle.read(upToCount: 1 << 16)) ?? Data(), as: UTF8.self)
        if head.contains("\"sae-autoencoder\"") { return "weights (model.safetensors)" }
        if head.contains("\"sae-checkpoint\"") { return "checkpoint" }
        let text = head.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("{") || text.hasPrefix("[") else { return nil }
        if text.contains("\"format_version\"") && text.contains("\"training\"") && text.contains("\"model\"") { return "config.json" }
        if text.hasPrefix("{") && text.contains("\"state\"") && RunFileStates.all.contains(where: { text.contains("\"\($0)\"") }) { return "status.json" }
        if text.contains("\"final_val_loss\"") || text.contains("\"test_mse\"") { return "metrics.json" }
        if text.hasPrefix("[") && text.contains("\"val_loss\"") && text.contains("\"epoch\"") { return "history.json" }
        return nil
    }

    /// The run directory that `file` is one of the own files of, if any.
    static func owningRun(of file: String) -> String? {
        let name = (file as NSString).lastPathComponent
        let directory = (file as NSString).deletingLastPathComponent
        let run = directory.isEmpty ? "." : directory
        guard DirectoryLock.ownFiles.contains(name), FileManager.default.fileExists(atPath: run + "/" + DirectoryLock.configFile) else { return nil }
        return run
    }

    /// Rewrites a hard-linked file in place (every name sees the new bytes), but only once the
    /// whole output exists: it is streamed into a temporary file beside it first, so a failure
    /// part-way leaves the file as it was.
    private static func replaceInPlace(_ path: String, _ body: (inout AtomicFile.Sink) throws -> Void) throws {
        let temp = AtomicFile.temporaryPath(beside: path)
        let slot = sae_signals_register(temp)
        defer { sae_signals_unregister(slot) }
        let fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SAEError.badFile(path, "cannot write (\(String(cString: strerror(errno))))") }
        defer {
            close(fd)
            unlink(temp)
        }
        try stream(to: fd, name: path, body)
        try writeInPlace(to: path, truncate: true) { sink in
            var buffer = [UInt8](repeating: 0, count: 1 << 20), offset: off_t = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw SAEError("cannot write \(path): \(String(cString: strerror(errno)))") }
                if n == 0 { return }
                try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                offset += off_t(n)
            }
        }
    }

    /// Writes to an existing file, device or pipe without replacing it.
    private static func writeInPlace(to path: String, truncate: Bool, _ body: (inout AtomicFile.Sink) throws -> Void) throws {
        let fd = open(path, O_WRONLY | (truncate ? O_TRUNC : 0))
        guard fd >= 0 else { throw SAEError.badFile(path, "cannot be opened for writing (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        try stream(to: fd, name: path, body)
    }

    private static func stream(to fd: Int32, name path: String, _ body: (inout AtomicFile.Sink) throws -> Void) throws {
        var sink = AtomicFile.Sink(fd: fd)
        do {
            try body(&sink)
            try sink.flush()
        } catch let failure as AtomicFile.Sink.Failure {
            throw SAEError("cannot write \(path): \(failure.code == EPIPE ? "the reader closed the pipe" : failure.reason)")
        }
    }
}

/// File-system errors as sentences rather than Foundation's `NSCocoaErrorDomain Code=...` dumps.
package enum FileSystemError {
    package static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or directory"
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
        case NSFileWriteOutOfSpaceError: return "no space left on the device"
        case NSFileWriteFileExistsError: return "a file of that name is in the way"
        case NSFileWriteVolumeReadOnlyError: return "the file system is read-only"
        case NSFileWriteInvalidFileNameError, NSFileReadInvalidFileNameError: return "the name is not a valid file name (too long, or not allowed here)"
        case NSFileWriteUnknownError: return "the write failed (a full or read-only device, or one that takes no files)"
        case NSFileReadUnknownError: return "the read failed"
        case NSFileReadCorruptFileError: return "the file's contents could not be read"
        case NSFileReadTooLargeError: return "the file is too large to read"
        default: return "the file system refused (\(ns.localizedDescription))"
        }
    }
}

/// The states a run's status.json names (`RunState` in the toolkit).
enum RunFileStates {
    static let all = ["training", "interrupted", "diverged", "finished"]
}
