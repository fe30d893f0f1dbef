import CKernels

/// The float types vectors are stored in on disk (.npy's descr, safetensors' dtype), each read
/// as float32 exactly (float64 rounded to nearest): activation caches are mostly float16 or
/// bfloat16, half the bytes of float32.
///
///     StoredFloat(npyDescr: "<f2")          // .float16
///     StoredFloat(safetensorsName: "BF16")  // .bfloat16
package enum StoredFloat: String, Sendable {
    case float16, bfloat16, float32, float64

    /// Bytes per value.
    package var width: Int {
        switch self {
        case .float16, .bfloat16: 2
        case .float32: 4
        case .float64: 8
        }
    }

    /// NumPy's little-endian descr (NumPy has no bfloat16).
    package init?(npyDescr: String) {
        switch npyDescr {
        case "<f2": self = .float16
        case "<f4": self = .float32
        case "<f8": self = .float64
        default: return nil
        }
    }

    package var npyDescr: String {
        switch self {
        case .float16: "<f2"
        case .bfloat16: "bfloat16"
        case .float32: "<f4"
        case .float64: "<f8"
        }
    }

    package init?(safetensorsName: String) {
        switch safetensorsName {
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "F32": self = .float32
        case "F64": self = .float64
        default: return nil
        }
    }

    /// The little-endian value at `p` as float32.
    @inline(__always)
    package func load(_ p: UnsafeRawPointer) -> Float {
        switch self {
        case .float16: Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))))
        case .bfloat16: Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) << 16)
        case .float32: Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        case .float64: Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))))
        }
    }

    /// Converts `count` little-endian values at `source` into `out` (the half types with the
    /// vector kernels: F16C's conversion, a widening shift for bfloat16).
    package func convert(_ source: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .float16: sae_half_to_float(source.assumingMemoryBound(to: UInt16.self), out, count)
        case .bfloat16: sae_bfloat16_to_float(source.assumingMemoryBound(to: UInt16.self), out, count)
        case .float32, .float64: for i in 0..<count { out[i] = load(source + i * width) }
        }
    }
}
