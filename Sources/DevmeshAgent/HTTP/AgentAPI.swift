import DevmeshRoutesAPI

/// The agent's HTTP API: routing of method and path to `AgentService`, JSON in and out, status
/// codes and error bodies. No sockets here, so every endpoint is unit-tested directly.
///
/// | path | methods |
/// |---|---|
/// | `/api/v1/workloads/routing-rules` | GET (the Routes API's HTTP twin, routes-api.md §5) |
/// | `/api/v1/sandboxes` | GET (list), POST (create: 201, 409 if the name exists) |
/// | `/api/v1/sandboxes/{name}` | GET, PUT (create 201 or replace 200), DELETE (204) |
/// | `/api/v1/routegroups` | GET, POST |
/// | `/api/v1/routegroups/{name}` | GET, PUT, DELETE |
/// | `/healthz` | GET |
///
/// Errors are `{"error": {"code", "field"?, "message"}}` with the status of `AgentError.Code`.
public final class AgentAPI {
    public let service: AgentService

    public init(service: AgentService) {
        self.service = service
    }

    /// The endpoints, by path shape.
    enum Endpoint {
        case health, routingRules, sandboxes, sandbox(String), routeGroups, routeGroup(String)

        init?(_ segments: [String]) {
            switch segments {
            case ["healthz"]: self = .health
            case ["api", "v1", "workloads", "routing-rules"]: self = .routingRules
            case ["api", "v1", "sandboxes"]: self = .sandboxes
            case ["api", "v1", "routegroups"]: self = .routeGroups
            case let path where path.count == 4 && path.starts(with: ["api", "v1", "sandboxes"]): self = .sandbox(path[3])
            case let path where path.count == 4 && path.starts(with: ["api", "v1", "routegroups"]): self = .routeGroup(path[3])
            default: return nil
            }
        }

        var methods: [String] {
            switch self {
            case .health, .routingRules: ["GET"]
            case .sandboxes, .routeGroups: ["GET", "POST"]
            case .sandbox, .routeGroup: ["GET", "PUT", "DELETE"]
            }
        }
    }

    public func handle(_ request: APIRequest) -> APIResponse {
        guard let target = RequestTarget(request.target) else {
            return .error(.invalid(nil, "the request target is not a valid path (bad percent-encoding?)"))
        }
        guard let endpoint = Endpoint(target.segments) else {
            let path = request.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.target
            return .error(AgentError(.notFound, "no endpoint \(path); the API lives under /api/v1/ "
                                     + "(sandboxes, routegroups, workloads/routing-rules)"))
        }
        let method = request.method == "HEAD" ? "GET" : request.method
        guard endpoint.methods.contains(method) else {
            // RFC 9110 §15.5.6: a 405 lists the allowed methods in Allow.
            let allowed = endpoint.methods + (endpoint.methods.contains("GET") ? ["HEAD"] : [])
            return .error(AgentError(.methodNotAllowed, "\(request.method) is not allowed here; use "
                                     + endpoint.methods.joined(separator: " or ")),
                          headers: [("allow", allowed.joined(separator: ", "))])
        }
        do throws(AgentError) {
            return try dispatch(endpoint, method: method, query: target.query, request: request)
        } catch {
            return .error(error)
        }
    }

    private func dispatch(_ endpoint: Endpoint, method: String, query: [(name: String, value: String)],
                          request: APIRequest) throws(AgentError) -> APIResponse {
        switch endpoint {
        case .health:
            return APIResponse(status: 200, body: ["status": "ok"])
        case .routingRules:
            let filter = WorkloadRoutingRulesRequest(queryItems: query)
            return APIResponse(status: 200, body: GetWorkloadRoutingRulesResponse(
                routingRules: service.routingRules(filter)).json)
        case .sandboxes:
            if method == "GET" {
                return APIResponse(status: 200, body: ["sandboxes": .array(service.sandboxes.map(\.apiJSON))])
            }
            let spec = try decode(SandboxSpec.self, request)
            return APIResponse(status: 201, body: try service.createSandbox(spec).apiJSON,
                               headers: [("location", "/api/v1/sandboxes/\(RequestTarget.percentEncode(spec.name))")])
        case .sandbox(let name):
            return try sandbox(named: name, method: method, request: request)
        case .routeGroups:
            if method == "GET" {
                return APIResponse(status: 200, body: ["routeGroups": .array(service.routeGroups.map(groupJSON))])
            }
            let spec = try decode(RouteGroupSpec.self, request)
            return APIResponse(status: 201, body: groupJSON(try service.createRouteGroup(spec)),
                               headers: [("location", "/api/v1/routegroups/\(RequestTarget.percentEncode(spec.name))")])
        case .routeGroup(let name):
            return try routeGroup(named: name, method: method, request: request)
        }
    }

