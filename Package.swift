// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SparseAutoencoder",
    products: [
        .library(name: "SparseAutoencoder", targets: ["SparseAutoencoder"]),
        .executable(name: "sae", targets: ["sae"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `make docs` only (the DocC catalogue, Sources/SparseAutoencoder/SparseAutoencoder.docc): a command
        // plugin, resolved with the package but built only when `swift package generate-documentation` runs.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - C system libraries (tiny shims; installed by `make deps`)

        /// OpenBLAS's CBLAS interface: every matrix product goes through `cblas_sgemm`. Opened with
        /// dlopen() on first use (libopenblas0), so that an address-space limit gets an OpenBLAS
        /// with as many threads as fit instead of one that spins at load (see sae_openblas.h).
        .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
        /// zlib, to read gzip'd IDX files and write PNG.
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        /// The elementwise training loops, compiled for AVX2 + FMA and for baseline x86-64.
        .target(name: "CKernels"),
        /// Open MPI, opened with dlopen() only when `sae train` runs under mpirun or srun: no MPI at
        /// build time, none at run time for a plain run (see Distributed/Communicator.swift).
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),
        /// Stop signals: a training loop stops at its next step, anything else ends at once
        /// without leaving the temporary files of its writes (async-signal-safe C).
        .target(name: "CSignals"),

        // MARK: - Library

        /// The core a Swift user imports: data, layers, losses, penalties, optimizers, the model,
        /// training with checkpoints (also over MPI ranks), and the file formats.
        .target(
            name: "SparseAutoencoder",
            dependencies: ["COpenBLAS", "CZlib", "CKernels", "CMPI", "CSignals"]
        ),
        /// The toolkit `sae` is made of, on top of the core: run directories and their orchestration
        /// (train, resume, sweep), analysis, plots, the report and the benchmark. Not a product: its
        /// API is `package`, for the command-line tool and the tests.
        .target(
            name: "SparseAutoencoderToolkit",
            dependencies: ["SparseAutoencoder", "CZlib"]
        ),

        // MARK: - Command-line tool

        .executableTarget(
            name: "sae",
            dependencies: [
                "SparseAutoencoder",
                "SparseAutoencoderToolkit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildInfo"]
        ),
        /// Writes `sae`'s version (git describe) into the build before every build: scripts/build-info.sh.
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // MARK: - Examples

        /// The getting-started article's code (Sources/SparseAutoencoder/SparseAutoencoder.docc/
        /// GettingStarted.md) as a program; ExampleTests runs it on the test fixture, so the article cannot rot.
        .executableTarget(
            name: "GettingStarted",
            dependencies: ["SparseAutoencoder"],
            path: "Examples/GettingStarted"
        ),

        // MARK: - Tests

        .testTarget(
            name: "SparseAutoencoderTests",
            dependencies: ["SparseAutoencoder", "SparseAutoencoderToolkit", "CKernels", "CZlib"]
        ),
    ]
)
