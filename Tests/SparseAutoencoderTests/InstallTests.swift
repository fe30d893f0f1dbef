import Foundation
import SparseAutoencoder
import XCTest

/// `make install` and `make uninstall` into a temporary PREFIX (issue 14): the installed `sae`
/// runs by name from PREFIX/bin (`--version`, a short command), its man page renders with
/// `man -l` (groff or mandoc if man-db is missing; `make test` installs man-db) and documents
/// every command and option of `sae --help`, the bash completion completes, DESTDIR stages, and
/// uninstalling leaves no file behind. Installs the debug `sae` built for the tests
/// (`SAE_BIN=`), so nothing is built.
final class InstallTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let installed = ["bin/sae", "share/man/man1/sae.1", "share/bash-completion/completions/sae",
                            "share/zsh/site-functions/_sae", "share/fish/vendor_completions.d/sae.fish"]

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    /// Runs a program (looked up in PATH unless absolute) with output to temporary files, so
    /// large outputs cannot block on a full pipe.
    func run(_ program: String, _ arguments: [String], environment: [String: String?] = [:]) throws -> Output {
        let dir = temporaryDirectory(self)
        FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let out = FileHandle(forWritingAtPath: dir + "/out")!, err = FileHandle(forWritingAtPath: dir + "/err")!
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        p.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        return Output(status: p.terminationStatus,
                      stdout: try String(contentsOfFile: dir + "/out", encoding: .utf8),
                      stderr: try String(contentsOfFile: dir + "/err", encoding: .utf8))
    }

    /// The `sae` built next to the tests.
    func builtSAE() throws -> String { try builtExecutable("sae") }

    /// Every file and symlink (not directory) under `dir`, relative to it.
    func files(under dir: String) -> [String] {
        var found: [String] = []
        let e = FileManager.default.enumerator(atPath: dir)
        while let relative = e?.nextObject() as? String {
            var isDir: ObjCBool = false
            let attributes = try? FileManager.default.attributesOfItem(atPath: dir + "/" + relative)
            if attributes?[.type] as? FileAttributeType == .typeSymbolicLink
                || !(FileManager.default.fileExists(atPath: dir + "/" + relative, isDirectory: &isDir) && isDir.boolValue) {
                found.append(relative)
            }
        }
        return found.sorted()
    }

    func make(_ arguments: [String]) throws -> Output {
        try run("make", ["--no-print-directory", "-C", Self.root] + arguments)
    }

    func testInstallRunReadTheManPageCompleteAndUninstall() throws {
        let sae = try builtSAE()
        // A blank in the path checks the quoting of every command of both targets.
        let prefix = temporaryDirectory(self) + "/pre fix"
        let install = try make(["install", "PREFIX=\(prefix)", "DESTDIR=", "SAE_BIN=\(sae)"])
        XCTAssertEqual(install.status, 0, install.stdout + install.stderr)
        XCTAssertEqual(files(under: prefix), Self.installed.sorted())
        for file in Self.installed {
            let mode = (try FileManager.default.attributesOfItem(atPath: prefix + "/" + file)[.posixPermissions] as? Int) ?? 0
            XCTAssertEqual(mode, file == "bin/sae" ? 0o755 : 0o644, file)
        }

        // sae by name, from PREFIX/bin, with no OPENBLAS_CORETYPE (so it may restart itself with a
        // better kernel, which must work from there too).
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = prefix + "/bin:" + (env["PATH"] ?? "/usr/bin:/bin")
        env["OPENBLAS_CORETYPE"] = nil
        func installedSAE(_ arguments: [String], _ extra: [String: String] = [:]) throws -> Output {
            let p = Process()
            let dir = temporaryDirectory(self)
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["sae"] + arguments
            p.environment = env.merging(extra) { $1 }
            let out = dir + "/out", err = dir + "/err"
            FileManager.default.createFile(atPath: out, contents: nil)
            FileManager.default.createFile(atPath: err, contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: out)!
            p.standardError = FileHandle(forWritingAtPath: err)!
            try p.run()
            p.waitUntilExit()
            return Output(status: p.terminationStatus, stdout: try String(contentsOfFile: out, encoding: .utf8),
                          stderr: try String(contentsOfFile: err, encoding: .utf8))
        }
        let version = try installedSAE(["--version"])
        XCTAssertEqual(version.status, 0, version.stderr)
        let pattern = try NSRegularExpression(pattern: #"^sae ([0-9A-Za-z.+~-]+) \(OpenBLAS [0-9][^,]*, ([A-Za-z0-9_]+) kernel; sae kernels (x86-64-v3|baseline)\)\n$"#)
        let match = pattern.firstMatch(in: version.stdout, range: NSRange(version.stdout.startIndex..., in: version.stdout))
        XCTAssertNotNil(match, "sae --version printed \(version.stdout.debugDescription)")
        if let match, let range = Range(match.range(at: 1), in: version.stdout) {
            let v = String(version.stdout[range])
            // Built from this git checkout, the version comes from git describe, not the fallback.
            if FileManager.default.fileExists(atPath: Self.root + "/.git"),
               (try? run("git", ["-C", Self.root, "rev-parse", "HEAD"]).status) == 0 {
                XCTAssertNotEqual(v, "0.0.0-unknown", "git describe was not baked in")
            }
        }
        #if arch(x86_64)
        // The kernel is the one running, not one fixed at build time.
        let haswell = try installedSAE(["--version"], ["OPENBLAS_CORETYPE": "Haswell"])
        XCTAssertTrue(haswell.stdout.contains(", Haswell kernel;"), haswell.stdout)
        let baseline = try installedSAE(["--version"], ["SAE_KERNELS": "baseline"])
        XCTAssertTrue(baseline.stdout.hasSuffix("; sae kernels baseline)\n"), baseline.stdout)
        #endif
        let summary = try installedSAE(["summary", "--penalty", "kl", "--code", "32"])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        XCTAssertTrue(summary.stdout.contains("code (Dense, sigmoid)") && summary.stdout.contains("(None, 32)"), summary.stdout)

        // The man page renders without a warning, and documents every visible command and option.
        let page = prefix + "/share/man/man1/sae.1"
        let rendered = try renderManPage(page)
        XCTAssertEqual(rendered.status, 0, rendered.stderr)
        XCTAssertFalse(rendered.stderr.lowercased().contains("warning") || rendered.stderr.lowercased().contains("error"),
                       "the renderer complained: \(rendered.stderr)")
        let text = rendered.stdout
        for heading in ["SAE(1)", "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "ENVIRONMENT", "SAE_THREADS", "EXIT STATUS",
                        "Train, inspect and compare sparse autoencoders", "--version"] {
            XCTAssertTrue(text.contains(heading), "the rendered page lacks \(heading)")
        }
        let help = try installedSAE(["--experimental-dump-help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        let tool = try JSONSerialization.jsonObject(with: Data(help.stdout.utf8)) as? [String: Any]
        let commands = ((tool?["command"] as? [String: Any])?["subcommands"] as? [[String: Any]]) ?? []
        XCTAssertGreaterThan(commands.count, 10)
        var checked = 0
        for command in commands where command["shouldDisplay"] as? Bool ?? true {
            let name = command["commandName"] as! String
            XCTAssertTrue(text.contains("sae \(name)"), "the page does not document sae \(name)")
            for argument in (command["arguments"] as? [[String: Any]]) ?? [] where argument["shouldDisplay"] as? Bool ?? true {
                for n in (argument["names"] as? [[String: String]]) ?? [] where n["kind"] == "long" {
                    XCTAssertTrue(text.contains("--" + n["name"]!), "the page does not document sae \(name) --\(n["name"]!)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
        XCTAssertFalse(text.contains("generate-manual"), "the hidden command is documented")
        if commandExists("man") {
            // man finds the page from PATH alone (PREFIX/bin -> PREFIX/share/man).
            let where_ = try run("man", ["-w", "sae"], environment: ["PATH": env["PATH"]!, "MANPATH": nil])
            XCTAssertEqual(where_.stdout.trimmingCharacters(in: .whitespacesAndNewlines), page, where_.stderr)
        }

        // The bash completion completes subcommands and option values.
        let completion = prefix + "/share/bash-completion/completions/sae"
        let script = """
            source "$1"
            COMP_WORDS=(sae tr); COMP_CWORD=1; COMP_LINE="sae tr"; COMP_POINT=6; COMPREPLY=()
            _sae sae tr sae; echo "${COMPREPLY[*]}"
            COMP_WORDS=(sae train --penalty k); COMP_CWORD=3; COMP_LINE="sae train --penalty k"; COMP_POINT=21; COMPREPLY=()
            _sae sae k --penalty; echo "${COMPREPLY[*]}"
            """
        let completed = try run("bash", ["-c", script, "bash", completion])
        XCTAssertEqual(completed.status, 0, completed.stderr)
        XCTAssertEqual(completed.stdout, "train\nkl\n", completed.stderr)
        let zsh = try String(contentsOfFile: prefix + "/share/zsh/site-functions/_sae", encoding: .utf8)
        XCTAssertTrue(zsh.hasPrefix("#compdef sae"), String(zsh.prefix(80)))
        let fish = try String(contentsOfFile: prefix + "/share/fish/vendor_completions.d/sae.fish", encoding: .utf8)
        XCTAssertTrue(fish.contains("complete -c 'sae'") || fish.contains("complete -c sae"), String(fish.prefix(200)))

        // DESTDIR stages the same files under it, for a package.
        let stage = temporaryDirectory(self)
        let staged = try make(["install", "PREFIX=/usr/local", "DESTDIR=\(stage)", "SAE_BIN=\(sae)"])
        XCTAssertEqual(staged.status, 0, staged.stdout + staged.stderr)
        XCTAssertEqual(files(under: stage), Self.installed.map { "usr/local/" + $0 }.sorted())
        XCTAssertEqual(FileManager.default.contents(atPath: stage + "/usr/local/share/man/man1/sae.1"),
                       FileManager.default.contents(atPath: page))

        // Uninstalling leaves no file behind (directories may stay); a second time is a no-op.
        for _ in 0..<2 {
            let uninstall = try make(["uninstall", "PREFIX=\(prefix)", "DESTDIR="])
            XCTAssertEqual(uninstall.status, 0, uninstall.stdout + uninstall.stderr)
            XCTAssertEqual(files(under: prefix), [])
        }
        let unstaged = try make(["uninstall", "PREFIX=/usr/local", "DESTDIR=\(stage)"])
        XCTAssertEqual(unstaged.status, 0, unstaged.stdout + unstaged.stderr)
        XCTAssertEqual(files(under: stage), [])
        // A directory where sae's binary was is not removed, and uninstall fails saying so.
        try FileManager.default.createDirectory(atPath: stage + "/usr/local/bin/sae/mine", withIntermediateDirectories: true)
        let blocked = try make(["uninstall", "PREFIX=/usr/local", "DESTDIR=\(stage)"])
        XCTAssertNotEqual(blocked.status, 0)
        XCTAssertTrue(blocked.stderr.contains("not removed: \(stage)/usr/local/bin/sae is a directory"), blocked.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stage + "/usr/local/bin/sae/mine"))
    }

    func commandExists(_ name: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(name)"]).status) == 0
    }

    /// Renders a man page as plain text: `man -l` (man-db, which `make test` installs), else groff
    /// or mandoc; with none of them the test fails rather than pass unchecked.
    func renderManPage(_ page: String) throws -> Output {
        let env: [String: String?] = ["MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80", "MAN_KEEP_FORMATTING": nil]
        if commandExists("man") { return try run("man", ["-l", page], environment: env) }
        if commandExists("groff") { return try run("groff", ["-mandoc", "-Tutf8", "-P-cbou", "-ww", page]) }
        if commandExists("mandoc") { return try run("mandoc", ["-Tutf8", "-Wwarning", page]) }
        XCTFail("no man page renderer (man, groff or mandoc): apt-get install man-db (make test does)")
        throw SAEError("no man")
    }
}
