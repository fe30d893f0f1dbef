import Foundation

/// Reading and writing the run directory's JSON files: snake_case keys, pretty-printed with
/// sorted keys (stable diffs), written atomically; decoding errors become one-line messages.
package enum JSONFile {
    package static func write<T: Encodable>(_ value: T, to path: String) throws {
        var data = try encode(value)
        data.append(0x0a)
        try AtomicFile.write(data, to: path)
    }

    /// Non-finite numbers (NaN, infinities) have no JSON form: they are written as null.
    /// `compact`: on one line (JSON embedded in another file, e.g. a checkpoint's trainer state).
    package static func encode<T: Encodable>(_ value: T, compact: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = compact ? [.sortedKeys] : [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: nonFinite, negativeInfinity: nonFinite, nan: nonFinite)
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        return Data(text.replacingOccurrences(of: "\"\(nonFinite)\"", with: "null").utf8)
    }

    /// A marker no real value holds, replaced by null after encoding.
    private static let nonFinite = "sae-non-finite-8f3a61c2"

    /// Thrown by a type's `init(from:)` for a value it does not know (e.g. a `RunState`); read
    /// and decode report it as `FILE: problem`.
    package struct UnknownValue: Error {
        package let problem: String
        package init(problem: String) { self.problem = problem }

        /// A string-valued enum from `decoder`, or an `UnknownValue` worded by `problem(text)`.
        package static func decode<T: RawRepresentable>(_ decoder: Decoder, problem: (String) -> String) throws -> T
            where T.RawValue == String {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let value = T(rawValue: text) else { throw UnknownValue(problem: problem(text)) }
            return value
        }
    }

    package static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        try decode(type, from: try InputFile.contents(of: path, kind: "JSON file"), name: path)
    }

    /// Decodes `data`; `name` (a path) is used in errors. `passingUnknownValues` throws an
    /// `UnknownValue` as it is, for the caller to word.
    package static func decode<T: Decodable>(_ type: T.Type, from data: Data, name path: String, passingUnknownValues: Bool = false) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw SAEError.badFile(path, describe(error))
        } catch let unknown as UnknownValue {
            if passingUnknownValues { throw unknown }
            throw SAEError.badFile(path, unknown.problem)
        } catch {
            throw SAEError.badFile(path, "is not valid JSON")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        // Paths are named as the file spells them (snake_case), not as Swift does.
        func snake(_ key: String) -> String {
            key.unicodeScalars.map { CharacterSet.uppercaseLetters.contains($0) ? "_" + String($0).lowercased() : String($0) }.joined()
        }
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "the top level" : "\"" + path.map { $0.intValue.map(String.init) ?? snake($0.stringValue) }.joined(separator: ".") + "\""
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key \"\(snake(key.stringValue))\" in \(at(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "wrong type at \(at(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "missing value at \(at(context.codingPath)): expected \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "is not valid JSON" : "bad value at \(at(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "cannot be decoded"
        }
    }
}
