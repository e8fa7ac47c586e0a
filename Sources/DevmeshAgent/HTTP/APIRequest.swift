import DevmeshRoutesAPI

/// One HTTP request as the API sees it (the connection has already framed it).
public struct APIRequest: Sendable {
    public var method: String
    public var target: String
    /// The Content-Type field value, if any.
    public var contentType: String?
    public var body: [UInt8]

    public init(method: String, target: String, contentType: String? = nil, body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.contentType = contentType
        self.body = body
    }
}

/// One HTTP response: a status, a JSON body (nil for 204) and extra header fields.
public struct APIResponse: Equatable, Sendable {
    public var status: Int
    public var body: JSONValue?
    public var headers: [(name: String, value: String)]

    public init(status: Int, body: JSONValue?, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public static func error(_ error: AgentError, headers: [(name: String, value: String)] = []) -> APIResponse {
        var detail = JSONObject()
        detail.set("code", .string(error.code.rawValue))
        if let field = error.field { detail.set("field", .string(field)) }
        detail.set("message", .string(error.message))
        return APIResponse(status: error.status, body: ["error": .object(detail)], headers: headers)
    }

    public static func == (lhs: APIResponse, rhs: APIResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    /// RFC 9110 §15 reason phrases for the statuses the agent sends.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
