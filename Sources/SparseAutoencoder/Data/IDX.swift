import Foundation

/// An array read from an IDX file (the MNIST / Fashion-MNIST format): unsigned bytes, row-major.
package struct IDXArray: Equatable, Sendable {
    /// Dimensions, outermost first: (count, 28, 28) for images, (count) for labels.
    package let shape: [Int]
    package let bytes: [UInt8]
}

/// Reader for IDX files, gzip'd or raw.
///
/// Layout: two zero bytes, a data-type byte (0x08 = unsigned byte, the only type used by the
/// MNIST family), the number of dimensions, then each dimension as a big-endian UInt32, then data.
package enum IDX {
    /// Reads `path`, decompressing it first if it starts with the gzip magic.
    package static func read(path: String) throws -> IDXArray {
        var bytes = [UInt8](try InputFile.contents(of: path, kind: "IDX file"))
        if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, name: path) }
        return try parse(bytes, name: path)
    }

    /// Parses an uncompressed IDX byte array; `name` is used in errors.
    package static func parse(_ bytes: [UInt8], name: String) throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw SAEError.badFile(name, "too short for an IDX file (\(bytes.count) bytes)")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw SAEError.badFile(name, "not an IDX file (magic starts 0x\(hex(bytes[0]))\(hex(bytes[1])), expected 0x0000)")
        }
        guard bytes[2] == 0x08 else {
            throw SAEError.badFile(name, "unsupported IDX data type 0x\(hex(bytes[2])); only unsigned bytes (0x08) are supported")
        }
        let rank = Int(bytes[3])
        guard (1...4).contains(rank) else {
            throw SAEError.badFile(name, "IDX rank \(rank) is not between 1 and 4")
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw SAEError.badFile(name, "truncated IDX header (\(bytes.count) bytes, need \(headerSize))")
        }
        var shape: [Int] = []
        var count = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let dim = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= bytes.count else {
                throw SAEError.badFile(name, "IDX dimensions \(shape + [dim]) describe more data than the file holds")
            }
            shape.append(dim)
            count = product
        }
        let expected = headerSize + count
        guard bytes.count == expected else {
            let what = bytes.count < expected ? "truncated" : "has trailing bytes"
            throw SAEError.badFile(name, "IDX data \(what): shape \(shape) needs \(expected) bytes, file has \(bytes.count)")
        }
        return IDXArray(shape: shape, bytes: Array(bytes[headerSize...]))
    }

    /// Serialises an unsigned-byte array as IDX (uncompressed), e.g. to write small test datasets.
    package static func encode(shape: [Int], bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
        for d in shape {
            out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                    UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
        }
        return out + bytes
    }

    private static func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
