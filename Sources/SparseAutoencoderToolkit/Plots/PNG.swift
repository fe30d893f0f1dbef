import CZlib
import SparseAutoencoder

/// A minimal PNG encoder: 8-bit greyscale or RGB, no interlacing, one zlib-compressed IDAT chunk,
/// every chunk with its CRC-32. Enough for image grids that open in any viewer or browser.
///
///     let png = PNG.encode(GreyImage(width: 28, height: 28, pixels: bytes))
package enum PNG {
    package static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    package static func encode(_ image: RGBImage) -> [UInt8] {
        encode(width: image.width, height: image.height, colorType: 2, channels: 3, pixels: image.pixels)
    }

    package static func encode(_ image: GreyImage) -> [UInt8] {
        encode(width: image.width, height: image.height, colorType: 0, channels: 1, pixels: image.pixels)
    }

    private static func encode(width: Int, height: Int, colorType: UInt8, channels: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(pixels.count == width * height * channels && width > 0 && height > 0)
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, colorType, 0, 0, 0] // bit depth, colour type, compression, filter, interlace
        // Each scanline starts with its filter type; 0 = none (zlib does the compressing).
        let stride = width * channels
        var raw = [UInt8]()
        raw.reserveCapacity(height * (stride + 1))
        for y in 0..<height {
            raw.append(0)
            raw += pixels[(y * stride)..<((y + 1) * stride)]
        }
        return signature + chunk("IHDR", header) + chunk("IDAT", zlibCompress(raw)) + chunk("IEND", [])
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        UInt32(bytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) })
    }

    static func zlibCompress(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&out, &length, bytes, uLong(bytes.count), 9)
        precondition(status == Z_OK, "zlib compress2 failed (\(status)) with a compressBound-sized buffer")
        return Array(out[0..<Int(length)])
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
}

/// An 8-bit greyscale image, row-major.
package struct GreyImage: Equatable, Sendable {
    package var width: Int
    package var height: Int
    package var pixels: [UInt8]

    package init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Floats mapped linearly from [lo, hi] to [0, 255] (clamped); by default [0, 1].
    package init(width: Int, height: Int, values: ArraySlice<Float>, range: ClosedRange<Float> = 0...1) {
        let span = max(range.upperBound - range.lowerBound, 1e-12)
        self.init(width: width, height: height, pixels: values.map { v in
            // NaN (non-finite weights or data) draws black rather than trapping.
            v.isNaN ? 0 : UInt8(min(max((v - range.lowerBound) / span, 0), 1) * 255 + 0.5)
        })
    }
}

/// An 8-bit RGB image, row-major, 3 bytes a pixel.
package struct RGBImage: Equatable, Sendable {
    package var width: Int
    package var height: Int
    package var pixels: [UInt8]

    /// A blank image of one colour.
    package init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { pixels[3 * i] = fill.0; pixels[3 * i + 1] = fill.1; pixels[3 * i + 2] = fill.2 }
    }

    /// Draws `tile` (greyscale) with its top-left corner at (x, y), each pixel as a scale x scale block.
    package mutating func draw(_ tile: GreyImage, x: Int, y: Int, scale: Int = 1) {
        for ty in 0..<(tile.height * scale) {
            let py = y + ty
            guard py >= 0, py < height else { continue }
            for tx in 0..<(tile.width * scale) {
                let px = x + tx
                guard px >= 0, px < width else { continue }
                let v = tile.pixels[(ty / scale) * tile.width + tx / scale]
                let o = 3 * (py * width + px)
                pixels[o] = v; pixels[o + 1] = v; pixels[o + 2] = v
            }
        }
    }
}
