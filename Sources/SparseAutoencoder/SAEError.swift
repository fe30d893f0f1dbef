/// The one error type the library throws: a single line saying what is wrong and, where there is
/// something to do about it, what to do. The CLI prints `error: <message>` and exits non-zero.
public struct SAEError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// A file that exists but is not what it should be.
    package static func badFile(_ path: String, _ problem: String) -> SAEError {
        SAEError("\(path): \(problem)")
    }

    /// A setting outside the range where it means something.
    package static func badSetting(_ name: String, _ problem: String) -> SAEError {
        SAEError("invalid \(name): \(problem)")
    }
}
