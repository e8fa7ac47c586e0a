import DevmeshBytes

/// The second look at a head's lines, needed only when the first pass could not decide alone:
/// a `Connection` token that names other fields (which may come before or after it), or an
/// upgrade that must keep its `Upgrade` and `Connection` lines. Most heads skip it.
enum HopByHop {
    /// - Parameters:
    ///   - keepUpgradeLines: true for a WebSocket upgrade request or a 101 response, whose
    ///     `Upgrade` and `Connection` lines must reach the other side.
    static func finish(_ storage: HeaderStorage, count: Int, facts: inout FieldFacts, keepUpgradeLines: Bool) {
        // SAFETY: `count` slots were just written by the field-line parser (count <= capacity).
        let fields = UnsafeBufferPointer(start: storage.fieldSlots, count: count)
        let lines = UnsafeMutableBufferPointer(start: storage.lineSlots, count: count)
        if keepUpgradeLines {
            for index in lines.indices
            where lines[index].hopByHop && (lines[index].kind == .upgrade || lines[index].kind == .connection) {
                lines[index].hopByHop = false
                facts.hopByHopCount -= 1
            }
        }
        guard facts.connectionNamesFields else { return }
        // RFC 9110 §7.6.1: "a proxy or gateway MUST parse a received Connection header field
        // before a message is forwarded and, for each connection-option in this field, remove
        // any header or trailer field(s) from the message with the same name as the
        // connection-option". O(tokens x fields), and only for heads that name fields.
        for connection in lines.indices where lines[connection].kind == .connection {
            for token in ListElements(fields[connection].value) where !isConnectionKeyword(token) {
                for index in lines.indices where !lines[index].hopByHop
                    && ASCII.equalsIgnoringCase(fields[index].name, token)
                    && mayBeDroppedByConnection(lines[index].kind, name: fields[index].name) {
                    lines[index].hopByHop = true
                    facts.hopByHopCount += 1
                }
            }
        }
    }

    /// Tokens with a meaning of their own, already acted on by the first pass.
    static func isConnectionKeyword(_ token: UnsafeRawBufferPointer) -> Bool {
        ASCII.equalsCaseInsensitive(token, lowercased: "close")
            || ASCII.equalsCaseInsensitive(token, lowercased: "keep-alive")
            || ASCII.equalsCaseInsensitive(token, lowercased: "upgrade")
    }

    /// Fields a `Connection` token may not remove. Dropping Content-Length or Transfer-Encoding
    /// while still framing the body by it would desynchronise the upstream (request smuggling),
    /// dropping Host would make the forwarded request invalid, and trace-context carriers must
    /// reach the next hop (notes/carriers.md: "Forward every carrier header unchanged").
    /// Connection and Upgrade lines are hop-by-hop by name already; the only ones still here are
    /// those a WebSocket upgrade keeps, and a token naming them (`Connection: upgrade,
    /// connection`) must not undo the upgrade (found by FuzzHeadRewriter).
    static func mayBeDroppedByConnection(_ kind: KnownHeader, name: UnsafeRawBufferPointer) -> Bool {
        switch kind {
        case .host, .contentLength, .transferEncoding, .connection, .upgrade:
            return false
        default:
            return !TraceContextCarrier.isCarrierName(name)
        }
    }
}

/// Names of the trace-context headers that carry routing keys (notes/carriers.md). They are
/// never hop-by-hop. Operator-configured custom carrier headers are not known at this layer.
enum TraceContextCarrier {
    static func isCarrierName(_ name: UnsafeRawBufferPointer) -> Bool {
        ASCII.equalsCaseInsensitive(name, lowercased: "baggage")
            || ASCII.equalsCaseInsensitive(name, lowercased: "traceparent")
            || ASCII.equalsCaseInsensitive(name, lowercased: "tracestate")
            || ASCII.equalsCaseInsensitive(name, lowercased: "jaeger-baggage")
            || ASCII.equalsCaseInsensitive(name, lowercased: "uber-trace-id")
            || ASCII.equalsCaseInsensitive(name, lowercased: "b3")
            || ASCII.hasPrefixCaseInsensitive(name, lowercased: "uberctx-")
            || ASCII.hasPrefixCaseInsensitive(name, lowercased: "ot-baggage-")
            || ASCII.hasPrefixCaseInsensitive(name, lowercased: "baggage-")
            || ASCII.hasPrefixCaseInsensitive(name, lowercased: "x-b3-")
    }
}
