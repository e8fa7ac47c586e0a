// FuzzConfigLoader: ConfigLoader.parse(yaml:source:) on arbitrary text.
//
// The input bytes are decoded as UTF-8 (invalid sequences become U+FFFD, as the loader's file
// reader would refuse them before parsing anyway) and parsed. Checks:
// - the loader returns a configuration or a `ConfigError`, never traps;
// - an error has 1...maxReportedIssues issues, each naming the source, and a description of one
//   line per issue (plus the "more problems" line);
// - an accepted configuration is one the proxy can run: its routing compiles into a RouteTable
//   (the loader's checks are at least as strict as the table builder's), and its limits and
//   listeners are usable.
import DevmeshConfig
import DevmeshRouting
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    withFuzzInput(data, size) { input in
        let text = String(decoding: input, as: UTF8.self)
        let configuration: ProxyConfiguration
        do throws(ConfigError) {
            configuration = try ConfigLoader.parse(yaml: text, source: "fuzz.yaml")
        } catch {
            fuzzCheck(!error.issues.isEmpty && error.issues.count <= ConfigError.maxReportedIssues,
                      "\(error.issues.count) issues reported")
            fuzzCheck(error.issues.allSatisfy { $0.source == "fuzz.yaml" && !$0.problem.isEmpty },
                      "an issue without its source or problem")
            let lines = error.description.split(separator: "\n", omittingEmptySubsequences: false)
            fuzzCheck(lines.count == error.issues.count + (error.omittedCount > 0 ? 1 : 0),
                      "description has \(lines.count) lines for \(error.issues.count) issues")
            return
        }
        fuzzCheck(!configuration.listeners.isEmpty, "accepted a configuration without listeners")
        fuzzCheck(configuration.workers.map { $0 > 0 } ?? true, "accepted \(String(describing: configuration.workers)) workers")
        let http1 = configuration.http1
        fuzzCheck(http1.maxHeadBytes > 0 && http1.maxHeaderCount > 0 && http1.maxChunkLineBytes > 0
                  && http1.maxTrailerBytes > 0, "accepted a zero HTTP/1 limit: \(http1)")
        do throws(RouteTableError) {
            _ = try RouteTable.build(configuration.routing, version: 1)
        } catch {
            fuzzCheck(false, "the loader accepted routing that RouteTable.build refuses: \(error)")
        }
    }
}
