import Foundation
import Images
import OCISpec

/// Pull progress like docker's: on a terminal one line per layer redrawn in place with a bar; otherwise plain
/// lines, one per event that changes a layer's state.
final class PullProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let quiet: Bool
    private let terminal: Bool
    private var order: [Digest] = []
    private var lines: [Digest: String] = [:]
    private var drawn = 0
    private var lastDraw = Date.distantPast
    private var downloaded = false

    init(quiet: Bool) {
        self.quiet = quiet
        terminal = isatty(1) != 0
    }

    func handle(_ event: PullEvent) {
        guard !quiet else { return }
        lock.withLock {
            switch event {
            case .resolved(let reference, _, _):
                emit("Pulling \(reference)")
            case .layerExists(let digest):
                update(digest, "Already exists", force: true)
            case .layerStarted(let digest, let size):
                downloaded = true
                update(digest, "Downloading " + (terminal ? bar(0, size) : ImageListing.humanSize(size)), force: true)
            case .layerProgress(let digest, let received, let size):
                if terminal { update(digest, "Downloading " + bar(received, size), force: false) }
            case .layerDownloaded(let digest):
                update(digest, "Download complete", force: true)
            case .layerUnpacked(let digest):
                update(digest, "Pull complete", force: true)
            case .finished:
                break
            }
        }
    }

    func finish(_ record: ImageRecord) {
        lock.withLock {
            if terminal { redraw() }
            if quiet {
                emit(record.reference?.description ?? record.configDigest.description)
            } else {
                emit("Digest: \(record.manifestDigest)")
                let name = record.reference?.description ?? record.configDigest.description
                emit(downloaded ? "Status: Downloaded newer image for \(name)" : "Status: Image is up to date for \(name)")
            }
        }
    }

    /// Unbuffered, so lines interleave correctly with the redraws.
    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    private func update(_ digest: Digest, _ text: String, force: Bool) {
        if lines[digest] == nil { order.append(digest) }
        lines[digest] = text
        if !terminal {
            emit("\(digest.short): \(text)")
            return
        }
        let now = Date()
        if force || now.timeIntervalSince(lastDraw) > 0.1 {
            lastDraw = now
            redraw()
        }
    }

    private func redraw() {
        var out = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        for digest in order {
            out += "\u{1B}[2K\(digest.short): \(lines[digest] ?? "")\n"
        }
        drawn = order.count
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private func bar(_ received: Int64, _ size: Int64) -> String {
        let width = 40
        let filled = size > 0 ? min(width, Int(received * Int64(width) / size)) : 0
        let arrow = filled < width ? ">" : ""
        let body = String(repeating: "=", count: max(0, filled - (arrow.isEmpty ? 0 : 1))) + arrow
        return "[" + body.padding(toLength: width, withPad: " ", startingAt: 0) + "] "
            + ImageListing.humanSize(received) + "/" + ImageListing.humanSize(size)
    }
}
