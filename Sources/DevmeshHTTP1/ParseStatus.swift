/// The outcome of one attempt to parse a head from the bytes buffered so far
/// (picohttpparser's contract: complete, partial, or error).
public enum ParseStatus<Head> {
    /// A whole head was parsed; its `headLength` says how many bytes it used.
    case complete(Head)
    /// The head is not complete yet: call again with the same bytes plus more, and the same hint.
    case incomplete
    /// The bytes can never become a valid head; the connection must answer (or fail) and close.
    case invalid(HTTP1Error)
}

extension ParseStatus: Sendable where Head: Sendable {}
