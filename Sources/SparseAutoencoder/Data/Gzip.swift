import CZlib
import Foundation

/// gzip decompression through zlib.
package enum Gzip {
    /// Decompressed output is refused beyond this size: no file this tool reads is that large,
    /// and a hostile file must not exhaust memory.
    static let maximumOutputBytes = 1 << 30

    package static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Inflates every gzip member of `bytes` (concatenated members are one stream per RFC 1952).
    /// - Parameter name: named in errors.
    package static func decompress(_ bytes: [UInt8], name: String) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: a gzip header and trailer, checked by zlib (CRC-32 and length).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw SAEError.badFile(name, "zlib could not start decompressing")
        }
        defer { inflateEnd(&stream) }

        // The trailer's ISIZE is a hint only (mod 2^32, possibly lying): start from it, capped.
        var output = [UInt8]()
        if bytes.count >= 4 {
            let n = bytes.count
            let hint = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
            output.reserveCapacity(min(max(hint, bytes.count), 256 << 20))
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        try bytes.withUnsafeBufferPointer { input in
            var offset = 0
            while offset < input.count {
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + offset)
                stream.avail_in = UInt32(min(input.count - offset, Int(UInt32.max)))
                let startIn = Int(stream.avail_in)
                var status: Int32 = Z_OK
                repeat {
                    status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
                        stream.next_out = out.baseAddress
                        stream.avail_out = UInt32(out.count)
                        let s = inflate(&stream, Z_NO_FLUSH)
                        return s
                    }
                    if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
                        let reason = stream.msg.map { String(cString: $0) } ?? "code \(status)"
                        throw SAEError.badFile(name, "corrupt gzip data (\(reason))")
                    }
                    let produced = chunk.count - Int(stream.avail_out)
                    if output.count + produced > maximumOutputBytes {
                        throw SAEError.badFile(name, "decompresses to more than \(maximumOutputBytes >> 20) MiB; refusing")
                    }
                    output.append(contentsOf: chunk[0..<produced])
                    if status == Z_BUF_ERROR && produced == 0 {
                        throw SAEError.badFile(name, "gzip data is truncated (the file ends mid-stream)")
                    }
                } while status != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0)
                offset += startIn - Int(stream.avail_in)
                guard status == Z_STREAM_END else {
                    throw SAEError.badFile(name, "gzip data is truncated (the file ends mid-stream)")
                }
                // Another member may follow; anything else after the end is an error.
                if offset < input.count {
                    guard input.count - offset >= 2, input[offset] == 0x1f, input[offset + 1] == 0x8b else {
                        throw SAEError.badFile(name, "unexpected bytes after the end of the gzip data")
                    }
                    inflateReset(&stream)
                }
            }
        }
        return output
    }

    /// Compresses `bytes` as one gzip member (used to write gzip'd IDX files, e.g. for tests).
    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: write a gzip header and trailer.
        guard deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            fatalError("zlib deflateInit2 failed: out of memory")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { inp in
            output.withUnsafeMutableBufferPointer { out -> Int in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "deflate with a deflateBound-sized buffer must finish")
                return out.count - Int(stream.avail_out)
            }
        }
        return Array(output[0..<produced])
    }
}
