import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

/// `sae features RUN`: the feature browser (`FeatureBrowser`), over the run's validation data or
/// given vectors, in one pass whose memory does not grow with the number of vectors.
struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an offline page for reading a run latent by latent (a feature browser).",
        discussion: """
            Encodes the run's validation vectors (or --npy vectors) once and writes a \
            self-contained page (no network): a summary (the firing-frequency histogram on a \
            log10 scale, dead and dense latents, L0, FVU), a sortable, searchable table of every \
            latent (frequency, mean and largest activation, top class and its share, nearest \
            latent by decoder cosine), and a section per latent: its top activating examples, \
            examples across its range, the histogram of its activations, its decoder row as an \
            image (image data), the classes it fires on, its most similar latents. Images are \
            shown for Fashion-MNIST and for --npy rows given --image-shape; other vectors as row \
            numbers with their --labels line. Open DIR/index.html in a browser.
            Examples:
              sae features runs/topk
              sae features runs/acts --npy tokens.npy --labels tokens.txt --out pages/acts
            """)

    @Argument(help: "The run directory.") var runDirectory: String
    @Option(help: ArgumentHelp("Read these vectors (a .npy or .safetensors file, or a directory of shards) instead of the run's validation data.", valueName: "path"))
    var npy: String?
    @Option(help: tensorHelp) var tensor: String?
    @Option(help: "Which of the run's data to read without --npy: test (the validation data) or train.") var split: Split = .test
    @Option(help: ArgumentHelp("Directory holding Fashion-MNIST (default: as for training).", valueName: "dir")) var data: String?
    @Option(help: ArgumentHelp("Show each vector as an image of this shape (e.g. 28x28; Fashion-MNIST is shown so by itself).", valueName: "HxW"))
    var imageShape: String?
    @Option(help: ArgumentHelp("A text file with one line per vector (its label, or the text it came from), shown with the examples; up to 64 distinct lines are also counted as classes.", valueName: "file"))
    var labels: String?
    @Option(help: "Top activating examples kept per latent (1 to 200).") var top = 20
    @Option(help: ArgumentHelp("Directory to write (default: RUN/features). An existing one is replaced only if it is a page sae wrote.", valueName: "dir"))
    var out: String?

    static let maximumDistinctClasses = 64

    func validate() throws {
        guard (1...200).contains(top) else { throw ValidationError("--top must be in 1...200, got \(top)") }
        if npy != nil && data != nil { throw ValidationError("--data names the run's Fashion-MNIST; with --npy give only the vectors") }
    }

    func run() throws {
        let run = RunDirectory(path: runDirectory)
        let (config, model) = try run.loadModel()
        // --npy streamed: memory stays a batch whatever the file's size (examples are read back by row).
        let vectors = try runVectors(for: config, run: runDirectory, npy: npy, tensor: tensor, split: split, fashionMNIST: data, streamed: true)
        let shape = try imageShape(of: vectors)
        let (text, classes, classNames) = try rowTexts(vectors, fashionMNIST: config.data.dataset == .fashionMNIST)
        let destination = out ?? run.path + "/features"
        // Refuse a destination that is not ours before the pass (which may be long).
        _ = try FeatureBrowser.checkReplaceable(destination)
        if out == nil { try run.lock() }

        // One pass: the evaluation's numbers, and every latent's statistics from its code batches.
        let c = config.model.codeSize
        var stats = FeatureStatistics(latents: c, top: top, classes: classNames.count)
        let progress = ProgressLine(total: vectors.count, what: "vectors")
        let evaluation = model.evaluate(vectors, batchSize: config.training.batchSize) { codes, rows in
            let first = stats.vectors
            stats.add(codes, rows: rows, labels: classes.map { $0[first..<(first + rows)] })
            progress.update(stats.vectors)
        }
        progress.finish()
        if let failure = vectors.readFailure { throw failure }

        let decoder = model.layers[config.model.codeLayerIndex + 1]
        let decoderRows = model.parameterValues[decoder.kernelOffset..<(decoder.kernelOffset + c * decoder.outputSize)]
        let l0 = Double(stats.fires.reduce(0, +)) / Double(max(stats.vectors, 1))
        let examples = FeatureBrowser.Examples(imageShape: shape, text: text, row: { vectors.floats($0..<($0 + 1)) })
        let page = FeatureBrowser(name: (run.path as NSString).lastPathComponent, stats: stats, classNames: classNames,
                                  classOfRow: classes.map { list in { list[$0] >= 0 ? list[$0] : nil } }, examples: examples,
                                  decoderRows: Array(decoderRows), decoderWidth: decoder.outputSize,
                                  decoderImages: shape != nil && decoder.outputSize != config.model.inputSize ? unitImages(model, stats.maxima) : nil,
                                  l0: l0, fvu: evaluation.fvu)
        try page.write(to: destination)
        let dead = stats.fires.filter { $0 == 0 }.count
        let dense = (0..<c).filter { stats.frequency($0) > FeatureBrowser.denseFrequency }.count
        print("Wrote \(destination)/index.html: \(c) latents over \(stats.vectors) vectors (L0 \(String(format: "%.2f", l0)), "
              + "\(dead) dead, \(dense) dense); open it in a browser")
    }

    /// (height, width) to draw each vector as: Fashion-MNIST's, or --image-shape's; nil: not images.
    private func imageShape(of vectors: Dataset) throws -> (height: Int, width: Int)? {
        if let text = imageShape {
            let parts = text.lowercased().split(separator: "x").map { Int($0) }
            guard parts.count == 2, let h = parts[0], let w = parts[1], h > 0, w > 0 else {
                throw ValidationError("--image-shape takes HEIGHTxWIDTH, e.g. 28x28, got '\(text)'")
            }
            guard h * w == vectors.featureCount else {
                throw SAEError("--image-shape \(h)x\(w) is \(h * w) values but each vector has \(vectors.featureCount)")
            }
            return (h, w)
        }
        return vectors.isImage ? (vectors.height, vectors.width) : nil
    }

    /// Each row's text, class index and the class names: from --labels (lines; up to 64 distinct
    /// ones are classes), else the data's own labels.
    private func rowTexts(_ vectors: Dataset, fashionMNIST: Bool) throws -> (((Int) -> String)?, [Int]?, [String]) {
        if let labels {
            let text: String
            do { text = try String(contentsOfFile: labels, encoding: .utf8) } catch {
                throw SAEError.badFile(labels, "cannot be read as UTF-8 text (\(FileSystemError.describe(error)))")
            }
            var lines = text.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            guard lines.count == vectors.count else {
                throw SAEError.badFile(labels, "has \(lines.count) lines but there are \(vectors.count) vectors: give one line per vector")
            }
            let distinct = Array(Set(lines)).sorted()
            guard distinct.count <= Self.maximumDistinctClasses else { return ({ lines[$0] }, nil, []) }
            let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            return ({ lines[$0] }, lines.map { index[$0]! }, distinct)
        }
        guard vectors.isLabelled else { return (nil, nil, []) }
        let count = Int(vectors.labels.max() ?? 0) + 1
        let names = fashionMNIST && count <= FashionMNIST.classNames.count ? Array(FashionMNIST.classNames.prefix(count)) : (0..<count).map { "class \($0)" }
        let labels = vectors.labels
        return ({ names[Int(labels[$0])] }, labels.map(Int.init), names)
    }

    /// For a model whose decoder row is not an image (the tutorial's hidden layers): what the
    /// decoder draws for each latent alone at its largest activation, less what it draws for a
    /// zero code, (latents, input size).
    private func unitImages(_ model: Autoencoder, _ maxima: [Float]) -> [Float] {
        let c = model.config.codeSize
        let zero = model.decode([Float](repeating: 0, count: c))
        var out: [Float] = []
        for start in stride(from: 0, to: c, by: 256) {
            let n = min(256, c - start)
            var codes = [Float](repeating: 0, count: n * c)
            for r in 0..<n { codes[r * c + start + r] = maxima[start + r] > 0 ? maxima[start + r] : 1 }
            let images = model.decode(codes)
            for r in 0..<n { for i in zero.indices { out.append(images[r * zero.count + i] - zero[i]) } }
        }
        return out
    }
}

/// "features: 12800/100000 vectors" on standard error, redrawn in place on a terminal at most
/// ten times a second, one line at the end.
final class ProgressLine {
    private let total: Int, what: String
    private var last = ContinuousClock.now
    private let terminal = isatty(STDERR_FILENO) != 0

    init(total: Int, what: String) { (self.total, self.what) = (total, what) }

    func update(_ done: Int) {
        guard terminal, ContinuousClock.now - last > .milliseconds(100) else { return }
        last = ContinuousClock.now
        FileHandle.standardError.write(Data("\r\(done)/\(total) \(what)".utf8))
    }

    func finish() {
        if terminal { FileHandle.standardError.write(Data("\r\(total)/\(total) \(what)\n".utf8)) }
    }
}
