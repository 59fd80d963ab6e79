import Linux

enum Output {
    static func print(_ text: String) {
        _ = try? Files.writeAll(fd: 1, Array(text.utf8))
    }

    /// Go's text/tabwriter as runc configures it (minwidth 12, padding 3).
    static func table(_ rows: [[String]]) {
        guard let first = rows.first else { return }
        var widths = [Int](repeating: 12, count: first.count)
        for row in rows {
            for (column, cell) in row.enumerated().dropLast() {
                // tabwriter counts runes, i.e. unicode scalars.
                widths[column] = max(widths[column], cell.unicodeScalars.count + 3)
            }
        }
        var text = ""
        for row in rows {
            for (column, cell) in row.enumerated() {
                if column == row.count - 1 {
                    text += cell
                } else {
                    text += cell + String(repeating: " ", count: widths[column] - cell.unicodeScalars.count)
                }
            }
            text += "\n"
        }
        print(text)
    }
}
