/// A request the agent will not carry out, with the HTTP status it maps to and a message that
/// says what to fix. `field` is the JSON path of the offending value when there is one
/// (`forks[0].ports[1].destinations[0].host`).
public struct AgentError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// 400: the request is malformed or a value is not valid.
        case invalid
        /// 404: no such sandbox, route group or endpoint.
        case notFound = "not_found"
        /// 405: the path exists, the method does not.
        case methodNotAllowed = "method_not_allowed"
        /// 409: the name or routing key is taken.
        case conflict
        /// 411: a body without Content-Length.
        case lengthRequired = "length_required"
        /// 413: the body is larger than the agent accepts.
        case tooLarge = "too_large"
        /// 415: a body that is not JSON.
        case unsupportedMediaType = "unsupported_media_type"
        /// 503: the store could not make the change durable; nothing was changed.
        case unavailable
    }

    public var code: Code
    public var field: String?
    public var message: String

    public init(_ code: Code, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public static func invalid(_ field: String?, _ message: String) -> AgentError {
        AgentError(.invalid, field: field, message)
    }

    public var status: Int {
        switch code {
        case .invalid: 400
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .lengthRequired: 411
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .unavailable: 503
        }
    }

    public var description: String {
        if let field { return "\(field): \(message)" }
        return message
    }
}
