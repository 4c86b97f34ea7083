// SPDX-License-Identifier: Apache-2.0

/// A table for the terminal: a header row and columns as wide as their widest cell.
///
/// Numbers are right-aligned so their digits line up; text is left-aligned. Columns are
/// separated by two spaces and lines carry no trailing blanks.
struct TextTable {
    enum Alignment {
        case left, right
    }

    struct Column {
        var title: String
        var alignment: Alignment

        static func text(_ title: String) -> Column { Column(title: title, alignment: .left) }
        static func number(_ title: String) -> Column { Column(title: title, alignment: .right) }
    }

    let columns: [Column]
    private(set) var rows: [[String]] = []

    init(_ columns: [Column]) {
        self.columns = columns
    }

    /// Adds a row; it must have one cell per column.
    mutating func append(_ row: [String]) {
        precondition(row.count == columns.count, "a row of \(row.count) cells in a table of \(columns.count) columns")
        rows.append(row)
    }

    /// The table as lines; without the header for a list of `name  value` fields.
    func render(includingHeader: Bool = true) -> String {
        let all = (includingHeader ? [columns.map(\.title)] : []) + rows
        let widths = columns.indices.map { index in all.map { $0[index].count }.max() ?? 0 }
        return all.map { row in
            let cells = columns.indices.map { index in
                let padding = String(repeating: " ", count: widths[index] - row[index].count)
                return columns[index].alignment == .right ? padding + row[index] : row[index] + padding
            }
            return cells.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        String(self[..<(lastIndex { $0 != " " }.map { index(after: $0) } ?? startIndex)])
    }
}