    // MARK: Resources

    private func sandbox(named name: String, method: String, request: APIRequest) throws(AgentError) -> APIResponse {
        switch method {
        case "GET":
            return APIResponse(status: 200, body: try service.sandbox(named: name).apiJSON)
        case "DELETE":
            try service.deleteSandbox(named: name)
            return APIResponse(status: 204, body: nil)
        default:
            let spec = try decode(SandboxSpec.self, request, defaultName: name)
            guard spec.name == name else {
                throw .invalid("name", "the body names \"\(spec.name)\" but the path names \"\(name)\"; make them agree")
            }
            let (sandbox, created) = try service.putSandbox(spec)
            return APIResponse(status: created ? 201 : 200, body: sandbox.apiJSON)
        }
    }

    private func routeGroup(named name: String, method: String, request: APIRequest) throws(AgentError) -> APIResponse {
        switch method {
        case "GET":
            return APIResponse(status: 200, body: groupJSON(try service.routeGroup(named: name)))
        case "DELETE":
            try service.deleteRouteGroup(named: name)
            return APIResponse(status: 204, body: nil)
        default:
            let spec = try decode(RouteGroupSpec.self, request, defaultName: name)
            guard spec.name == name else {
                throw .invalid("name", "the body names \"\(spec.name)\" but the path names \"\(name)\"; make them agree")
            }
            let (group, created) = try service.putRouteGroup(spec)
            return APIResponse(status: created ? 201 : 200, body: groupJSON(group))
        }
    }

    /// A route group with what it resolves to now: the sandboxes it matches, and per forked
    /// workload the sandbox that gets its traffic and the ones shadowed by it.
    func groupJSON(_ group: RouteGroup) -> JSONValue {
        let resolution = service.resolution(of: group)
        var object = group.storedJSON.objectValue!
        object.set("created", .string(Timestamp.rfc3339(group.createdAt)))
        object.set("routingHeader", .string(group.routingHeader))
        object.set("matchedSandboxes", .array(resolution.matchedSandboxes.map(JSONValue.string)))
        object.set("routes", .array(resolution.workloads.map { entry in
            ["workload": entry.workload.json, "sandbox": .string(entry.routedTo),
             "shadowed": .array(entry.shadowed.map(JSONValue.string))]
        }))
        return .object(object)
    }

    // MARK: Helpers

    /// Reads a JSON body as `Spec`; the path's name fills in a body that gives none (PUT).
    private func decode<Spec: JSONMappable>(_ type: Spec.Type, _ request: APIRequest, defaultName: String? = nil)
        throws(AgentError) -> Spec {
        if let contentType = request.contentType {
            let mediaType = contentType.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } ?? ""
            guard mediaType == "application/json" else {
                throw AgentError(.unsupportedMediaType, "send the body as JSON with Content-Type: application/json "
                                 + "(got \(contentType))")
            }
        }
        guard !request.body.isEmpty else {
            throw .invalid(nil, "send a JSON object in the body (see docs/agent.md for its fields)")
        }
        var value: JSONValue
        do {
            value = try JSONParser.parse(request.body)
        } catch {
            throw .invalid(nil, error.description)
        }
        if let defaultName, case .object(var object) = value, object["name"] == nil {
            object.set("name", .string(defaultName))
            value = .object(object)
        }
        do {
            return try Spec(json: value)
        } catch {
            throw .invalid(error.path.isEmpty ? nil : error.path, error.message)
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
