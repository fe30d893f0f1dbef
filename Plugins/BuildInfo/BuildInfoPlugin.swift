import Foundation
import PackagePlugin

/// Bakes the version into `sae` (for `sae --version` and the man page). `scripts/build-info.sh`
/// writes `BuildInfo.swift` into the plugin's work directory: the version from `git describe` (or
/// `0.0.0-unknown` outside a git checkout, e.g. a tarball; `SAE_VERSION` overrides both) and the
/// commit's date. Nothing is generated in the source tree, so plain `swift build` and `swift test`
/// get the same version as `make`.
///
/// A build command, not a prebuild one: SwiftPM runs prebuild commands only when it plans the
/// build anew (a file added or removed, the manifest changed), so after a commit that added no
/// file `sae --version` went on naming the commit before. A build command reruns whenever one of
/// its inputs changes: git's HEAD, its reflog (every commit, checkout, reset), its index (every
/// `git add`) and the package's sources (what makes a checkout "-dirty"). The script rewrites
/// the file only when its content changes, so an unchanged version recompiles nothing.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let script = package.appendingPathComponent("scripts/build-info.sh")
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("generated/BuildInfo.swift")
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        if let version = ProcessInfo.processInfo.environment["SAE_VERSION"] { environment["SAE_VERSION"] = version }
        let sources = context.package.targets.compactMap { $0.sourceModule }.flatMap { $0.sourceFiles.map(\.url) }
        return [.buildCommand(
            displayName: "sae version (scripts/build-info.sh)",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [script.path(percentEncoded: false), package.path(percentEncoded: false), output.path(percentEncoded: false)],
            environment: environment,
            inputFiles: [script] + gitState(package) + sources,
            outputFiles: [output])]
    }

    /// The files git changes when the commit checked out, or what is staged, changes: in `.git`,
    /// or where a worktree's `.git` file points. None outside a git checkout.
    private func gitState(_ package: URL) -> [URL] {
        let dotGit = package.appendingPathComponent(".git")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit.path(percentEncoded: false), isDirectory: &isDirectory) else { return [] }
        var gitDirectory = dotGit
        if !isDirectory.boolValue {
            // A worktree or submodule: "gitdir: PATH", relative to the package or absolute.
            guard let text = try? String(contentsOf: dotGit, encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("gitdir: ") }) else { return [] }
            let path = String(line.dropFirst("gitdir: ".count)).trimmingCharacters(in: .whitespaces)
            gitDirectory = path.hasPrefix("/") ? URL(fileURLWithPath: path) : package.appendingPathComponent(path)
        }
        return ["HEAD", "index", "logs/HEAD", "packed-refs"].map { gitDirectory.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.path(percentEncoded: false)) }
    }
}
