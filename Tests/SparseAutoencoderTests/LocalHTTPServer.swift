import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 server on 127.0.0.1 (a free port), serving fixed bodies by path and 404
/// otherwise, one connection at a time. Enough to test the dataset download against real sockets.
final class LocalHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let socketFD: Int32
    private let files: [String: [UInt8]]
    private let lock = NSLock()
    private var requested: [String] = []

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/")! }
    var requestedPaths: [String] { lock.withLock { requested } }

    init(files: [String: [UInt8]]) throws {
        self.files = files
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 8) == 0 else { throw NSError(domain: "LocalHTTPServer", code: 1) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        socketFD = fd
        Thread { [self] in self.acceptLoop() }.start()
    }

    func stop() {
        shutdown(socketFD, Int32(SHUT_RDWR))
        close(socketFD)
    }

    private func acceptLoop() {
        while true {
            let client = accept(socketFD, nil, nil)
            if client < 0 { return }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var request = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            request += buffer[0..<n]
        }
        let firstLine = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let path = firstLine.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        lock.withLock { requested.append(path) }
        let body = files[path]
        let status = body == nil ? "404 Not Found" : "200 OK"
        let payload = body ?? Array("not found".utf8)
        let head = "HTTP/1.1 \(status)\r\nContent-Length: \(payload.count)\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
        send(client, Array(head.utf8) + payload)
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n <= 0 { return }
            offset += n
        }
    }
}
