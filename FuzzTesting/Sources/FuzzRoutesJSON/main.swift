// FuzzRoutesJSON: the strict JSON parser of DevmeshRoutesAPI, which reads request bodies of the
// agent's HTTP API and the Routes API's HTTP twin (bytes from any client).
//
// Checks:
// - `JSONParser.parse` returns a value or a typed `JSONParseError` whose offset lies inside the
//   input (or at its end), never traps;
// - a parsed value written by the project's writer, compact and pretty, parses back equal, and
//   writing that value again gives the same text (the writer's output is a fixed point);
// - when the value maps to a `WorkloadRoutingRule` (the body of a rule upsert), the rule's own
//   JSON maps back to an equal rule.
import DevmeshRoutesAPI
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        let bytes = Array(input)
        let value: JSONValue
        do throws(JSONParseError) {
            value = try JSONParser.parse(bytes)
        } catch {
            fuzzCheck(error.offset >= 0 && error.offset <= bytes.count,
                      "error offset \(error.offset) outside \(bytes.count) input bytes")
            fuzzCheck(!error.reason.isEmpty, "an error without a reason")
            return
        }
        for pretty in [false, true] {
            let text = value.serialized(pretty: pretty)
            let again: JSONValue
            do throws(JSONParseError) {
                again = try JSONParser.parse(text)
            } catch {
                fuzzCheck(false, "writer output (pretty: \(pretty)) does not parse: \(error)")
                return
            }
            fuzzCheck(again == value, "writer output (pretty: \(pretty)) parses to a different value")
            fuzzCheck(again.serialized(pretty: pretty) == text, "writer output (pretty: \(pretty)) is not stable")
        }
        let rule: WorkloadRoutingRule
        do throws(JSONMappingError) {
            rule = try WorkloadRoutingRule(json: value, path: "rule")
        } catch {
            return
        }
        do {
            let back = try WorkloadRoutingRule(json: try JSONParser.parse(rule.json.serialized()), path: "rule")
            // JSON writes every sub-message, so presence of an empty one is not kept.
            fuzzCheck(back.routingKey == rule.routingKey && back.mappings == rule.mappings
                      && (back.baseline ?? BaselineWorkload()) == (rule.baseline ?? BaselineWorkload())
                      && (back.destinationSandbox ?? DestinationSandbox()) == (rule.destinationSandbox ?? DestinationSandbox()),
                      "a rule's JSON maps back to a different rule")
        } catch {
            fuzzCheck(false, "a rule's own JSON does not map back: \(error)")
        }
    }
}
