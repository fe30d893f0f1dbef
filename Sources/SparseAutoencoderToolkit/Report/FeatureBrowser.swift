import Foundation
import SparseAutoencoder

/// An offline page for reading an SAE latent by latent, as SAE-Vis and Neuronpedia show them: a
/// summary (the firing-frequency histogram on a log10 scale, dead and dense latents, L0, FVU), a
/// sortable, searchable table of every latent, and a section per latent (its top activations and
/// examples across its range, the histogram of its activations, its decoder row as an image for
/// image data, the classes of its top examples, its most similar latents by decoder cosine).
///
/// The page is a directory: `index.html` (all the code, no network), `data/latents.js` (one short
/// row per latent, for the table) and `data/chunk-N.js` (the sections of 128 latents each, loaded
/// when one of them is opened, through a script element, which works from file://). A page for
/// 16,384 latents therefore opens with one small table page rendered, not megabytes of DOM.
///
///     let page = FeatureBrowser(name: "runs/topk", stats: stats, ...)
///     try page.write(to: "runs/topk/features")
package struct FeatureBrowser {
    /// How the vectors are shown: as images (height, width) or as row numbers with text.
    package struct Examples {
        /// (height, width) when each vector is an image; nil otherwise.
        package var imageShape: (height: Int, width: Int)?
        /// Each vector's text (its class name or its --labels line); nil: row numbers alone.
        package var text: ((Int) -> String)?
        /// The vectors themselves, for images: row -> its values.
        package var row: (Int) -> [Float]

        package init(imageShape: (height: Int, width: Int)?, text: ((Int) -> String)?, row: @escaping (Int) -> [Float]) {
            (self.imageShape, self.text, self.row) = (imageShape, text, row)
        }
    }

    package let name: String
    package let stats: FeatureStatistics
    package let classNames: [String]
    package let examples: Examples
    /// The decoder's row of each latent (latents, width): its direction.
    package let decoderRows: [Float], decoderWidth: Int
    /// For image data whose decoder rows are not images (the tutorial's hidden layers): what the
    /// decoder draws for each latent, (latents, height × width); nil: the decoder rows themselves.
    package let decoderImages: [Float]?
    /// Whole-set numbers for the summary: L0, FVU (nil: undefined), the evaluation's loss.
    package let l0: Double, fvu: Double?
    /// Per latent, its most similar latents by decoder cosine: (latent, cosine), best first.
    package let similar: [[(latent: Int, cosine: Float)]]
    /// A latent firing on more than this share of the vectors is "dense".
    package static let denseFrequency = 0.1
    package static let chunkSize = 128

    /// The class of a row (nil: none), for the classes of a latent's top examples.
    package let classOfRow: ((Int) -> Int?)?

    package init(name: String, stats: FeatureStatistics, classNames: [String], classOfRow: ((Int) -> Int?)?, examples: Examples,
                 decoderRows: [Float], decoderWidth: Int, decoderImages: [Float]? = nil, l0: Double, fvu: Double?, similar: Int = 5) {
        (self.name, self.stats, self.classNames, self.classOfRow, self.examples) = (name, stats, classNames, classOfRow, examples)
        self.decoderImages = decoderImages
        (self.decoderRows, self.decoderWidth, self.l0, self.fvu) = (decoderRows, decoderWidth, l0, fvu)
        self.similar = Self.mostSimilar(decoderRows, latents: stats.latents, width: decoderWidth, keep: similar)
    }

    // MARK: - Decoder similarity

    /// For each row of `rows` (latents, width), the `keep` other rows of largest cosine, through
    /// sgemm on the normalised rows in blocks of 256 (memory 256 × latents).
    static func mostSimilar(_ rows: [Float], latents c: Int, width d: Int, keep: Int) -> [[(latent: Int, cosine: Float)]] {
        guard c > 1, keep > 0 else { return Array(repeating: [], count: c) }
        var unit = rows
        for j in 0..<c {
            var norm: Float = 0
            for i in 0..<d { norm += unit[j * d + i] * unit[j * d + i] }
            let scale = norm > 0 ? 1 / norm.squareRoot() : 0
            for i in 0..<d { unit[j * d + i] *= scale }
        }
        let block = 256
        var result = [[(latent: Int, cosine: Float)]](repeating: [], count: c)
        var cosines = [Float](repeating: 0, count: block * c)
        unit.withUnsafeBufferPointer { u in
            for start in stride(from: 0, to: c, by: block) {
                let n = min(block, c - start)
                cosines.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(false, true, m: n, n: c, k: d, a: u.baseAddress! + start * d, lda: d, b: u.baseAddress!, ldb: d,
                              c: out.baseAddress!, ldc: c)
                }
                for r in 0..<n {
                    let j = start + r
                    var best: [(latent: Int, cosine: Float)] = []
                    for other in 0..<c where other != j {
                        let v = cosines[r * c + other]
                        if best.count < keep || v > best[best.count - 1].cosine {
                            if best.count == keep { best.removeLast() }
                            let at = best.firstIndex { v > $0.cosine } ?? best.count
                            best.insert((other, v), at: at)
                        }
                    }
                    result[j] = best
                }
            }
        }
        return result
    }

    // MARK: - Files

    /// The files of the page: (path inside the page's directory, contents).
    package func files() -> [(name: String, data: Data)] {
        var out: [(name: String, data: Data)] = [("index.html", Data(FeatureBrowserPage.html.utf8)),
                                                 ("data/latents.js", Data(latentsScript().utf8))]
        for chunk in 0..<((stats.latents + Self.chunkSize - 1) / Self.chunkSize) {
            out.append(("data/chunk-\(chunk).js", Data(chunkScript(chunk).utf8)))
        }
        return out
    }

    /// The table's rows and the summary: `SAE.meta` and `SAE.latents` ([frequency, mean when
    /// active, max, top class or -1, its share, nearest latent or -1, its cosine] per latent).
    func latentsScript() -> String {
        let c = stats.latents
        var rows: [String] = []
        rows.reserveCapacity(c)
        for j in 0..<c {
            let classes = stats.classes > 0 ? stats.classes(j) : []
            let total = classes.reduce(0) { $0 + Int($1) }
            let topClass = classes.indices.max { classes[$0] < classes[$1] }
            let share = total > 0 && topClass != nil ? Double(classes[topClass!]) / Double(total) : 0
            let nearest = similar[j].first
            rows.append("[\(Self.number(stats.frequency(j))),\(Self.number(stats.meanWhenActive(j))),\(Self.number(Double(stats.maxima[j]))),"
                        + "\(total > 0 ? topClass! - classes.startIndex : -1),\(Self.number(share)),\(nearest?.latent ?? -1),"
                        + "\(Self.number(Double(nearest?.cosine ?? 0)))]")
        }
        let meta: [String: Any] = [
            "name": name, "vectors": stats.vectors, "latents": c, "l0": l0, "fvu": fvu as Any? ?? NSNull(),
            "classes": classNames, "image": examples.imageShape.map { [$0.height, $0.width] } as Any? ?? NSNull(),
            "chunkSize": Self.chunkSize, "denseFrequency": Self.denseFrequency,
            "lowestDecade": FeatureStatistics.lowestDecade, "binsPerDecade": FeatureStatistics.binsPerDecade,
        ]
        return "SAE.meta = \(Self.json(meta));\nSAE.latents = [\n\(rows.joined(separator: ",\n"))\n];\n"
    }

    /// The sections of latents chunk·128 ..< (chunk + 1)·128: `SAE.chunk(N, {latents, rows})`, the
    /// rows (images or text) of every example they show stored once.
    func chunkScript(_ chunk: Int) -> String {
        let latents = (chunk * Self.chunkSize)..<min((chunk + 1) * Self.chunkSize, stats.latents)
        var rows = Set<Int>()
        var sections: [String: Any] = [:]
        for j in latents {
            let top = stats.topActivations(j)
            let sample = stats.sampledActivations(j)
            // Five bands of the activation range, up to four sampled examples in each.
            let maximum = Double(stats.maxima[j])
            var bands: [[Any]] = []
            if maximum > 0 {
                for band in 0..<5 {
                    let (lo, hi) = (maximum * Double(band) / 5, maximum * Double(band + 1) / 5)
                    let inside = sample.filter { Double($0.value) > lo && (Double($0.value) <= hi || band == 4) }
                    let picked = stride(from: 0, to: inside.count, by: max(1, inside.count / 4)).prefix(4).map { inside[$0] }
                    bands.append([Self.number(lo), Self.number(hi), inside.count, picked.map { [Self.number(Double($0.value)), $0.row] }])
                    picked.forEach { rows.insert($0.row) }
                }
            }
            top.forEach { rows.insert($0.row) }
            let histogram = stats.histogram(j)
            let first = histogram.firstIndex { $0 > 0 } ?? histogram.startIndex, last = histogram.lastIndex { $0 > 0 } ?? first
            var section: [String: Any] = [
                "top": top.map { [Self.number(Double($0.value)), $0.row] },
                "bands": bands,
                "histogram": [first - histogram.startIndex] + histogram[first...last].map { Int($0) },
                "similar": similar[j].map { [$0.latent, Self.number(Double($0.cosine))] },
                "fires": stats.fires[j],
            ]
            if stats.classes > 0 {
                // The classes of its top examples, and of all its activations.
                var topClasses = [Int](repeating: 0, count: stats.classes)
                for example in top { if let k = classIndex(example.row) { topClasses[k] += 1 } }
                section["topClasses"] = topClasses
                section["classes"] = stats.classes(j).map { Int($0) }
            }
            if let shape = examples.imageShape, decoderImages != nil || decoderWidth == shape.height * shape.width {
                // The decoder row (or image) as signed bytes around 128, scaled by its largest magnitude.
                let n = shape.height * shape.width
                let row = decoderImages.map { $0[(j * n)..<((j + 1) * n)] } ?? decoderRows[(j * n)..<((j + 1) * n)]
                let scale = row.reduce(Float(0)) { max($0, abs($1)) }
                section["decoder"] = Data(row.map { UInt8(clamping: Int((128 + 127 * ($0 / max(scale, 1e-30))).rounded())) }).base64EncodedString()
            }
            sections[String(j)] = section
        }
        var rowData: [String: Any] = [:]
        for row in rows.sorted() {
            var entry: [String: Any] = [:]
            if let text = examples.text { entry["t"] = text(row) }
            if examples.imageShape != nil { entry["p"] = Self.pixels(examples.row(row)) }
            rowData[String(row)] = entry
        }
        return "SAE.chunk(\(chunk), \(Self.json(["latents": sections, "rows": rowData])));\n"
    }

    private func classIndex(_ row: Int) -> Int? { classOfRow?(row) }

    /// An image's values as bytes: [0, 1] data (pixels) as they are, others stretched to their range.
    static func pixels(_ values: [Float]) -> String {
        let (lo, hi) = (values.min() ?? 0, values.max() ?? 1)
        let unitRange = lo >= 0 && hi <= 1
        let (offset, scale): (Float, Float) = unitRange ? (0, 255) : (lo, hi > lo ? 255 / (hi - lo) : 0)
        return Data(values.map { UInt8(clamping: Int((($0 - offset) * scale).rounded())) }).base64EncodedString()
    }

    /// A number with 4 significant digits, as JSON writes it.
    static func number(_ v: Double) -> Double {
        guard v.isFinite, v != 0 else { return 0 }
        let digits = 4 - Int(floor(log10(abs(v)))) - 1
        let p = pow(10, Double(digits))
        return (v * p).rounded() / p
    }

    /// JSON for the page's data: objects with their keys in code-point order (deterministic
    /// files), numbers as Swift prints them, strings escaped. (JSONSerialization's sorted keys
    /// compare by locale: a third of the run at 16,384 latents.)
    static func json(_ value: Any) -> String {
        var out = ""
        json(value, into: &out)
        return out
    }

    private static func json(_ value: Any, into out: inout String) {
        switch value {
        case let object as [String: Any]:
            out += "{"
            for (i, key) in object.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                string(key, into: &out)
                out += ":"
                json(object[key]!, into: &out)
            }
            out += "}"
        case let array as [Any]:
            out += "["
            for (i, element) in array.enumerated() {
                if i > 0 { out += "," }
                json(element, into: &out)
            }
            out += "]"
        case let text as String: string(text, into: &out)
        case let number as Int: out += String(number)
        case let number as Double: out += number.isFinite ? (number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)) : "null"
        case let number as Float: json(Double(number), into: &out)
        case let flag as Bool: out += flag ? "true" : "false"
        default: out += "null"
        }
    }

    private static func string(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"   // never "</script>" inside a page
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

// MARK: - Writing the page

extension FeatureBrowser {
    /// The file that marks a directory as a page sae wrote (and may replace).
    package static let marker = ".sae-features"

    /// Writes the page into `directory`, all at once: into a fresh directory beside it, then
    /// renamed into place. An existing `directory` is replaced only if it is empty or a page sae
    /// wrote holding nothing else; a symbolic link or a directory with other files is refused.
    package func write(to directory: String) throws {
        let directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let existing = try Self.checkReplaceable(directory)
        let parent = (directory as NSString).deletingLastPathComponent.isEmpty ? "." : (directory as NSString).deletingLastPathComponent
        let base = (directory as NSString).lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw SAEError("cannot create the directory \(parent): \(FileSystemError.describe(error))")
        }
        let pid = ProcessInfo.processInfo.processIdentifier
        let staging = parent + "/.\(base).sae-tmp-\(pid)", old = parent + "/.\(base).sae-old-\(pid)"
        let fm = FileManager.default
        try? fm.removeItem(atPath: staging)
        do {
            try fm.createDirectory(atPath: staging + "/data", withIntermediateDirectories: true)
            for file in files() + [(Self.marker, Data("a feature browser page written by sae features\n".utf8))] {
                try AtomicFile.write(file.data, to: staging + "/" + file.name)
            }
            if existing { try fm.moveItem(atPath: directory, toPath: old) }
            try fm.moveItem(atPath: staging, toPath: directory)
        } catch {
            try? fm.removeItem(atPath: staging)
            if existing && !fm.fileExists(atPath: directory) { try? fm.moveItem(atPath: old, toPath: directory) }
            throw SAEError("cannot write the page into \(directory): \(FileSystemError.describe(error))")
        }
        if existing { try? fm.removeItem(atPath: old) }
    }

    /// Whether `directory` exists (and may be replaced); throws if it may not.
    package static func checkReplaceable(_ directory: String) throws -> Bool {
        var info = stat()
        guard lstat(directory, &info) == 0 else { return false }
        guard info.st_mode & S_IFMT != S_IFLNK else {
            throw SAEError("\(directory) is a symbolic link; choose another --out (sae does not replace links)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw SAEError("\(directory) exists and is not a directory; choose another --out") }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        if names.isEmpty { return true }
        if let foreign = foreignFile(in: directory, names: names) {
            throw SAEError("\(directory) holds \(foreign), which sae features did not write; choose another --out (nothing was changed)")
        }
        return true
    }

    /// The first entry of a page directory that is not the page's own (nil: all are).
    private static func foreignFile(in directory: String, names: [String]) -> String? {
        guard names.contains(marker) else { return names.sorted().first.map { directory + "/" + $0 } }
        for name in names.sorted() where ![marker, "index.html", "data"].contains(name) { return directory + "/" + name }
        let data = directory + "/data"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? []).sorted()
        where !(name == "latents.js" || (name.hasPrefix("chunk-") && name.hasSuffix(".js"))) {
            return data + "/" + name
        }
        return nil
    }

    /// Removes the page in `directory` if sae wrote it and it holds nothing else (a run replaced
    /// with `train --force` loses its stale page); leaves anything else alone.
    package static func removePage(at directory: String) {
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard names.contains(marker), foreignFile(in: directory, names: names) == nil else { return }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
