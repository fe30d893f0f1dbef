import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads dataset files over HTTP(S) and verifies each by the SHA-256 of its decompressed bytes
/// before it is moved into place, so the destination never holds a partial or wrong file.
enum Downloader {
    static func fetch(_ files: [FashionMNIST.File], from base: URL, into directory: String,
                      log: (String) -> Void) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in files {
            if FashionMNIST.path(of: file, in: directory) != nil { continue }
            let url = base.appendingPathComponent(file.name + ".gz")
            log("downloading \(url.absoluteString)")
            let body = try get(url, log: log)
            let bytes = [UInt8](body)
            let raw = Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, name: url.absoluteString) : bytes
            guard raw.count == file.bytes else {
                throw SAEError("\(url.absoluteString) decompresses to \(raw.count) bytes, expected \(file.bytes)")
            }
            var hasher = SHA256()
            hasher.update(raw)
            let digest = hasher.finalizeHex()
            guard digest == file.sha256 else {
                throw SAEError("\(url.absoluteString) has SHA-256 \(digest), expected \(file.sha256) (corrupt or tampered)")
            }
            // Store the raw bytes gzip'd or not exactly as served; the reader handles both.
            let destination = directory + "/" + file.name + (Gzip.isGzip(bytes) ? ".gz" : "")
            try AtomicFile.write(body, to: destination)
        }
    }

    /// A blocking GET; non-2xx statuses and transport failures become errors in words. It gives
    /// up when the server sends nothing for `idle` seconds or the whole transfer passes
    /// `deadline` seconds, and logs progress every few seconds.
    static func get(_ url: URL, idle: TimeInterval = 30, deadline: TimeInterval = 900,
                    log: (String) -> Void = { _ in }) throws -> Data {
        final class Box: @unchecked Sendable {
            var result: Result<Data, SAEError> = .failure(SAEError("no response"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = idle
        config.timeoutIntervalForResource = deadline
        let session = URLSession(configuration: config)
        let name = url.absoluteString
        let task = session.dataTask(with: url) { data, response, error in
            if let error {
                box.result = .failure(SAEError("downloading \(name) failed: " + describe(error, idle: idle)))
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                box.result = .failure(SAEError("downloading \(name) failed: the server answered HTTP \(http.statusCode)"))
            } else {
                box.result = .success(data ?? Data())
            }
            done.signal()
        }
        task.resume()
        let start = Date()
        var reported = start
        while done.wait(timeout: .now() + 1) == .timedOut {
            let now = Date()
            if now.timeIntervalSince(start) > deadline + 5 {
                task.cancel()
                session.invalidateAndCancel()
                throw SAEError("downloading \(name) timed out: not done after \(Int(deadline)) s")
            }
            if now.timeIntervalSince(reported) >= 5 {
                reported = now
                let received = Double(task.countOfBytesReceived) / 1e6
                log(String(format: "  %@: %.1f MB after %.0f s", url.lastPathComponent, received, now.timeIntervalSince(start)))
            }
        }
        session.finishTasksAndInvalidate()
        return try box.result.get()
    }

    /// URLSession's errors in words (its own text is "NSURLErrorDomain error -1001").
    static func describe(_ error: Error, idle: TimeInterval) -> String {
        let ns = error as NSError
        guard ns.domain == NSURLErrorDomain else { return ns.localizedDescription }
        switch ns.code {
        case NSURLErrorTimedOut: return "timed out (the server sent nothing for \(Int(idle)) s)"
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: return "the host name could not be resolved (no network, or a wrong address)"
        case NSURLErrorCannotConnectToHost: return "could not connect to the server (refused or unreachable)"
        case NSURLErrorNetworkConnectionLost: return "the connection was lost"
        case NSURLErrorNotConnectedToInternet: return "no network connection"
        case NSURLErrorCancelled: return "cancelled"
        default: return "network error \(ns.code)"
        }
    }
}
