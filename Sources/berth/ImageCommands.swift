import ArgumentParser

/// `berth load/save/import/images/rmi/tag/image/history/pull/login` (issue 4).
enum ImageCommands {
    static let all: [any ParsableCommand.Type] = []
}
