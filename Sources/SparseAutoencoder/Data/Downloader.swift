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
            let body = try get(url)
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

    /// A blocking GET; non-2xx statuses and transport failures become errors.
    static func get(_ url: URL, timeout: TimeInterval = 120) throws -> Data {
        final class Box: @unchecked Sendable {
            var result: Result<Data, SAEError> = .failure(SAEError("no response"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: config)
        let task = session.dataTask(with: url) { data, response, error in
            if let error {
                box.result = .failure(SAEError(error.localizedDescription))
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                box.result = .failure(SAEError("HTTP status \(http.statusCode)"))
            } else {
                box.result = .success(data ?? Data())
            }
            done.signal()
        }
        task.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        return try box.result.get()
    }
}
