import Foundation

/// Finds, downloads if needed, verifies and loads Fashion-MNIST.
///
/// Places looked in, in order: an explicit directory (`--data`), `$SAE_DATA`, the per-user cache
/// (`$XDG_CACHE_HOME/sae/fashion-mnist`, else `~/.cache/sae/fashion-mnist`), then Debian's
/// `dataset-fashion-mnist` package (`/usr/share/datasets/fashion-mnist`). A directory "has" the
/// dataset when all four files are there, each either gzip'd (`NAME.gz`) or raw (`NAME`).
/// If none has it, the files are downloaded into the cache and verified by SHA-256.
///
///     let (train, test) = try FashionMNIST.load()
public enum FashionMNIST {
    package struct File: Sendable {
        package let name: String
        /// Size and SHA-256 of the decompressed file (the official originals).
        package let bytes: Int
        package let sha256: String
    }

    package static let trainImages = File(name: "train-images-idx3-ubyte", bytes: 47_040_016,
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888")
    package static let trainLabels = File(name: "train-labels-idx1-ubyte", bytes: 60_008,
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9")
    package static let testImages = File(name: "t10k-images-idx3-ubyte", bytes: 7_840_016,
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b")
    package static let testLabels = File(name: "t10k-labels-idx1-ubyte", bytes: 10_008,
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")
    package static let files = [trainImages, trainLabels, testImages, testLabels]

    /// The ten labels' names, in label order.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Where the official files are served (plain HTTP, hence the checksums).
    public static let officialBaseURL = URL(string: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")!
    package static let debianDirectory = "/usr/share/datasets/fashion-mnist"

    /// The per-user cache directory that downloads go to.
    package static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/sae/fashion-mnist" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.cache/sae/fashion-mnist"
    }

    /// Loads the training and test sets.
    ///
    /// - Parameters:
    ///   - directory: an explicit directory; when given, it must hold the files (no fallback, so a
    ///     typo is not silently replaced by another copy).
    ///   - download: whether to download when no directory has the files.
    ///   - baseURL: where to download from (tests point this at a local server).
    ///   - log: receives one line per notable step ("downloading ...").
    public static func load(
        directory: String? = nil, download: Bool = true, baseURL: URL = officialBaseURL,
        log: (String) -> Void = { _ in }
    ) throws -> (train: Dataset, test: Dataset) {
        let dir = try locate(directory: directory, download: download, baseURL: baseURL, log: log)
        return (try loadSplit(dir, trainImages, trainLabels), try loadSplit(dir, testImages, testLabels))
    }

    /// The places looked in when no directory is given: `$SAE_DATA`, the cache, Debian's package.
    package static var searchPath: [String] {
        var places: [String] = []
        if let env = ProcessInfo.processInfo.environment["SAE_DATA"], !env.isEmpty { places.append(env) }
        return places + [cacheDirectory, debianDirectory]
    }

    /// The directory holding all four files: `directory` if given, else the first of `searchPath`
    /// that has them, else `cacheDirectory` after downloading them there. `files` are the files
    /// looked for and the sizes and checksums a download must match (the tests pass a small
    /// set's; every other caller keeps the real ones).
    package static func locate(
        directory: String?, searchPath: [String] = FashionMNIST.searchPath, download: Bool = true,
        baseURL: URL = officialBaseURL, cacheDirectory: String = FashionMNIST.cacheDirectory,
        files: [File] = FashionMNIST.files, log: (String) -> Void = { _ in }
    ) throws -> String {
        if let directory {
            let missing = files.filter { path(of: $0, in: directory) == nil }.map(\.name)
            guard missing.isEmpty else {
                throw SAEError("\(directory) does not hold Fashion-MNIST: missing \(missing.joined(separator: ", ")) (raw or .gz)")
            }
            return directory
        }
        let candidates = searchPath
        if let found = candidates.first(where: { dir in files.allSatisfy { path(of: $0, in: dir) != nil } }) {
            return found
        }
        guard download else {
            throw notFound(candidates, reason: "downloading is off")
        }
        do {
            try Downloader.fetch(files, from: baseURL, into: cacheDirectory, log: log)
        } catch let error as SAEError {
            throw notFound(candidates, reason: "download from \(baseURL.absoluteString) failed: \(error.message)")
        }
        return cacheDirectory
    }

    /// `DIR/NAME.gz` or `DIR/NAME`, whichever exists.
    static func path(of file: File, in directory: String) -> String? {
        for candidate in [directory + "/" + file.name + ".gz", directory + "/" + file.name]
        where FileManager.default.isReadableFile(atPath: candidate) {
            return candidate
        }
        return nil
    }

    private static func loadSplit(_ dir: String, _ images: File, _ labels: File) throws -> Dataset {
        let imagesPath = path(of: images, in: dir)!, labelsPath = path(of: labels, in: dir)!
        let labelArray = try IDX.read(path: labelsPath)
        // Fashion-MNIST has 10 classes; a larger label is a damaged file (and would make the
        // linear probe fit up to 256 classes).
        if let bad = labelArray.bytes.firstIndex(where: { Int($0) >= classNames.count }) {
            throw SAEError.badFile(labelsPath, "label \(labelArray.bytes[bad]) at index \(bad) is not a Fashion-MNIST class (0-\(classNames.count - 1))")
        }
        return try Dataset(images: IDX.read(path: imagesPath), labels: labelArray, imagesName: imagesPath, labelsName: labelsPath)
    }

    private static func notFound(_ places: [String], reason: String) -> SAEError {
        SAEError("Fashion-MNIST not found in \(places.joined(separator: ", ")) and \(reason); "
            + "install it with `apt-get install dataset-fashion-mnist` or pass --data DIR")
    }
}
