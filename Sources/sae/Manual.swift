import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

/// What `sae --version` prints: the version baked in at build time (Plugins/BuildInfo) and the
/// OpenBLAS library and kernel doing the matrix products in this process.
enum VersionLine {
    static var text: String {
        "sae \(BuildInfo.version) (\(BLASKernel.libraryVersion), \(BLASKernel.coreName) kernel; sae kernels \(BLASKernel.ownKernels))"
    }
}

/// `sae generate-manual` (hidden): writes sae's man page, sae.1 in mdoc, to standard output.
///
/// The page is rendered from the tool's own help, as swift-argument-parser serialises it for
/// `sae --experimental-dump-help` (the input its GenerateManual plugin reads), so it cannot
/// drift from `sae --help`: every visible subcommand with its abstract, discussion and every
/// option (names, value name, help, allowed values, default, grouped as `--help` groups them).
/// ENVIRONMENT and EXIT STATUS, which `--help` does not hold, come from `ManualPage.environment`
/// and `ManualPage.exitStatuses` (SAECommandTests checks them against the sources and README).
/// `make install` runs it on the very binary it installs. (The plugin itself is not used because
/// it builds and documents its own release build of the package rather than a given binary, so
/// it cannot serve `make install SAE_BIN=...` or run inside `swift test`; its page also loses the
/// defaults and runs the indented examples into the following text.)
struct GenerateManual: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-manual",
        abstract: "Write sae's man page (mdoc) to standard output.",
        shouldDisplay: false)

    func run() throws {
        let executable = FileManager.default.fileExists(atPath: "/proc/self/exe")
            ? "/proc/self/exe" : (Bundle.main.executablePath ?? CommandLine.arguments[0])
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = ["--experimental-dump-help"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw SAEError("sae --experimental-dump-help failed (status \(p.terminationStatus))") }
        let info = try JSONDecoder().decode(ManualPage.ToolInfo.self, from: data)
        guard info.serializationVersion == 0 else {
            throw SAEError("unknown help serialization version \(info.serializationVersion) (expected 0)")
        }
        print(ManualPage(root: info.command, version: BuildInfo.version, date: ManualPage.date()).mdoc, terminator: "")
    }
}

/// Renders swift-argument-parser's help description (ToolInfoV0) of a command tree as one mdoc page.
struct ManualPage {
    // The subset of ArgumentParserToolInfo's ToolInfoV0 the page needs (that module is not a product).
    struct ToolInfo: Decodable {
        var serializationVersion: Int
        var command: Command
    }
    struct Command: Decodable {
        var commandName: String
        var superCommands: [String]?
        var shouldDisplay: Bool?
        var abstract: String?
        var discussion: String?
        var subcommands: [Command]?
        var arguments: [Argument]?
    }
    struct Argument: Decodable {
        struct Name: Decodable { var kind: String; var name: String }
        var kind: String  // positional, option, flag
        var shouldDisplay: Bool
        var sectionTitle: String?
        var isOptional: Bool
        var isRepeating: Bool
        var names: [Name]?
        var valueName: String?
        var defaultValue: String?
        var allValues: [String]?
        var allValueDescriptions: [String: String]?
        var abstract: String?
        var discussion: String?
    }

    var root: Command
    var version: String
    var date: (year: Int, month: Int, day: Int)

    /// The page's date: $SOURCE_DATE_EPOCH if set (reproducible builds), else the date of the
    /// commit built, else today (UTC).
    static func date(environment: [String: String] = ProcessInfo.processInfo.environment) -> (year: Int, month: Int, day: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = BuildInfo.commitDate.split(separator: "-").compactMap { Int($0) }
        let when: Date
        if let epoch = environment["SOURCE_DATE_EPOCH"].flatMap(TimeInterval.init) {
            when = Date(timeIntervalSince1970: epoch)
        } else if parts.count == 3 {
            return (parts[0], parts[1], parts[2])
        } else {
            when = Date()
        }
        let c = calendar.dateComponents([.year, .month, .day], from: when)
        return (c.year ?? 1970, c.month ?? 1, c.day ?? 1)
    }

