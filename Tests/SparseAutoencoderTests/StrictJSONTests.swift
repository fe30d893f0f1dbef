import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// The strict JSON reader behind safetensors headers: RFC 8259's grammar, exactly.
final class StrictJSONTests: XCTestCase {
    func parse(_ text: String) throws -> StrictJSON.Value { try StrictJSON.parse(ArraySlice(Array(text.utf8))) }

    func testNumbersOfTheGrammarAreRead() throws {
        let cases: [(String, Double, Int?)] = [
            ("0", 0, 0), ("-0", 0, 0), ("7", 7, 7), ("-12", -12, -12), ("120", 120, 120),
            ("-0.5", -0.5, nil), ("0.25", 0.25, nil), ("10.5", 10.5, nil), ("1e-7", 1e-7, nil), ("1E+2", 100, nil),
            ("2e3", 2000, nil), ("-1.5E-3", -1.5e-3, nil), ("0e0", 0, nil), ("9007199254740993", 9007199254740992, 9007199254740993),
        ]
        for (text, value, integer) in cases {
            XCTAssertEqual(try parse(text), .number(value, integer: integer), text)
            XCTAssertEqual(try parse(" [\(text), \(text)] "), .array([.number(value, integer: integer), .number(value, integer: integer)]), text)
            XCTAssertEqual(try parse(#"{"n":\#(text)}"#), .object([("n", .number(value, integer: integer))]), text)
        }
    }

    func testNumbersOutsideTheGrammarAreRefused() {
        for text in ["01", "-01", "00", "1.", "-1.", ".5", "-.5", "+1", "1e", "1e+", "1E-", "-", "--1", "1.e5", "1.5.2",
                     "0x10", "1e400", "-1e400", "Infinity", "NaN", "1_000", "١"] {
            for wrapped in [text, "[\(text)]", #"{"n": \#(text)}"#, "[1, \(text)]"] {
                XCTAssertThrowsError(try parse(wrapped), "\(wrapped) was accepted") { error in
                    XCTAssertTrue(error is StrictJSON.Failure, "\(wrapped): \(error)")
                }
            }
        }
    }

    func testTheRestOfTheGrammar() throws {
        XCTAssertEqual(try parse(#" {"a": [true, false, null], "b": "x\u00e9\ud83d\ude00\n"} "#),
                       .object([("a", .array([.bool(true), .bool(false), .null])), ("b", .string("xé😀\n"))]))
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        for bad in ["", "[1,]", #"{"a":1,}"#, "[1 2]", #"{"a" 1}"#, "tru", "nul", #""\x""#, "\"a\u{01}\"", #""\ud800""#, "[1]x",
                    #"{"a":1,"a":2}"#, "'a'", #"{a:1}"#, "[" + String(repeating: "[", count: 70) + String(repeating: "]", count: 71)] {
            XCTAssertThrowsError(try parse(bad), "\(bad) was accepted")
        }
    }

    /// Through the safetensors reader: a header with a number outside the grammar is refused as
    /// invalid JSON, naming the file.
    func testSafetensorsHeadersUseTheStrictGrammar() {
        for offsets in ["[00,4]", "[0,4.]", "[+0,4]", "[0,.4e1]"] {
            var header = Array(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#.utf8)
            while header.count % 8 != 0 { header.append(0x20) }
            let bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + [0, 0, 0x80, 0x3f]
            XCTAssertThrowsError(try Safetensors.decode(bytes, name: "w.safetensors"), offsets) { error in
                XCTAssertTrue("\(error)".hasPrefix("w.safetensors: ") && "\(error)".contains("JSON"), "\(error)")
            }
        }
    }
}
