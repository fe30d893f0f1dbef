import Foundation
import XCTest

/// scripts/hostile.sh --quick against the `sae` built next to the tests: careless and hostile
/// inputs end to end (outputs through links, devices and run files, --force, concurrent writers,
/// SIGTERM, a closed stdout, NaN weights, out of memory, divergence causes, bad numbers and
/// shards), each checked for its exit status, its one stderr line, and that nothing else changed.
final class HostileInputTests: XCTestCase {
    func testHostileInputsGetOneLineErrorsAndTouchNothingElse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let (status, output) = try runProcess("/bin/bash", [root + "/scripts/hostile.sh", "--quick"], environment: ["SAE": try builtExecutable("sae")])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains(" passed, 0 failed"), output)
        XCTAssertFalse(output.contains("\n0 passed"), output)
    }
}
