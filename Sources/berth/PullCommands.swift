import ArgumentParser
import Foundation
import Images
import OCISpec

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image from a registry.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .long, help: "Use plain http (always so for localhost and 127.0.0.1).") var insecure = false
    @Option(name: .long, help: "os/arch[/variant] to pull from a multi-platform image.") var platform: String?
    @Option(name: .long, help: "Seconds a request may stay silent before it fails.") var timeout: Double = 30
    @Option(name: .long, help: "Layers downloaded at once.") var parallel = 3
    @Flag(name: .shortAndLong, help: "Print only the image reference.") var quiet = false
    @Argument(help: "Image reference.") var reference: String

    func run() async throws {
        try await reportingErrors {
            var options = PullOptions()
            options.insecure = insecure
            options.timeout = timeout
            options.parallel = max(1, parallel)
            if let platform {
                guard let parsed = Platform(parsing: platform) else {
                    throw ValidationError("--platform must be os/arch[/variant]")
                }
                options.platform = parsed
            }
            let display = PullProgress(quiet: quiet)
            let record = try await store.open().pull(reference, options: options) { display.handle($0) }
            display.finish(record)
        }
    }
}

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Save credentials for a registry.")
    @OptionGroup var store: StoreOptions
    @Option(name: .shortAndLong, help: "User name.") var username: String
    @Option(name: .shortAndLong, help: "Password (prefer --password-stdin).") var password: String?
    @Flag(name: .long, help: "Read the password from standard input.") var passwordStdin = false
    @Flag(name: .long, help: "Use plain http.") var insecure = false
    @Argument(help: "Registry host[:port].") var registry: String

    func run() async throws {
        try await reportingErrors {
            var secret = password
            if passwordStdin {
                secret = readLine(strippingNewline: true)
            }
            guard let secret, !secret.isEmpty else { throw ValidationError("a password is needed (-p or --password-stdin)") }
            try await store.open().login(registry: registry, username: username, password: secret, insecure: insecure)
            print("Login Succeeded")
        }
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Forget a registry's credentials.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "Registry host[:port].") var registry: String

    func run() async throws {
        try await reportingErrors {
            try store.open().logout(registry: registry)
            print("Removing login credentials for \(registry)")
        }
    }
}
