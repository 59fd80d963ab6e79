import ArgumentParser
import Foundation
import Images
import OCISpec

struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load",
                                                    abstract: "Load images from a docker-archive or OCI archive.")
    @OptionGroup var store: StoreOptions
    @Option(name: .shortAndLong, help: "Archive file (default: standard input).") var input: String?
    @Flag(name: .shortAndLong, help: "Print only the image IDs.") var quiet = false

    func run() async throws {
        try await reportingErrors {
            let records = try await store.open().load(archive: input == "-" ? nil : input)
            for record in records {
                if quiet {
                    print(record.configDigest.description)
                } else if let reference = record.reference {
                    print("Loaded image: \(reference.familiarName):\(reference.tag ?? "latest")")
                } else {
                    print("Loaded image ID: \(record.configDigest)")
                }
            }
        }
    }
}

struct SaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Write images to an archive.")
    @OptionGroup var store: StoreOptions
    @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?
    @Option(name: .long, help: "docker-archive or oci-archive.") var format = "docker-archive"
    @Argument(help: "Images.") var images: [String]

    func run() async throws {
        try await reportingErrors {
            if output == nil && isatty(1) != 0 {
                throw ValidationError("refusing to write an archive to a terminal (use -o FILE or redirect)")
            }
            try store.open().save(images, format: format, path: output == "-" ? nil : output)
        }
    }
}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import",
                                                    abstract: "Make a one-layer image of a root filesystem tarball.")
    @OptionGroup var store: StoreOptions
    @Option(name: .long, help: "Default command, as a JSON array or a shell string.") var cmd: String?
    @Option(name: .long, help: "Working directory.") var workdir: String?
    @Option(name: .long, parsing: .singleValue, help: "Environment variable NAME=VALUE (repeatable).") var env: [String] = []
    @Argument(help: "Tarball (plain, gzip, zstd or xz; - for standard input).") var tarball: String
    @Argument(help: "Name for the image.") var reference: String?

    func run() async throws {
        try await reportingErrors {
            var execution = ImageConfig.Execution(Env: [RuntimeConfigBuilder.defaultPath] + env)
            if let cmd {
                if let data = cmd.data(using: .utf8), let array = try? JSONDecoder().decode([String].self, from: data) {
                    execution.Cmd = array
                } else {
                    execution.Cmd = ["/bin/sh", "-c", cmd]
                }
            }
            execution.WorkingDir = workdir
            let path = tarball == "-" ? "/dev/stdin" : tarball
            let record = try await store.open().importRootfs(path, reference: reference, change: execution)
            print(record.configDigest.description)
        }
    }
}

struct ImageBundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Make an OCI bundle of an image: overlay-mounted rootfs and config.json, for berth-runtime or runc.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .long, help: "Copy the layers instead of mounting overlayfs.") var copy = false
    @Argument(help: "Image.") var image: String
    @Argument(help: "Bundle directory to create.") var bundle: String
    @Argument(parsing: .captureForPassthrough, help: "Command to run instead of the image's Cmd.") var command: [String] = []

    func run() async throws {
        try await reportingErrors {
            let made = try ImageBundle.create(store: store.open(), image: image, bundle: bundle,
                                              mode: copy ? .copy : .automatic,
                                              args: command.isEmpty ? nil : command)
            print("\(made.path) (\(made.overlay ? "overlay" : "copy"))")
        }
    }
}

struct ImageUnbundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unbundle",
                                                    abstract: "Unmount and delete a bundle made by `image bundle`.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "Bundle directory.") var bundle: String

    func run() async throws {
        try await reportingErrors { try ImageBundle.remove(store: store.open(), bundle: bundle) }
    }
}
