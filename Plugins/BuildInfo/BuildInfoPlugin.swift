import Foundation
import PackagePlugin

/// Bakes the version into `sae` (for `sae --version` and the man page). Before every build,
/// SwiftPM runs `scripts/build-info.sh`, which writes `BuildInfo.swift` into the plugin's work
/// directory: the version from `git describe` (or `0.0.0-unknown` outside a git checkout, e.g. a
/// tarball; `SAE_VERSION` overrides both) and the commit's date. The file is rewritten only when
/// its content changes, so an unchanged checkout does not recompile `sae`. Nothing is generated
/// in the source tree, so plain `swift build` and `swift test` get the same version as `make`.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        if let version = ProcessInfo.processInfo.environment["SAE_VERSION"] { environment["SAE_VERSION"] = version }
        return [.prebuildCommand(
            displayName: "sae version (scripts/build-info.sh)",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: [package.appendingPathComponent("scripts/build-info.sh").path(percentEncoded: false),
                        package.path(percentEncoded: false),
                        output.appendingPathComponent("BuildInfo.swift").path(percentEncoded: false)],
            environment: environment,
            outputFilesDirectory: output)]
    }
}
