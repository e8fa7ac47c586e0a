import DevmeshBytes
import DevmeshHTTP1
import FuzzSupport

/// A complete `RequestHead` and its storage as plain offsets, comparable across feeds.
struct RequestSummary: Equatable {
    var method: HTTPMethod
    var methodBytes: Range<Int>
    var target: Range<Int>
    var versionMinor: UInt8
    var startLineOffset: Int
    var headLength: Int
    var headerCount: Int
    var framing: RequestBodyFraming
    var keepAlive: Bool
    var expectContinue: Bool
    var upgrade: Bool
    var hostIndex: Int
    var hopByHopCount: Int
    var fields: [FieldSummary]

    init(_ head: RequestHead, storage: HeaderStorage, buffer: UnsafeRawBufferPointer) {
        method = head.method
        methodBytes = buffer.offsets(of: head.methodBytes, what: "method")
        target = buffer.offsets(of: head.target, what: "target")
        versionMinor = head.versionMinor
        startLineOffset = head.startLineOffset
        headLength = head.headLength
        headerCount = head.headerCount
        framing = head.framing
        keepAlive = head.keepAlive
        expectContinue = head.expectContinue
        upgrade = head.upgrade
        hostIndex = head.hostIndex
        hopByHopCount = head.hopByHopCount
        fields = zip(storage.fields, storage.lines).map { field, line in
            let name = buffer.offsets(of: field.name, what: "field name")
            let value = buffer.offsets(of: field.value, what: "field value")
            return FieldSummary(nameStart: name.lowerBound, nameEnd: name.upperBound,
                                valueStart: value.lowerBound, valueEnd: value.upperBound,
                                lineStart: Int(line.lineStart), lineLength: Int(line.lineLength),
                                kind: line.kind.rawValue, hopByHop: line.hopByHop)
        }
    }
}
