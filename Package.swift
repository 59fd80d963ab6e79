// swift-tools-version:6.0
import PackageDescription

// berth-runtime is linked as a fully static executable: start-up is part of the product
// (~2 ms static vs ~11 ms dynamic). FoundationEssentials' static archive leaves three of its
// own dependencies to the link line, so they are named here.
let staticExecutable: [LinkerSetting] = [
    .unsafeFlags([
        "-static-executable",
        "-Xlinker", "-l_FoundationCShims",
        "-Xlinker", "-l_FoundationCollections",
        "-Xlinker", "-lswiftSynchronization",
    ]),
]

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "berth-runtime", targets: ["berth-runtime"]),
        .executable(name: "berth", targets: ["berth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The engine's metadata (containers, names, volumes): SQLite through GRDB, on the system libsqlite3.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // C only where Swift cannot reach: raw clone/setns/unshare, capset, seccomp glue.
        .target(name: "CBerth"),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .target(name: "OCISpec"),
        .target(name: "Linux", dependencies: ["CBerth", "CSeccomp", "OCISpec"]),
        .target(name: "Cgroups", dependencies: ["Linux", "OCISpec"]),
        .target(name: "Runtime", dependencies: ["Cgroups", "Linux", "OCISpec"]),
        .executableTarget(name: "berth-runtime", dependencies: ["Runtime"], linkerSettings: staticExecutable),
        // libarchive reads and writes tar (gzip/zstd/xz filters, safe extraction); libcrypto hashes blobs (SHA-NI).
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "Images", dependencies: ["OCISpec", "Linux", "CArchive", "CCrypto"]),
        // Go's text/template, the subset docker's and podman's --format use. Pure Swift, no I/O.
        .target(name: "Template", dependencies: ["OCISpec"]),
        // The per-container supervisor (conmon's role): single-threaded, FoundationEssentials only, so
        // it can call Runtime.create in-process; linked statically because it lives as long as its container.
        .target(name: "Monitor", dependencies: ["Runtime", "Cgroups", "Linux", "OCISpec"]),
        .executableTarget(name: "berth-monitor", dependencies: ["Monitor"], linkerSettings: staticExecutable),
        // CNI: network definitions as conflists, the real plugins executed per the CNI spec.
        .target(name: "Network", dependencies: ["Linux", "CBerth"]),
        // The Docker-style engine both faces share (the CLI now, `berth serve` later).
        .target(
            name: "Engine",
            dependencies: [
                "Images", "Runtime", "Cgroups", "Linux", "OCISpec", "Monitor", "Network",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            // The default seccomp profile is data in the repo, compiled into the binary as bytes: berth works
            // from .build/debug or wherever it is copied, with no resource bundle to find (ARCHITECTURE.md).
            resources: [.embedInCode("Profiles/seccomp-default.json")]
        ),
        .executableTarget(
            name: "berth",
            dependencies: [
                "Cgroups", "Linux", "Images", "Runtime", "Engine", "Template", "Network",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "OCISpecTests", dependencies: ["OCISpec"]),
        .testTarget(name: "RuntimeTests", dependencies: ["OCISpec", "Linux", "CBerth"]),
        .testTarget(name: "CgroupsTests", dependencies: ["Cgroups", "Linux", "OCISpec"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "OCISpec"]),
        .testTarget(name: "TemplateTests", dependencies: ["Template"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Template", "OCISpec"]),
    ],
    swiftLanguageModes: [.v6]
)