    var mdoc: String {
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"]
        var out = [
            #".\" Generated by `sae generate-manual` from sae's own help (sae --experimental-dump-help). Do not edit."#,
            ".Dd \(months[max(0, min(11, date.month - 1))]) \(date.day), \(date.year)",
            ".Dt \(root.commandName.uppercased()) 1",
            ".Os \(Self.argument("\(root.commandName) \(version)"))",
            ".Sh NAME",
            ".Nm \(root.commandName)",
        ]
        if let abstract = root.abstract { out.append(".Nd " + Self.escape(abstract.trimmingCharacters(in: CharacterSet(charactersIn: ". ")), startOfLine: false)) }

        out.append(".Sh SYNOPSIS")
        for command in visibleSubcommands(of: root) {
            out += [".Nm", ".Cm \(Self.argument(command.commandName))"] + synopsis(of: command)
        }
        let rootOptions = (root.arguments ?? []).filter(\.shouldDisplay)
        for option in rootOptions where option.kind != "positional" {
            out += [".Nm", ".Fl \(Self.flagName(option.names?.first(where: { $0.kind != "short" }) ?? option.names![0]))"]
        }

        if let discussion = root.discussion {
            out.append(".Sh DESCRIPTION")
            out += Self.paragraphs(discussion)
        }
        if !rootOptions.isEmpty {
            out.append(".Sh OPTIONS")
            out += list(rootOptions)
        }
        let commands = visibleSubcommands(of: root)
        if !commands.isEmpty {
            out.append(".Sh COMMANDS")
            for command in commands { out += describe(command) }
        }
        out.append(".Sh ENVIRONMENT")
        out.append(".Bl -tag -width Ds")
        for (names, text) in Self.environment {
            out.append(".It " + names.map { "Ev " + Self.argument($0) }.joined(separator: " , "))
            out += Self.paragraphs(text)
        }
        out.append(".El")
        out.append(".Sh EXIT STATUS")
        out.append(".Bl -tag -width Ds")
        for (status, text) in Self.exitStatuses {
            out += [".It " + Self.argument(status)] + Self.paragraphs(text)
        }
        out.append(".El")
        return out.joined(separator: "\n") + "\n"
    }

    /// Every environment variable sae reads, for the page's ENVIRONMENT (the README's table lists
    /// the same names; ManualTests checks both against the variables the sources read).
    static let environment: [(names: [String], text: String)] = [
        (["SAE_THREADS"], "Threads of sae's worker pool, which splits every matrix product and loop (default: one per core, at most 8; under MPI, the cores the rank is bound to or an equal share of the machine's). 1 leaves threading to OpenBLAS."),
        (["SAE_KERNELS"], "baseline: use the baseline x86-64 variants of sae's C kernels even where the CPU has AVX2 and FMA (sae --version names the variant in use)."),
        (["OPENBLAS_CORETYPE"], "OpenBLAS's kernel, kept when set. Unset, on a CPU that Debian's OpenBLAS takes for Prescott (SSE3) but that has AVX2 and FMA, sae restarts itself once with Haswell."),
        (["OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"], "OpenBLAS's own threads (used when SAE_THREADS=1). When none is set, sae caps them to the buffers that fit under ulimit -v; under MPI, OPENBLAS_NUM_THREADS unset gives each rank's OpenBLAS one thread."),
        (["SAE_OPENBLAS_LIBRARY"], "The OpenBLAS library to open instead of libopenblas.so.0."),
        (["SAE_DATA"], "A directory holding Fashion-MNIST, looked in after --data and before the cache."),
        (["XDG_CACHE_HOME", "HOME"], "The download cache: $XDG_CACHE_HOME/sae/fashion-mnist, else ~/.cache/sae/fashion-mnist."),
        (["SAE_MPI"], "1 runs over MPI, 0 never does; unset, sae does when a launcher started it (OMPI_COMM_WORLD_SIZE or PMIX_RANK set)."),
        (["SAE_MPI_LIBRARY"], "The MPI library to open instead of Open MPI's libmpi.so.40."),
        (["OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_NUM_APP_CTX", "PMIX_RANK", "PMI_SIZE", "PMI_RANK",
          "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_STEP_TASKS_PER_NODE"],
         "Set by the launcher (mpirun, srun), not by you: whether sae runs under MPI, its rank, the number of ranks (on this machine), and whether the job runs several programs."),
        (["SAE_DENSE_CODE_FRACTION"], "The share of a batch's (sample, latent) entries active above which the sparse step decodes and back-propagates through dense products (default 0.125; 0: always, 2: never)."),
        (["SAE_FIFO_WAIT"], "Seconds a FIFO named as input has for its writer to start (default 3, at most 60)."),
        (["SAE_FAULT", "SAE_FAULT_RANK"], "For the tests only: inject a fault (a signal, or a failed write, at a named point of training); SAE_FAULT_RANK limits it to one MPI rank."),
        (["SOURCE_DATE_EPOCH"], "The date of this page, for reproducible builds (default: the date of the commit built)."),
        (["SAE_VERSION"], "Read when sae is built, not when it runs: the version sae --version prints (default: git describe)."),
    ]

