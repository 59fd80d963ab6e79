import ArgumentParser
import Engine
import Foundation
import Images
import OCISpec

/// `berth load/save/import/images/rmi/tag/image/history/pull/login` (issue 4).
enum ImageCommands {
    static let all: [any ParsableCommand.Type] = [
        LoadCommand.self, SaveCommand.self, ImportCommand.self, ImagesCommand.self, RmiCommand.self, TagCommand.self,
        ImageCommand.self, HistoryCommand.self, PullCommand.self, LoginCommand.self, LogoutCommand.self,
    ]
}

/// `--root`: where the engine keeps its state (the image store is `<root>/image`).
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Engine state directory.")
    var root: String = ProcessInfo.processInfo.environment["BERTH_ROOT"] ?? ImageStore.defaultRoot

    func open() throws -> ImageStore { try ImageStore(root: root) }
}

/// Runs a command body and prints failures as `berth: <what failed>: <why>`.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images.")
    @OptionGroup var options: ImagesCommandOptions

    func run() async throws { try await options.list() }
}

struct ImageListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])
    @OptionGroup var options: ImagesCommandOptions

    func run() async throws { try await options.list() }
}

/// `images` and `image ls`: the same flags, the same listing.
struct ImagesCommandOptions: ParsableArguments {
    @OptionGroup var store: StoreOptions
    @Flag(name: .shortAndLong, help: "Only show image IDs.") var quiet = false
    @Flag(name: .long, help: "Show digests.") var digests = false
    @Flag(name: .long, help: "Do not truncate IDs.") var noTrunc = false
    @Option(name: .long, help: "json, or a Go template like '{{.Repository}}:{{.Tag}} {{.ID}}' ('table …' for columns).") var format: String?
    @Argument(help: "Only images of this repository.") var repository: String?

    func list() async throws {
        try await reportingErrors {
            var records = try store.open().list()
            if let repository {
                let wanted = (try? ImageReference(parsing: repository))?.name ?? repository
                records = records.filter { $0.reference?.name == wanted }
            }
            print(try ImageListing.render(records, quiet: quiet, digests: digests, noTrunc: noTrunc, format: format),
                  terminator: "")
        }
    }
}

struct RmiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove images.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .shortAndLong, help: "Remove every reference of an image given by ID.") var force = false
    @Argument(help: "Images (reference or ID).") var images: [String]

    func run() async throws {
        try await reportingErrors {
            let engine = try Engine(root: store.root, runroot: ProcessInfo.processInfo.environment["BERTH_RUNROOT"] ?? "/run/berth")
            let opened = engine.images
            let containers = try engine.containers()
            let user = { (image: Digest) -> String? in
                containers.first { $0.Image == image.description }.map { "\($0.Id.prefix(12)) (\($0.Name))" }
            }
            var failed: [String] = []
            for image in images {
                do {
                    for line in try opened.remove(image, force: force, usedBy: user) { print(line) }
                } catch {
                    FileHandle.standardError.write(Data("berth: \(error)\n".utf8))
                    failed.append(image)
                }
            }
            if !failed.isEmpty { throw ExitCode.failure }
        }
    }
}

struct TagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Give an image another name.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "Existing image.") var source: String
    @Argument(help: "New reference.") var target: String

    func run() async throws {
        try await reportingErrors { try store.open().tag(source, as: target) }
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show how an image was built.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .long, help: "Do not truncate output.") var noTrunc = false
    @Flag(name: .shortAndLong, help: "Only show layer IDs.") var quiet = false
    @Argument(help: "Image.") var image: String

    func run() async throws {
        try await reportingErrors {
            let record = try store.open().resolve(image)
            print(ImageListing.history(record, noTrunc: noTrunc, quiet: quiet), terminator: "")
        }
    }
}

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images.",
        subcommands: [ImageListCommand.self, ImageInspectCommand.self, ImagePruneCommand.self, ImageRemoveCommand.self,
                      TagCommand.self, HistoryCommand.self, LoadCommand.self, SaveCommand.self, ImportCommand.self,
                      PullCommand.self, ImageBundleCommand.self, ImageUnbundleCommand.self]
    )
}

struct ImageRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove images.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .shortAndLong, help: "Remove every reference of an image given by ID.") var force = false
    @Argument(help: "Images (reference or ID).") var images: [String]
    func run() async throws {
        var command = RmiCommand()
        command.store = store; command.force = force; command.images = images
        try await command.run()
    }
}

struct ImageInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show images' details as JSON.")
    @OptionGroup var store: StoreOptions
    @Option(name: [.customShort("f"), .customLong("format")], help: "Format output using a Go template.") var format: String?
    @Argument(help: "Images.") var images: [String]

    func run() async throws {
        try await reportingErrors {
            let opened = try store.open()
            var out: [ImageInspection] = []
            for image in images { out.append(ImageInspection(try opened.resolve(image))) }
            if let format, format != "json" {
                print(try Formatting.each(format, out.map { try Formatting.value($0) }), terminator: "")
                return
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
        }
    }
}

struct ImagePruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune",
                                                    abstract: "Remove untagged images and unreferenced content.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .shortAndLong, help: "Remove every image not used by a bundle, not only untagged ones.") var all = false
    @Flag(name: .shortAndLong, help: "Do not ask (there is no prompt; accepted for docker compatibility).") var force = false

    func run() async throws {
        try await reportingErrors {
            let report = try store.open().prune(all: all)
            for name in report.untagged { print("Untagged: \(name)") }
            for blob in report.deletedBlobs { print("Deleted: \(blob)") }
            print("Total reclaimed space: \(ImageListing.humanSize(report.reclaimedBytes))")
        }
    }
}
