import Foundation
import XCTest

/// scripts/hostile.sh --quick against the `sae` built next to the tests: careless and hostile
/// inputs end to end (outputs through links, devices and run files, --force, concurrent writers,
/// SIGTERM, a closed stdout, NaN weights, out of memory, divergence causes, bad numbers and
/// shards), each checked for its exit status, its one stderr line, and that nothing else changed.
final class HostileInputTests: XCTestCase {
    func testHostileInputsGetOneLineErrorsAndTouchNothingElse() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sae").path
        let sae = FileManager.default.isExecutableFile(atPath: binary) ? binary : Bundle.main.bundleURL.appendingPathComponent("sae").path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root + "/scripts/hostile.sh", "--quick"]
        p.environment = ProcessInfo.processInfo.environment.merging(["SAE": sae]) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, output)
        XCTAssertTrue(output.contains(" passed, 0 failed"), output)
        XCTAssertFalse(output.contains("\n0 passed"), output)
    }
}
