import DevmeshRouting

/// The oracle for `RoutingKeyExtractor`: notes/carriers.md §2-§8 read literally, with arrays
/// and no attention to speed. It collects every key offer with its rank, then sorts, removes
/// repeats and keeps eight, exactly as `RoutingKeyCandidates` documents its ordering.
struct ReferenceExtraction {
    let keyNames: [[UInt8]]
    let customHeaders: [[UInt8]]

    init(_ spec: CarrierSpec) {
        keyNames = spec.keyNames.map { Array($0.utf8) }
        customHeaders = spec.customHeaders.map { Array($0.utf8).map(Self.lower) }
    }

    private struct Offer {
        var key: [UInt8]
        var carrier: RoutingKeyCarrier
        var position: Int
        var arrival: Int
    }

    func extract(_ headers: [(name: [UInt8], value: [UInt8])]) -> [Found] {
        var offers: [Offer] = []
        var customSeen: Set<Int> = []
        var baggageMembers = 0
        var tracestateMembers = 0
        func offer(_ raw: [UInt8], decode: Bool, _ carrier: RoutingKeyCarrier, _ position: Int) {
            guard let key = Self.decodeKey(raw, percent: decode) else { return }
            offers.append(Offer(key: key, carrier: carrier, position: position, arrival: offers.count))
        }
        for (name, value) in headers {
            let lowered = name.map(Self.lower)
            // §6 custom headers: whole trimmed value, verbatim, first line of each wins.
            if let index = customHeaders.firstIndex(of: lowered), !customSeen.contains(index) {
                customSeen.insert(index)
                offer(Self.trim(value), decode: false, .customHeader, index)
            }
            if lowered == Array("baggage".utf8) {
                // §2 W3C baggage.
                for member in Self.members(value) {
                    let equals = Self.firstIndex(of: 0x3D, in: member, before: 0x3B)
                    if equals == nil, Self.trim(member).isEmpty { continue }
                    baggageMembers += 1
                    if baggageMembers > RoutingKeyExtractor.maxBaggageMembers { break }
                    guard let equals, let position = keyNames.firstIndex(of: Self.trim(Array(member[..<equals])))
                    else { continue }
                    let valueEnd = member.firstIndex(of: 0x3B) ?? member.count
                    offer(Self.trim(Array(member[(equals + 1)..<valueEnd])), decode: true, .baggage, position)
                }
            } else if lowered == Array("tracestate".utf8) {
                // §3 tracestate: members trimmed, no space around `=`, values verbatim.
                for raw in Self.members(value) {
                    let member = Self.trim(raw)
                    if member.isEmpty { continue }
                    tracestateMembers += 1
                    if tracestateMembers > RoutingKeyExtractor.maxTracestateMembers { break }
                    guard let equals = member.firstIndex(of: 0x3D),
                          let position = keyNames.firstIndex(of: Array(member[..<equals])) else { continue }
                    offer(Array(member[(equals + 1)...]), decode: false, .tracestate, position)
                }
            } else if lowered == Array("jaeger-baggage".utf8) {
                // §5 jaeger-baggage: split on `,`, then on the first `=`, trim both sides.
                for member in Self.members(value) {
                    guard let equals = Self.firstIndex(of: 0x3D, in: member, before: 0x3B),
                          let position = keyNames.firstIndex(of: Self.trim(Array(member[..<equals]))) else { continue }
                    offer(Self.trim(Array(member[(equals + 1)...])), decode: true, .jaegerBaggage, position)
                }
            }
            // §5 prefixed carriers: the key name is the rest of the (case-folded) header name.
            for (prefix, carrier) in [("uberctx-", RoutingKeyCarrier.uberctx), ("ot-baggage-", .otBaggage),
                                      ("baggage-", .braveBaggage)] {
                let prefixBytes = Array(prefix.utf8)
                guard lowered.count > prefixBytes.count, lowered.starts(with: prefixBytes),
                      let position = keyNames.map({ $0.map(Self.lower) }).firstIndex(of: Array(lowered[prefixBytes.count...]))
                else { continue }
                offer(Self.trim(value), decode: true, carrier, position)
            }
        }
        // §8 precedence: carrier order, then key-name (or custom header) position, then arrival.
        offers.sort { ($0.carrier.rawValue, $0.position, $0.arrival) < ($1.carrier.rawValue, $1.position, $1.arrival) }
        var result: [Found] = []
        for offer in offers where !result.contains(where: { $0.key == offer.key }) {
            result.append(Found(key: offer.key, carrier: offer.carrier))
        }
        return Array(result.prefix(RoutingKeyCandidates.capacity))
    }

    /// §7: after decoding, 1-128 bytes of [A-Za-z0-9._-]. `%XX` decoding (RFC 3986 §2.1) only
    /// where the carrier uses it; a broken escape means no key.
    static func decodeKey(_ raw: [UInt8], percent: Bool) -> [UInt8]? {
        var key: [UInt8] = []
        var index = 0
        while index < raw.count {
            var byte = raw[index]
            index += 1
            if percent, byte == 0x25 {
                guard index + 1 < raw.count, let high = hex(raw[index]), let low = hex(raw[index + 1]) else { return nil }
                byte = high * 16 + low
                index += 2
            }
            guard isKeyByte(byte) else { return nil }
            key.append(byte)
        }
        return key.isEmpty || key.count > RoutingKeyAlphabet.maxKeyLength ? nil : key
    }

    static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F: true
        default: false
        }
    }

    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    static func trim(_ bytes: [UInt8]) -> [UInt8] {
        var slice = bytes[...]
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return Array(slice)
    }

    /// The `,`-separated members of one line (RFC 9110 §5.6.1), empty ones included.
    static func members(_ value: [UInt8]) -> [[UInt8]] {
        value.split(separator: 0x2C, omittingEmptySubsequences: false).map(Array.init)
    }

    /// The first `byte` in `member` that comes before any `stop` byte.
    static func firstIndex(of byte: UInt8, in member: [UInt8], before stop: UInt8) -> Int? {
        for (index, candidate) in member.enumerated() {
            if candidate == stop { return nil }
            if candidate == byte { return index }
        }
        return nil
    }
}
