import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading a whole input file (a .npy, an IDX file, a JSON file) with errors that say what is
/// wrong: missing, not readable, a directory, a device. A pipe (`<(python make.py)`) is read to
/// its end; a device is refused (`/dev/zero` would never end).
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
        guard let handle = FileHandle(forReadingAtPath: path) else { throw SAEError.badFile(path, reason(errno)) }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw SAEError.badFile(path, "could not be read (\(FileSystemError.describe(error)))")
        }
    }

    /// Why a path cannot be opened, in words.
    package static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: "does not exist"
        case EACCES: "cannot be read (permission denied)"
        default: "cannot be read (\(String(cString: strerror(code))))"
        }
    }
}
