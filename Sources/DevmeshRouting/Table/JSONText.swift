/// A minimal JSON writer for the admin `/routes` output and error messages (this module stays
/// free of Foundation). Commas are placed by the writer, so callers only open, write, close.
///
/// RFC 8259 §7: strings escape `"`, `\` and the control characters U+0000–U+001F; everything
/// else may appear literally in UTF-8.
struct JSONText {
    private(set) var text = ""
    /// One flag per open container: true until its first element is written.
    private var firstInContainer: [Bool] = []
    /// True right after `key`: the next value belongs to that member and takes no comma.
    private var pendingValue = false

    mutating func beginObject() { element(); text += "{"; firstInContainer.append(true) }
    mutating func endObject() { firstInContainer.removeLast(); text += "}" }
    mutating func beginArray() { element(); text += "["; firstInContainer.append(true) }
    mutating func endArray() { firstInContainer.removeLast(); text += "]" }

    /// Writes `"name":` inside an object; the value follows with the next call.
    mutating func key(_ name: String) {
        element()
        appendEscaped(name)
        text += ":"
        pendingValue = true
    }

    mutating func string(_ value: String) { element(); appendEscaped(value) }
    mutating func number(_ value: some BinaryInteger) { element(); text += String(value) }
    mutating func bool(_ value: Bool) { element(); text += value ? "true" : "false" }
    mutating func null() { element(); text += "null" }

    /// Emits the comma before every element but the first of its container.
    private mutating func element() {
        if pendingValue {
            pendingValue = false
            return
        }
        guard let last = firstInContainer.last else { return }
        if !last { text += "," }
        firstInContainer[firstInContainer.count - 1] = false
    }

    private mutating func appendEscaped(_ value: String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{0}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