    /// What sae exits with, for the page's EXIT STATUS (SAE.exit(reporting:), Interrupt).
    static let exitStatuses: [(status: String, text: String)] = [
        ("0", "Success; also --help and --version."),
        ("1", "An error or a refusal: one line on standard error says what is wrong."),
        ("64", "A usage error (an unknown option, a bad value, a missing argument): one line on standard error, ending with the command's --help to read."),
        ("129, 130, 143", "Stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM: 128 + the signal. Training saves a checkpoint first and marks the run interrupted (continue with sae train --resume); other commands remove the temporary files of their writes in progress."),
    ]

    func visibleSubcommands(of command: Command) -> [Command] {
        (command.subcommands ?? []).filter { $0.shouldDisplay ?? true }
    }

    /// The arguments a subcommand's entry lists: all visible ones but --help and --version, which
    /// every command has (OPTIONS lists them once).
    func arguments(of command: Command) -> [Argument] {
        (command.arguments ?? []).filter { a in
            a.shouldDisplay && !(a.names ?? []).contains { $0.kind == "long" && ($0.name == "help" || $0.name == "version") }
        }
    }

    /// A subcommand's synopsis after its name: its positional arguments, then [options] if it has any.
    func synopsis(of command: Command) -> [String] {
        var lines: [String] = []
        let arguments = arguments(of: command)
        for a in arguments where a.kind == "positional" {
            let name = Self.argument(a.valueName ?? "argument") + (a.isRepeating ? " ..." : "")
            lines.append(a.isOptional ? ".Op Ar \(name)" : ".Ar \(name)")
        }
        if arguments.contains(where: { $0.kind != "positional" }) { lines.append(".Op Ar options") }
        return lines
    }

    func describe(_ command: Command) -> [String] {
        let path = (command.superCommands ?? []) + [command.commandName]
        var out = [".Ss \(Self.argument(path.dropFirst().joined(separator: " ")))"]
        out += [".Nm"] + path.dropFirst().map { ".Cm \(Self.argument($0))" } + synopsis(of: command)
        if let abstract = command.abstract { out += [".Pp"] + Self.paragraphs(abstract) }
        if let discussion = command.discussion { out += [".Pp"] + Self.paragraphs(discussion) }
        // Grouped as --help groups them: arguments, the titled sections in order, then options.
        let arguments = arguments(of: command)
        var groups: [(String, [Argument])] = [("Arguments", arguments.filter { $0.kind == "positional" && $0.sectionTitle == nil })]
        for a in arguments {
            if let title = a.sectionTitle, !groups.contains(where: { $0.0 == title }) {
                groups.append((title, arguments.filter { $0.sectionTitle == title }))
            }
        }
        groups.append(("Options", arguments.filter { $0.kind != "positional" && $0.sectionTitle == nil }))
        for (title, members) in groups where !members.isEmpty {
            out += [".Pp", ".Sy \(Self.argument(title + ":"))"] + list(members)
        }
        for sub in visibleSubcommands(of: command) { out += describe(sub) }
        return out
    }

