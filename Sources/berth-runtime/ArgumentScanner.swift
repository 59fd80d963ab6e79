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

    private(set) var values: [String: [String]] = [:]
    private(set) var positional: [String] = []

    /// `flags` map every accepted spelling (without dashes) to its canonical name.
    init(_ arguments: [String], flags: [FlagSpec], stopAtFirstPositional: Bool = false) throws(UsageError) {
        var byName: [String: (String, Kind)] = [:]
        for spec in flags { for name in spec.names { byName[name] = (spec.names[0], spec.kind) } }
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
            guard let (canonical, kind) = byName[String(body)] else {
                throw UsageError(message: "flag provided but not defined: -\(body)")
            }
            switch kind {
            case .bool:
                let value = inlineValue ?? "true"
                guard value == "true" || value == "false" || value == "1" || value == "0" else {
                    throw UsageError(message: "invalid boolean value \"\(value)\" for -\(body)")
                }
                values[canonical, default: []].append(value == "true" || value == "1" ? "true" : "false")
            case .value, .multi:
                if let inlineValue {
                    values[canonical, default: []].append(inlineValue)
                } else {
                    guard index < arguments.count else { throw UsageError(message: "flag needs an argument: -\(body)") }
                    values[canonical, default: []].append(arguments[index])
                    index += 1
                }
            }
        }
    }

    func bool(_ name: String) -> Bool { values[name]?.last == "true" }
    func string(_ name: String) -> String? { values[name]?.last }
    func strings(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String) throws(UsageError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text) else { throw UsageError(message: "invalid value \"\(text)\" for flag --\(name)") }
        return value
    }
}
