import ArgumentParser

/// `berth cgroup …` and `berth ns …` (issue 3).
enum ToolkitCommands {
    static let all: [any ParsableCommand.Type] = []
}
