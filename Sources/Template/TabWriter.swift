/// Go's text/tabwriter, which docker runs table output through.
public enum TabWriter {
    /// Aligns tab-separated cells into columns as `tabwriter.NewWriter(out, minWidth, tabWidth,
    /// padding, padCharacter, 0)` followed by `Flush` does. docker's tables use the defaults.
    ///
    /// A cell is text ending in a tab; the text after a line's last tab is not a cell and is
    /// never padded. A column is a run of consecutive lines that all have a cell at that
    /// position, and it is as wide as its widest cell plus `padding`, at least `minWidth`.
    /// Widths count Unicode scalars, as Go counts runes. With a tab as `padCharacter`, cell
    /// widths round up to multiples of `tabWidth` and padding is written as tabs.
    public static func format(
        _ text: String, minWidth: Int = 10, tabWidth: Int = 1, padding: Int = 3, padCharacter: Character = " "
    ) -> String {
        var segments = Text.split(text, separator: "\n")
        let last = segments.removeLast()
        var lines = segments.map { Text.split($0, separator: "\t") }
        // Unterminated text after the final tab is a cell only if it is not empty, as at Flush.
        var lastLine = last.isEmpty ? [] : Text.split(last, separator: "\t")
        if lastLine.count > 1, lastLine.last == "" { lastLine.removeLast() }
        lines.append(lastLine)
        var layout = Layout(
            lines: lines.map { $0.map { Cell(text: $0, width: $0.unicodeScalars.count) } },
            minWidth: minWidth, tabWidth: tabWidth, padding: padding, padCharacter: padCharacter
        )
        layout.format(from: 0, to: lines.count)
        return layout.output
    }

    private struct Cell {
        var text: String
        var width: Int
    }

    private struct Layout {
        let lines: [[Cell]]
        let minWidth: Int
        let tabWidth: Int
        let padding: Int
        let padCharacter: Character
        var widths: [Int] = []
        var output = ""

        init(lines: [[Cell]], minWidth: Int, tabWidth: Int, padding: Int, padCharacter: Character) {
            self.lines = lines
            self.minWidth = minWidth
            self.tabWidth = tabWidth
            self.padding = padding
            self.padCharacter = padCharacter
        }

        /// tabwriter's format: find the block of lines sharing the next column, size it, then
        /// lay out the columns to its right within that block.
        mutating func format(from start: Int, to end: Int) {
            var line0 = start
            let column = widths.count
            var this = start
            while this < end {
                if column >= lines[this].count - 1 {
                    this += 1
                    continue
                }
                writeLines(from: line0, to: this)
                line0 = this
                var width = minWidth
                while this < end, column < lines[this].count - 1 {
                    width = max(width, lines[this][column].width + padding)
                    this += 1
                }
                widths.append(width)
                format(from: line0, to: this)
                widths.removeLast()
                line0 = this
            }
            writeLines(from: line0, to: end)
        }

        mutating func writeLines(from start: Int, to end: Int) {
            for i in start..<max(start, end) {
                for (j, cell) in lines[i].enumerated() {
                    output += cell.text
                    if j < widths.count { writePadding(text: cell.width, cell: widths[j]) }
                }
                // The last line is what followed the final newline: no newline of its own.
                if i + 1 < lines.count { output += "\n" }
            }
        }

        mutating func writePadding(text: Int, cell: Int) {
            if padCharacter == "\t" {
                guard tabWidth > 0 else { return }
                let rounded = (cell + tabWidth - 1) / tabWidth * tabWidth
                let count = (rounded - text + tabWidth - 1) / tabWidth
                if count > 0 { output += String(repeating: "\t", count: count) }
            } else if cell > text {
                output += String(repeating: padCharacter, count: cell - text)
            }
        }
    }
}
