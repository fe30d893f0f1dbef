import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Keras-style progress: on a terminal the step line is redrawn in place (at most every 0.1 s,
/// with an ETA) and finished with a newline; piped, each epoch prints its heading and one
/// finished line, and nothing else.
final class ProgressPrinterTests: XCTestCase {
    /// One epoch of `steps` steps, `stepSeconds` apart, through a printer; what it wrote.
    func output(interactive: Bool, epochs: Int = 1, steps: Int, stepSeconds: Double, record: EpochRecord) -> [String] {
        var written: [String] = []
        let printer = ProgressPrinter(interactive: interactive) { written.append($0) }
        for epoch in 1...epochs {
            printer.handle(.epochStart(epoch: epoch, epochs: epochs, steps: steps))
            for step in 1...steps {
                printer.handle(.step(epoch: epoch, step: step, steps: steps, loss: 0.5 / Double(step), elapsed: Double(step) * stepSeconds))
            }
            printer.handle(.epochEnd(record, steps: steps))
        }
        return written
    }

    func testPipedPrintsOneFinishedLinePerEpoch() {
        let record = EpochRecord(epoch: 1, loss: 0.28014, valLoss: 0.27904, seconds: 0.94)
        XCTAssertEqual(output(interactive: false, epochs: 2, steps: 235, stepSeconds: 0.004, record: record), [
            "Epoch 1/2\n", "235/235 ━━━━━━━━━━━━━━━━━━━━ 0.9s 4ms/step - loss: 0.2801 - val_loss: 0.2790\n",
            "Epoch 2/2\n", "235/235 ━━━━━━━━━━━━━━━━━━━━ 0.9s 4ms/step - loss: 0.2801 - val_loss: 0.2790\n",
        ])
        // Without validation no val_loss; dead latents when there are some; long epochs in whole seconds.
        let other = EpochRecord(epoch: 1, loss: 0.1, valLoss: nil, seconds: 12.6, deadLatents: 3)
        XCTAssertEqual(output(interactive: false, steps: 4, stepSeconds: 3, record: other).last,
                       "4/4 ━━━━━━━━━━━━━━━━━━━━ 13s 3150ms/step - loss: 0.1000 - dead latents: 3\n")
    }

    /// Steps 0.0625 s apart: drawn at steps 1, 3, 5, 7, 9 (each at least 0.1 s after the last
    /// draw), never at the last step, whose place the finished line takes.
    func testOnATerminalTheLineIsRedrawnInPlace() {
        let record = EpochRecord(epoch: 1, loss: 0.2, valLoss: 0.25, seconds: 0.7)
        let written = output(interactive: true, epochs: 2, steps: 10, stepSeconds: 0.0625, record: record)
        let draws = written.filter { $0.hasPrefix("\r") && !$0.hasSuffix("\n") }
        XCTAssertEqual(draws.count, 2 * 5, "\(written)")
        XCTAssertEqual(draws[0], "\r 1/10 ━━────────────────── ETA 0.6s - loss: 0.5000\u{1B}[K")
        XCTAssertEqual(draws[1], "\r 3/10 ━━━━━━────────────── ETA 0.4s - loss: 0.1667\u{1B}[K")
        XCTAssertTrue(draws[4].hasPrefix("\r 9/10 ━━━━━━━━━━━━━━━━━━── ETA 0.1s"), draws[4])
        // Each epoch: its heading, the redraws (no newline among them), the finished line.
        let epoch = ["Epoch 1/2\n"] + draws[0..<5] + ["\r10/10 ━━━━━━━━━━━━━━━━━━━━ 0.7s 70ms/step - loss: 0.2000 - val_loss: 0.2500\u{1B}[K\n"]
        XCTAssertEqual(Array(written[0..<7]), epoch)
        XCTAssertEqual(written.count, 14)
        XCTAssertEqual(written[7], "Epoch 2/2\n")
        XCTAssertEqual(written[8], draws[0], "a new epoch draws its first step at once")
    }

    func testBarCounterAndDurations() {
        XCTAssertEqual(ProgressPrinter.bar(0, 235), "  0/235 ────────────────────")
        XCTAssertEqual(ProgressPrinter.bar(118, 235), "118/235 ━━━━━━━━━━──────────")
        XCTAssertEqual(ProgressPrinter.bar(0, 0), "0/0 ━━━━━━━━━━━━━━━━━━━━")
        XCTAssertEqual(ProgressPrinter.duration(9.94), "9.9s")
        XCTAssertEqual(ProgressPrinter.duration(10.4), "10s")
        XCTAssertEqual(ProgressPrinter.duration(125.5), "126s")
        XCTAssertEqual(ProgressPrinter.number(0.123456), "0.1235")
    }
}
