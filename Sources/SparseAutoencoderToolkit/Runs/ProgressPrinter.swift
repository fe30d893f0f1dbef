import Foundation
import SparseAutoencoder

/// Prints training progress the way Keras does:
///
///     Epoch 3/30
///     235/235 ━━━━━━━━━━━━━━━━━━━━ 1s 4ms/step - loss: 0.2801 - val_loss: 0.2790
///
/// On a terminal the step line is rewritten in place (with an ETA) as the epoch runs; when the
/// output is piped or redirected, only the finished line of each epoch is printed.
package final class ProgressPrinter {
    private let interactive: Bool
    private let write: (String) -> Void
    private var lastDraw = 0.0

    /// - Parameters:
    ///   - interactive: rewrite lines in place; defaults to whether standard output is a terminal.
    ///   - write: where text goes (standard output by default).
    package init(interactive: Bool = isatty(STDOUT_FILENO) != 0,
                write: @escaping (String) -> Void = { text in
                    print(text, terminator: "")
                    fflush(nil)
                }) {
        self.interactive = interactive
        self.write = write
    }

    package func handle(_ event: TrainingEvent) {
        switch event {
        case .epochStart(let epoch, let epochs, _):
            write("Epoch \(epoch)/\(epochs)\n")
            lastDraw = -1
        case .step(_, let step, let steps, let loss, let elapsed):
            guard interactive, step < steps, elapsed - lastDraw >= 0.1 else { return }
            lastDraw = elapsed
            let eta = elapsed / Double(step) * Double(steps - step)
            write("\r\(Self.bar(step, steps)) ETA \(Self.duration(eta)) - loss: \(Self.number(loss))\u{1B}[K")
        case .epochEnd(let record, let steps):
            let perStep = record.seconds / Double(steps) * 1000
            var line = "\(Self.bar(steps, steps)) \(Self.duration(record.seconds)) \(Int(perStep.rounded()))ms/step"
                + " - loss: \(Self.number(record.loss))"
            if let v = record.valLoss { line += " - val_loss: \(Self.number(v))" }
            if let dead = record.deadLatents, dead > 0 { line += " - dead latents: \(dead)" }
            write((interactive ? "\r" : "") + line + (interactive ? "\u{1B}[K\n" : "\n"))
        }
    }

    static func bar(_ step: Int, _ steps: Int) -> String {
        let width = 20, done = steps == 0 ? width : step * width / steps
        let counter = String(repeating: " ", count: max(0, String(steps).count - String(step).count)) + "\(step)/\(steps)"
        return counter + " " + String(repeating: "━", count: done) + String(repeating: "─", count: width - done)
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 10 ? String(format: "%.1fs", seconds) : "\(Int(seconds.rounded()))s"
    }

    static func number(_ x: Double) -> String { String(format: "%.4f", x) }
}
