/// runc's command line grammar (Go's flag package under urfave/cli): `-flag`, `--flag`, `--flag=value`,
/// `--flag value`; booleans take no separate value; `--` ends the flags. Flags may follow positional
/// arguments except where a command says otherwise (exec, whose trailing arguments are the command).
struct ArgumentScanner {
    struct UsageError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    enum Kind { case bool, value, multi }

    struct FlagSpec {
        let names: [String]
        let kind: Kind
    }

    /// (canonical name, value) in command-line order. Arrays, not dictionaries: a command has a few flags, and a
    /// process's first Dictionary of a new type costs more (the Swift runtime's conformance lookups) than
    /// scanning a dozen entries.
    private(set) var values: [(name: String, value: String)] = []
    private(set) var positional: [String] = []

    /// `flags` map every accepted spelling (without dashes) to its canonical name.
    init(_ arguments: [String], flags: [FlagSpec], stopAtFirstPositional: Bool = false) throws(UsageError) {
        func lookup(_ name: Substring) -> (String, Kind)? {
            for spec in flags where spec.names.contains(where: { $0 == name }) { return (spec.names[0], spec.kind) }
            return nil
        }
        var index = 0
        var flagsDone = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if flagsDone || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
                if stopAtFirstPositional { flagsDone = true }
                continue
            }
            if argument == "--" { flagsDone = true; continue }
            var body = Substring(argument.dropFirst(argument.hasPrefix("--") ? 2 : 1))
            var inlineValue: String?
            if let equals = body.firstIndex(of: "=") {
                inlineValue = String(body[body.index(after: equals)...])
                body = body[..<equals]
            }
            guard let (canonical, kind) = lookup(body) else {
                throw UsageError(message: "flag provided but not defined: -\(body)")
            }
            switch kind {
            case .bool:
                let value = inlineValue ?? "true"
                guard value == "true" || value == "false" || value == "1" || value == "0" else {
                    throw UsageError(message: "invalid boolean value \"\(value)\" for -\(body)")
                }
                values.append((canonical, value == "true" || value == "1" ? "true" : "false"))
            case .value, .multi:
                if let inlineValue {
                    values.append((canonical, inlineValue))
                } else {
                    guard index < arguments.count else { throw UsageError(message: "flag needs an argument: -\(body)") }
                    values.append((canonical, arguments[index]))
                    index += 1
                }
            }
        }
    }

    func bool(_ name: String) -> Bool { string(name) == "true" }
    func string(_ name: String) -> String? { values.last { $0.name == name }?.value }
    func strings(_ name: String) -> [String] { values.filter { $0.name == name }.map(\.value) }

    func int(_ name: String) throws(UsageError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw UsageError(message: "invalid value \"\(text)\" for flag --\(name)") }
        return value
    }
}