    /// A tagged list of arguments; an --x/--no-x pair of flags with the same help is one item.
    func list(_ arguments: [Argument]) -> [String] {
        var out = [".Bl -tag -width Ds"]
        var i = 0
        while i < arguments.count {
            var tags = [tag(arguments[i])]
            let a = arguments[i]
            while a.kind == "flag", i + 1 < arguments.count, arguments[i + 1].kind == "flag",
                  arguments[i + 1].abstract == a.abstract, arguments[i + 1].discussion == a.discussion {
                i += 1
                tags.append(tag(arguments[i]))
            }
            out.append(".It " + tags.joined(separator: " , "))
            var help = a.abstract ?? ""
            if let values = a.allValues, a.allValueDescriptions == nil { help += " (values: \(values.joined(separator: ", ")))" }
            if let value = a.defaultValue, a.kind != "flag" { help += " (default: \(value))" }
            out += Self.paragraphs(help.trimmingCharacters(in: .whitespaces))
            if let discussion = a.discussion { out += [".Pp"] + Self.paragraphs(discussion) }
            if let values = a.allValues, let descriptions = a.allValueDescriptions {
                out.append(".Bl -tag -width Ds -compact")
                for value in values {
                    out.append(".It Cm \(Self.argument(value))")
                    if let d = descriptions[value] { out += Self.paragraphs(d) }
                }
                out.append(".El")
            }
            i += 1
        }
        out.append(".El")
        return out
    }

    /// `Fl h , Fl -help Ar value` for an option, `Ar value` for a positional argument.
    func tag(_ a: Argument) -> String {
        let value = Self.argument(a.valueName ?? "value") + (a.isRepeating ? " ..." : "")
        if a.kind == "positional" { return "Ar \(value)" }
        let names = (a.names ?? []).filter { $0.kind == "short" } + (a.names ?? []).filter { $0.kind != "short" }
        let flags = names.map { "Fl \(Self.flagName($0))" }.joined(separator: " , ")
        return a.kind == "option" ? "\(flags) Ar \(value)" : flags
    }

    /// A name as `Fl` takes it: `Fl h` is -h, `Fl -help` is --help.
    static func flagName(_ name: Argument.Name) -> String {
        argument(name.kind == "long" ? "-" + name.name : name.name)
    }

    /// Help text as mdoc text lines: blank lines become paragraph breaks and indented lines
    /// (examples) literal displays, their common indentation removed.
    static func paragraphs(_ text: String) -> [String] {
        var out: [String] = []
        var block: [Substring] = []
        var pendingBreak = false
        func flush() {
            guard !block.isEmpty else { return }
            let indent = block.filter { !$0.allSatisfy(\.isWhitespace) }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
            out.append(".Bd -literal -offset indent")
            out += block.map { escape(String($0.dropFirst(min(indent, $0.prefix { $0 == " " }.count))), startOfLine: true) }
            out.append(".Ed")
            block = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.allSatisfy(\.isWhitespace) {
                flush()
                pendingBreak = !out.isEmpty
            } else if line.first == " " || line.first == "\t" {
                pendingBreak = false  // a display is set off by itself
                block.append(line)
            } else {
                flush()
                if pendingBreak { out.append(".Pp") }
                pendingBreak = false
                out.append(escape(String(line), startOfLine: true))
            }
        }
        flush()
        return out
    }

    /// Text for a text line: backslashes as \e, hyphens as \- (so options copied from the page
    /// work), characters outside ASCII as \[uXXXX], and a leading . or ' guarded by \&.
    static func escape(_ s: String, startOfLine: Bool) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\e"
            case "-": out += "\\-"
            case "\t": out += "        "
            case _ where scalar.value > 0x7E || scalar.value < 0x20:
                out += String(format: "\\[u%04X]", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        if startOfLine, let first = out.first, first == "." || first == "'" || first == " " { out = "\\&" + out }
        return out
    }

    /// One macro argument: escaped, quoted if it holds a blank, and starting with \& so that a
    /// word such as "No" or "Ar" is never taken for a macro.
    static func argument(_ s: String) -> String {
        let escaped = escape(s, startOfLine: false).replacingOccurrences(of: "\"", with: "\\(dq")
        return s.contains(" ") ? "\"\\&\(escaped)\"" : "\\&\(escaped)"
    }
}
