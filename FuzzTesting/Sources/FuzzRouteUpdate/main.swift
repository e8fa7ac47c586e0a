// FuzzRouteUpdate: the route update decoder, i.e. the hand-written protobuf codec of
// DevmeshRoutesAPI that the proxy's route watch and the agent's gRPC server run on bytes from
// the network, and the gRPC length-prefixed framing around it.
//
// The first byte picks what the rest is:
//   0: a watch stream message (`WorkloadRoutingRuleOp`, WatchWorkloadRoutingRules)
//   1: a `GetWorkloadRoutingRulesResponse`
//   2: a `WorkloadRoutingRule` alone
//   3: a `WorkloadRoutingRulesRequest` (what the agent decodes from a proxy)
//   4: a `GetClusterServicesResponse`
//   5 and above: a gRPC DATA stream, cut into chunks at sizes taken from the first byte, whose
//      messages are decoded as watch messages.
// Checks:
// - `init(serializedBytes:)` returns a message or a typed `ProtobufDecodingError`, never traps;
// - an accepted message re-encodes to `encodedSize` bytes that decode to an equal message, and
//   encoding that message again gives the same bytes (the encoding is a fixed point);
// - the deframer yields the same messages (and the same error) however the stream is chunked,
//   never returns a message above its limit, and framing a message back yields it again.
import DevmeshRoutesAPI
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        guard let selector = input.first else { return }
        let body = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        switch selector {
        case 0: checkDecode(WorkloadRoutingRuleOp.self, body)
        case 1: checkDecode(GetWorkloadRoutingRulesResponse.self, body)
        case 2: checkDecode(WorkloadRoutingRule.self, body)
        case 3: checkDecode(WorkloadRoutingRulesRequest.self, body)
        case 4: checkDecode(GetClusterServicesResponse.self, body)
        default: checkDeframing(body, chunkSize: Int(selector % 16) + 1)
        }
    }
}

/// Decodes `bytes` as `Message`; when accepted, checks the re-encoding round trip.
@discardableResult
func checkDecode<Message: ProtobufMessage>(_ type: Message.Type, _ bytes: UnsafeRawBufferPointer) -> Message? {
    let message: Message
    do throws(ProtobufDecodingError) {
        message = try Message(serializedBytes: bytes)
    } catch {
        return nil
    }
    let encoded = message.serializedBytes()
    fuzzCheck(encoded.count == message.encodedSize,
              "\(Message.self): encodedSize \(message.encodedSize), wrote \(encoded.count) bytes")
    let again: Message
    do throws(ProtobufDecodingError) {
        again = try Message(serializedBytes: encoded)
    } catch {
        fuzzCheck(false, "\(Message.self): its own encoding does not decode: \(error)")
        return nil
    }
    fuzzCheck(again == message, "\(Message.self): re-decoded message differs")
    fuzzCheck(again.serializedBytes() == encoded, "\(Message.self): re-encoding is not stable")
    return message
}

/// What a deframer made of a stream: its messages in order, then the error or end state.
struct DeframedStream: Equatable {
    var messages: [[UInt8]] = []
    var error: GRPCFramingError?
    var leftover = 0
}

/// Small limit so the "too large" path is reachable with small inputs.
let maxMessageBytes = 512

func deframe(_ bytes: UnsafeRawBufferPointer, chunkSize: Int, limit: Int = maxMessageBytes) -> DeframedStream {
    var deframer = GRPCMessageDeframer(maxMessageBytes: limit)
    var stream = DeframedStream()
    var offset = 0
    repeat {
        let end = min(offset + chunkSize, bytes.count)
        deframer.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
        offset = end
        do throws(GRPCFramingError) {
            while let message = try deframer.nextMessage() {
                fuzzCheck(message.count <= limit, "deframer returned \(message.count) bytes")
                stream.messages.append(message)
            }
        } catch {
            stream.error = error
            return stream
        }
    } while offset < bytes.count
    stream.leftover = deframer.bufferedBytes
    do throws(GRPCFramingError) {
        try deframer.finish()
        fuzzCheck(stream.leftover == 0, "finish accepted \(stream.leftover) buffered bytes")
    } catch {
        fuzzCheck(stream.leftover > 0 && error == .truncated(bufferedBytes: stream.leftover),
                  "finish threw \(error) with \(stream.leftover) bytes buffered")
    }
    return stream
}

func checkDeframing(_ bytes: UnsafeRawBufferPointer, chunkSize: Int) {
    let whole = deframe(bytes, chunkSize: max(bytes.count, 1))
    let chunked = deframe(bytes, chunkSize: chunkSize)
    fuzzCheck(whole == chunked, "chunks of \(chunkSize) bytes deframe differently from the whole stream")
    for message in whole.messages {
        let decoded = message.withUnsafeBytes { checkDecode(WorkloadRoutingRuleOp.self, $0) }
        guard let decoded else { continue }
        // The sender's path: frame the message, then a receiver deframes exactly its encoding.
        // The canonical encoding may be a few bytes longer than the input (an enum sent as a
        // 5-byte varint is written back as a 10-byte negative int32), hence the default limit.
        let framed = GRPCMessageFraming.frame(decoded)
        let back = framed.withUnsafeBytes {
            deframe($0, chunkSize: chunkSize, limit: GRPCMessageFraming.defaultMaxMessageBytes)
        }
        fuzzCheck(back.error == nil && back.leftover == 0 && back.messages == [decoded.serializedBytes()],
                  "a framed message does not deframe to its encoding")
    }
}
