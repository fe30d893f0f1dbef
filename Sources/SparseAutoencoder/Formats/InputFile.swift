import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading a whole input file (a .npy, an IDX file, a JSON file) with errors that say what is
/// wrong: missing, not readable, a directory, a device. A pipe with a writer (`<(python
/// make.py)`) is read to its end; a FIFO that nothing writes to is refused at once (opening it the
/// usual way would wait for a writer forever); a device is refused (`/dev/zero` would never end).
///
///     let data = try InputFile.contents(of: "acts.npy", kind: ".npy file")
package enum InputFile {
    package static func contents(of path: String, kind: String) throws -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SAEError.badFile(path, reason(errno)) }
        switch info.st_mode & S_IFMT {
        case S_IFREG, S_IFIFO: break
        case S_IFDIR: throw SAEError.badFile(path, "is a directory, not a \(kind)")
        default: throw SAEError.badFile(path, "is a device or a socket, not a \(kind)")
        }
        // Opened without waiting for a FIFO's writer, then read as usual.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SAEError.badFile(path, reason(errno)) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        defer { try? handle.close() }
        if info.st_mode & S_IFMT == S_IFIFO {
            // A writer has a few seconds to start (a process substitution's has started already).
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32((fifoWriterWait * 1000).rounded())) > 0 else {
                throw SAEError.badFile(path, "is a FIFO with nothing writing to it (waited \(fifoWriterWait) s), not a \(kind): give a regular file")
            }
        }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw SAEError.badFile(path, "could not be read (\(FileSystemError.describe(error)))")
        }
    }

    /// Seconds a FIFO's writer has to start writing: 3, or SAE_FIFO_WAIT (the tests' shorter wait).
    package static let fifoWriterWait: Double = {
        guard let text = ProcessInfo.processInfo.environment["SAE_FIFO_WAIT"], let v = Double(text), v >= 0, v <= 60 else { return 3 }
        return v
    }()

    /// Why a path cannot be opened, in words.
    package static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: "does not exist"
        case EACCES: "cannot be read (permission denied)"
        default: "cannot be read (\(String(cString: strerror(code))))"
        }
    }
}
