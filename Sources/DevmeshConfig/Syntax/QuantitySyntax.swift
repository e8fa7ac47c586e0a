/// Numbers with units. Units are mandatory for durations (a bare `30` could mean seconds or
/// milliseconds, and guessing wrong is a silent misconfiguration) and optional for sizes
/// (a bare number is bytes, the only reading that makes sense).
enum QuantitySyntax {
    /// A non-negative whole number in decimal.
    static func integer(_ text: String) throws(SyntaxProblem) -> Int {
        guard !text.isEmpty, text.utf8.allSatisfy(isDigit) else {
            throw SyntaxProblem("expected a whole number, got '\(text)'")
        }
        guard text.utf8.count <= 15, let value = Int(text) else {
            throw SyntaxProblem("\(text) is too large")
        }
        return value
    }

    /// `65536`, `64KiB`, `64 KiB`, `1MiB`, `512B`: bytes, binary multiples only.
    static func size(_ text: String) throws(SyntaxProblem) -> Int {
        let (number, unit) = splitNumber(text)
        guard !number.isEmpty else {
            throw SyntaxProblem("expected a size such as 64KiB or 65536, got '\(text)'")
        }
        let multiplier: Int
        switch unit {
        case "", "B": multiplier = 1
        case "KiB": multiplier = 1_024
        case "MiB": multiplier = 1_048_576
        default:
            throw SyntaxProblem("unknown size unit '\(unit)' in '\(text)' (use B, KiB or MiB)")
        }
        guard number.utf8.count <= 12, let value = Int(number) else {
            throw SyntaxProblem("\(text) is too large")
        }
        return value * multiplier
    }

    /// `250ms`, `15s`, `2m`, `1h`: one whole number and one unit.
    static func duration(_ text: String) throws(SyntaxProblem) -> Milliseconds {
        let (number, unit) = splitNumber(text)
        guard !number.isEmpty else {
            throw SyntaxProblem("expected a duration such as 15s or 250ms, got '\(text)'")
        }
        let multiplier: Int64
        switch unit {
        case "ms": multiplier = 1
        case "s": multiplier = 1_000
        case "m": multiplier = 60_000
        case "h": multiplier = 3_600_000
        case "":
            throw SyntaxProblem("'\(text)' needs a unit (ms, s, m or h), e.g. \(text)s")
        default:
            if unit.hasPrefix(".") {
                throw SyntaxProblem("'\(text)': use a whole number of a smaller unit, e.g. 1500ms")
            }
            throw SyntaxProblem("unknown duration unit '\(unit)' in '\(text)' (use ms, s, m or h)")
        }
        guard number.utf8.count <= 12, let value = Int64(number) else {
            throw SyntaxProblem("\(text) is too large")
        }
        return Milliseconds(value * multiplier)
    }

    /// Seconds for the `--drain-timeout` flag: a whole or decimal number of seconds (`15`,
    /// `0.5`), or a duration with a unit as in the YAML file.
    static func seconds(_ text: String) throws(SyntaxProblem) -> Milliseconds {
        let (number, unit) = splitNumber(text)
        if !number.isEmpty && !unit.isEmpty && !unit.hasPrefix(".") { return try duration(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, parts.allSatisfy({ $0.utf8.allSatisfy(isDigit) }),
              let whole = Int64(parts[0]), parts[0].utf8.count <= 9 else {
            throw SyntaxProblem("expected a number of seconds such as 15 or 0.5, got '\(text)'")
        }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.utf8.count <= 3 else {
            throw SyntaxProblem("'\(text)': at most millisecond precision (3 decimals)")
        }
        while fraction.utf8.count < 3 { fraction += "0" }
        return Milliseconds(whole * 1_000 + (Int64(fraction) ?? 0))
    }

    /// Leading digits, then the rest with spaces in between dropped (`64 KiB`).
    private static func splitNumber(_ text: String) -> (number: Substring, unit: Substring) {
        let number = text.prefix { isDigit($0.asciiValue ?? 0) }
        var unit = text[number.endIndex...]
        while unit.first == " " { unit = unit.dropFirst() }
        return (number, unit)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

/// Human spellings for range messages.
enum Quantity {
    /// `65536` -> `64 KiB`, `1048576` -> `1 MiB`, `100` -> `100 B`.
    static func bytes(_ value: Int) -> String {
        if value != 0 && value % 1_048_576 == 0 { return "\(value / 1_048_576) MiB" }
        if value != 0 && value % 1_024 == 0 { return "\(value / 1_024) KiB" }
        return "\(value) B"
    }

    /// `10000` -> `10,000`.
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return value < 0 ? "-" + grouped : grouped
    }
}
