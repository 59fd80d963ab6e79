import Foundation
import Images
import OCISpec
import Template

/// The text `berth images`, `history` and `image inspect` print.
enum ImageListing {
    static func render(_ records: [ImageRecord], quiet: Bool, digests: Bool, noTrunc: Bool, format: String?) throws -> String {
        let sorted = records.sorted { ($0.config.created ?? "") > ($1.config.created ?? "") }
        func id(_ record: ImageRecord) -> String {
            noTrunc ? record.configDigest.description : record.configDigest.short
        }
        if quiet {
            var seen = Set<String>()
            return sorted.map { id($0) }.filter { seen.insert($0).inserted }.map { $0 + "\n" }.joined()
        }
        if format == "json" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return sorted.map { record in
                let fields = fields(record, noTrunc: noTrunc)
                return String(decoding: (try? encoder.encode(fields)) ?? Data(), as: UTF8.self) + "\n"
            }.joined()
        }
        if let format, !format.isEmpty {
            // Go templates with docker's `table` convention (a header line, tabwriter columns), as `ps` has them.
            let rows = sorted.map { record in
                TemplateValue.object(fields(record, noTrunc: noTrunc).sorted { $0.key < $1.key }.map { (key: $0.key, value: .string($0.value)) })
            }
            return try Formatting.render(format: format, rows: rows, defaultTable: "",
                                         headers: ["ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"])
        }
        var rows = [["REPOSITORY", "TAG"] + (digests ? ["DIGEST"] : []) + ["IMAGE ID", "CREATED", "SIZE"]]
        for record in sorted {
            let f = fields(record, noTrunc: noTrunc)
            rows.append([f["Repository"] ?? "", f["Tag"] ?? ""] + (digests ? [f["Digest"] ?? ""] : [])
                        + [f["ID"] ?? "", f["CreatedSince"] ?? "", f["Size"] ?? ""])
        }
        return table(rows)
    }

    static func fields(_ record: ImageRecord, noTrunc: Bool) -> [String: String] {
        [
            "Repository": record.reference?.familiarName ?? "<none>",
            "Tag": record.reference?.tag ?? "<none>",
            "Digest": record.manifestDigest.description,
            "ID": noTrunc ? record.configDigest.description : record.configDigest.short,
            "CreatedAt": record.config.created ?? "",
            "CreatedSince": since(record.config.created),
            "Size": humanSize(record.size),
        ]
    }

    static func history(_ record: ImageRecord, noTrunc: Bool, quiet: Bool) -> String {
        let entries = (record.config.history ?? []).reversed()
        var layers = Array(record.manifest.layers.reversed())
        var rows = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
        var first = true
        for entry in entries {
            var size = "0B"
            if entry.empty_layer != true, !layers.isEmpty { size = humanSize(layers.removeFirst().size) }
            let image = first ? (noTrunc ? record.configDigest.description : record.configDigest.short) : "<missing>"
            first = false
            var createdBy = entry.created_by ?? ""
            if !noTrunc && createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            rows.append([image, since(entry.created), createdBy, size, entry.comment ?? ""])
        }
        if quiet { return rows.dropFirst().map { $0[0] + "\n" }.joined() }
        return table(rows)
    }

    static func table(_ rows: [[String]]) -> String {
        guard let columns = rows.first?.count else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == columns - 1 ? cell : cell.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0)
            }.joined() + "\n"
        }.joined()
    }

    static func humanSize(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes)B" : String(format: value < 10 ? "%.2f%@" : "%.1f%@", value, units[unit])
    }

    static func since(_ created: String?) -> String {
        guard let created, let date = parseDate(created) else { return "N/A" }
        let seconds = Int(Date().timeIntervalSince(date))
        switch seconds {
        case ..<60: return "Less than a minute ago"
        case ..<3600: return "\(seconds / 60) minutes ago"
        case ..<86400: return "\(seconds / 3600) hours ago"
        case ..<(86400 * 14): return "\(seconds / 86400) days ago"
        case ..<(86400 * 60): return "\(seconds / 86400 / 7) weeks ago"
        case ..<(86400 * 730): return "\(seconds / 86400 / 30) months ago"
        default: return "\(seconds / 86400 / 365) years ago"
        }
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // Go writes up to nine fractional digits; drop them.
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            return formatter.date(from: String(text[..<dot]) + String(text[zone...]))
        }
        return nil
    }
}

/// `berth image inspect` output: docker's main fields plus the OCI documents.
struct ImageInspection: Encodable {
    var Id: String
    var RepoTags: [String]
    var RepoDigests: [String]
    var Created: String?
    var Architecture: String
    var Os: String
    var Size: Int64
    var Config: ImageConfig.Execution?
    var RootFS: ImageConfig.RootFS
    var Manifest: ImageManifest
    var ManifestMediaType: String

    init(_ record: ImageRecord) {
        Id = record.configDigest.description
        RepoTags = record.reference.map { [$0.familiarName + ":" + ($0.tag ?? "latest")] } ?? []
        RepoDigests = record.reference.map { [$0.familiarName + "@" + record.manifestDigest.description] } ?? []
        Created = record.config.created
        Architecture = record.config.architecture
        Os = record.config.os
        Size = record.size
        Config = record.config.config
        RootFS = record.config.rootfs
        Manifest = record.manifest
        ManifestMediaType = record.manifestMediaType
    }
}
