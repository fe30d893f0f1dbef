/// A small, strict JSON reader for headers of files from elsewhere (safetensors): unlike
/// Foundation's, it rejects duplicate keys (which would let two readers see different tensors),
/// limits nesting depth (no stack exhaustion on hostile input) and reports where it failed.
enum StrictJSON {
    indirect enum Value: Equatable {
        case object([(key: String, value: Value)])
        case array([Value])
        case string(String)
        case number(Double, integer: Int?)
        case bool(Bool)
        case null

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            case (.array(let x), .array(let y)): x == y
            case (.string(let x), .string(let y)): x == y
            case (.number(let x, let i), .number(let y, let j)): x == y && i == j
            case (.bool(let x), .bool(let y)): x == y
            case (.null, .null): true
            default: false
            }
        }

        var integer: Int? { if case .number(_, let i) = self { return i }; return nil }
        var string: String? { if case .string(let s) = self { return s }; return nil }
    }

    struct Failure: Error { let message: String }

    static let maximumDepth = 64

    static func parse(_ bytes: ArraySlice<UInt8>) throws -> Value {
        var parser = Parser(bytes: bytes)
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.endIndex else { throw parser.fail("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: ArraySlice<UInt8>
        var index: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            index = bytes.startIndex
        }

        func fail(_ what: String) -> Failure { Failure(message: "\(what) at byte \(index - bytes.startIndex)") }

        mutating func skipSpace() {
            while index < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ literal: String) throws {
            for b in literal.utf8 {
                guard index < bytes.endIndex, bytes[index] == b else { throw fail("invalid literal") }
                index += 1
            }
        }

        mutating func value(depth: Int) throws -> Value {
            guard depth < StrictJSON.maximumDepth else { throw fail("nesting deeper than \(StrictJSON.maximumDepth)") }
            skipSpace()
            guard index < bytes.endIndex else { throw fail("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, value: Value)] = []
                var seen = Set<String>()
                skipSpace()
                if index < bytes.endIndex, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    guard seen.insert(key).inserted else { throw fail("duplicate key \"\(key)\"") }
                    skipSpace()
                    guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    index += 1
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard index < bytes.endIndex else { throw fail("unexpected end in an object") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                    index += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [Value] = []
                skipSpace()
                if index < bytes.endIndex, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.endIndex else { throw fail("unexpected end in an array") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                    index += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return try number()
            }
        }

        mutating func string() throws -> String {
            index += 1 // opening quote
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() throws {
                guard !raw.isEmpty else { return }
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
                scalars.append(contentsOf: s.unicodeScalars)
                raw.removeAll()
            }
            while index < bytes.endIndex {
                let b = bytes[index]
                index += 1
                switch b {
                case UInt8(ascii: "\""):
                    try flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try flush()
                    guard index < bytes.endIndex else { throw fail("unexpected end in a string") }
                    let e = bytes[index]
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        var code: UInt32 = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            try expect("\\u")
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                        scalars.append(scalar)
                    default: throw fail("invalid escape")
                    }
                case 0..<0x20: throw fail("control character in a string")
                default: raw.append(b)
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard bytes.endIndex - index >= 4 else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let d = Character(Unicode.Scalar(bytes[index])).hexDigitValue else { throw fail("invalid \\u escape") }
                v = v << 4 | UInt32(d)
                index += 1
            }
            return v
        }

        /// RFC 8259's grammar, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: no leading
        /// zeros (`01`), no bare point on either side (`1.`, `.5`), no `+` sign, no empty
        /// exponent (`1e`); and the value must be finite as a Double.
        mutating func number() throws -> Value {
            let start = index
            func digits() -> Int {
                let from = index
                while index < bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                return index - from
            }
            func next(_ ascii: Unicode.Scalar) -> Bool {
                guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ascii) else { return false }
                index += 1
                return true
            }
            _ = next("-")
            let integerStart = index
            guard digits() > 0 else { throw fail("invalid value") }
            if bytes[integerStart] == UInt8(ascii: "0") && index - integerStart > 1 {
                index = integerStart
                throw fail("invalid number (leading zero)")
            }
            var isInteger = true
            if next(".") {
                isInteger = false
                guard digits() > 0 else { throw fail("invalid number (no digit after the decimal point)") }
            }
            if next("e") || next("E") {
                isInteger = false
                if !next("+") { _ = next("-") }
                guard digits() > 0 else { throw fail("invalid number (no digit in the exponent)") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let d = Double(text), d.isFinite else { throw fail("invalid number (out of range)") }
            return .number(d, integer: isInteger ? Int(text) : nil)
        }
    }
}
