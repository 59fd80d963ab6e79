import ArgumentParser
import Foundation

/// `berth cgroup …` and `berth ns …` (issue 3).
enum ToolkitCommands {
    static let all: [any ParsableCommand.Type] = [CgroupCommand.self, NamespaceCommand.self]
}

/// `--format table|json`, shared by the toolkit commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json
}

struct FormatOption: ParsableArguments {
    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table
}

/// Output helpers for the toolkit: aligned tables, JSON, and `berth: <what failed>: <why>` errors.
enum ToolkitOutput {
    static func table(_ headers: [String], _ rows: [[String]]) {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() {
                if i == cells.count - 1 { out += cell } else { out += cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }
            }
            return out
        }
        print(line(headers))
        for row in rows { print(line(row)) }
    }

    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("berth: \(message)\n".utf8))
    }

    /// Runs `body`, printing any failure as `berth: <error>` and exiting 1.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            Self.error("\(error)")
            throw ExitCode.failure
        }
    }

    /// 1536 → "1.5K"; "max" and non-numbers pass through.
    static func bytes(_ value: UInt64) -> String {
        let units = ["", "K", "M", "G", "T", "P"]
        var v = Double(value)
        var unit = 0
        while v >= 1024 && unit < units.count - 1 { v /= 1024; unit += 1 }
        if unit == 0 { return "\(value)" }
        return v >= 100 ? "\(Int(v.rounded()))\(units[unit])" : String(format: "%.1f%@", v, units[unit])
    }

    static func bytes(_ text: String?) -> String {
        guard let text else { return "-" }
        guard let v = UInt64(text) else { return text }
        return bytes(v)
    }

    static func seconds(_ nanoseconds: UInt64) -> String {
        String(format: "%.3fs", Double(nanoseconds) / 1e9)
    }
}

/// A failure found while checking arguments, printed as `berth: <what>: <why>`.
struct ToolkitError: Error, CustomStringConvertible {
    let what: String
    let why: String
    var description: String { "\(what): \(why)" }
}
