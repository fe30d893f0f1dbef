import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Numbers a user's input can make undefined or out of range: refused with a one-line error
/// before anything runs, or written as null with the reason, and read back by every command.
final class UndefinedNumbersTests: XCTestCase {
    func testSizesOutOfRangeAreRefusedThroughEveryDoor() throws {
        let dir = temporaryDirectory(self)
        var rng = SeededGenerator(seed: 1)
        try NPY.write((0..<(200 * 8)).map { _ in rng.nextUnitFloat() }, rows: 200, cols: 8, to: dir + "/x.npy")
        let huge = "9223372036854775807"
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "2", "--batch-size", huge, "--out", dir + "/r"]),
                           mentioning: "--batch-size: at most 16777216")
        assertCommandFails(try runSAE(["sweep", "--data-npy", dir + "/x.npy", "--architecture", "topk", "--k", "2", "--batch-size", huge,
                                       "--out", dir + "/s"]), mentioning: "at most 16777216")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r"))
        // Through --resume: a config.json edited to the same number.
        let train = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "2", "--epochs", "1", "--out", dir + "/run"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let configPath = dir + "/run/config.json"
        let edited = try String(contentsOfFile: configPath, encoding: .utf8)
            .replacingOccurrences(of: "\"batch_size\" : 256", with: "\"batch_size\" : \(huge)")
        XCTAssertTrue(edited.contains(huge))
        try edited.write(toFile: configPath, atomically: true, encoding: .utf8)
        assertCommandFails(try runSAE(["train", "--resume", dir + "/run"]), mentioning: "at most 16777216")
        assertCommandFails(try runSAE(["train", "--learning-rate", "1e308", "--out", dir + "/lr"]), mentioning: "at most 3.4e38")
        // A malformed fault-injection spec plans nothing (it trapped).
        for spec in ["", ":", "step@", "@3"] {
            let r = try runSAE(["summary", "--code", "8"], environment: ["SAE_FAULT": spec])
            XCTAssertEqual(r.status, 0, "SAE_FAULT='\(spec)': \(r.stderr)")
        }
    }

    /// Validation vectors that do not vary have no FVU (null with the reason, not 0); values so
    /// large that the squared error overflows leave test_mse null; both read back everywhere.
    func testUndefinedNumbersAreNullAndReadBack() throws {
        let dir = temporaryDirectory(self)
        var rng = SeededGenerator(seed: 2)
        try NPY.write((0..<(200 * 8)).map { _ in rng.nextUnitFloat() }, rows: 200, cols: 8, to: dir + "/x.npy")
        try NPY.write([Float](repeating: 0.5, count: 5 * 8), rows: 5, cols: 8, to: dir + "/same.npy")
        var large = (0..<(20 * 8)).map { _ in rng.nextUnitFloat() }
        large[3] = 1e30
        try NPY.write(large, rows: 20, cols: 8, to: dir + "/large.npy")
        for (name, validation) in [("same", "same.npy"), ("large", "large.npy")] {
            let run = dir + "/" + name
            let train = try runSAE(["train", "--data-npy", dir + "/x.npy", "--val-npy", dir + "/" + validation, "--code", "16", "--k", "2",
                                    "--epochs", "1", "--out", run])
            XCTAssertEqual(train.status, 0, train.stderr)
            for command in [["metrics", run], ["analyze", run], ["report", run, "--out", dir + "/report-" + name]] {
                let r = try runSAE(command)
                XCTAssertEqual(r.status, 0, "\(command): \(r.stderr)")
            }
        }
        let same = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/same/metrics.json"))) as! [String: Any]
        XCTAssertTrue(same["test_fvu"] is NSNull, "\(same["test_fvu"] ?? "absent")")
        XCTAssertTrue((same["test_fvu_undefined"] as? String)?.contains("do not vary") == true)
        XCTAssertNil(try RunDirectory(path: dir + "/same").loadMetrics().testFvu)
        let overflowed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/large/metrics.json"))) as! [String: Any]
        XCTAssertTrue(overflowed["test_mse"] is NSNull, "\(overflowed["test_mse"] ?? "absent")")
        XCTAssertTrue(try RunDirectory(path: dir + "/large").loadMetrics().testMse.isNaN)
    }
}
