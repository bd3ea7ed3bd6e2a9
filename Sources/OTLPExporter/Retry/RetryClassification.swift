// Which export failures are retried, and how long the server asks us to wait.
//
// OTLP specification (specification/protocol/otlp.md): "OTLP/gRPC Response" → "Failures" lists
// the retryable gRPC codes; RESOURCE_EXHAUSTED is retryable only when the server sent RetryInfo;
// "OTLP/HTTP Throttling"/"Failures": 429, 502, 503, 504 are retryable, honouring Retry-After.
public import HTTPTransportCore

/// What one export attempt came to.
public enum OTLPAttemptOutcome: Sendable, Hashable {
    /// The server accepted the request; `partialSuccess` lists what it rejected (never retried).
    case success(partialSuccess: OTLPPartialSuccess?)
    /// Sending again may succeed; wait at least `minimumDelay` (RetryInfo / Retry-After) if given.
    case retryable(reason: String, minimumDelay: Duration?)
    /// Sending again will not help (bad request, unauthenticated, ...).
    case permanent(reason: String)
}

/// The OTLP spec's retry rules.
public enum OTLPRetryRules {
    /// The gRPC codes the OTLP spec calls retryable (without conditions).
    public static let retryableGRPCCodes: Set<GRPCStatusCode> = [
        .cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss,
    ]

    /// The HTTP statuses the OTLP spec calls retryable.
    public static let retryableHTTPStatuses: Set<Int> = [429, 502, 503, 504]

    /// Classifies a gRPC call's result.
    public static func classify(_ result: Result<GRPCResponse, TransportError>) -> OTLPAttemptOutcome {
        switch result {
        case .failure(let error):
            return classify(transportError: error)
        case .success(let response):
            let delay = response.statusDetails.flatMap { RetryInfoDecoder.retryDelay(statusDetails: $0) }
            let reason = response.message.isEmpty ? "gRPC status \(response.code)" : "gRPC status \(response.code): \(response.message)"
            switch response.code {
            case .ok:
                return .success(partialSuccess: OTLPPartialSuccess.decode(exportResponse: response.payload))
            case _ where retryableGRPCCodes.contains(response.code):
                return .retryable(reason: reason, minimumDelay: delay)
            case .resourceExhausted:
                if let delay { return .retryable(reason: reason, minimumDelay: delay) }
                return .permanent(reason: reason + " (no RetryInfo: not retried)")
            default:
                return .permanent(reason: reason)
            }
        }
    }

    /// The shortest wait before retrying a request whose stream the server reset with HTTP/2
    /// ENHANCE_YOUR_CALM (gRPC maps it to RESOURCE_EXHAUSTED: the server asks for less load and
    /// sent no RetryInfo): the default policy's initial backoff, so a policy with shorter backoffs
    /// does not press a server that asked us to calm down.
    public static let enhanceYourCalmMinimumDelay: Duration = .seconds(5)

    /// Connection failures (refused, lost, GOAWAY, timed out, retryable stream resets) are
    /// retried; configuration and certificate problems and stream resets gRPC maps to INTERNAL
    /// are not (the transport's `isRetryable`). A reset with ENHANCE_YOUR_CALM waits at least
    /// ``enhanceYourCalmMinimumDelay``.
    public static func classify(transportError error: TransportError) -> OTLPAttemptOutcome {
        guard error.isRetryable else { return .permanent(reason: "\(error)") }
        let calm = error.code == .streamReset && error.http2ErrorCode == 0xB
        return .retryable(reason: "\(error)", minimumDelay: calm ? enhanceYourCalmMinimumDelay : nil)
    }

    /// Classifies a non-2xx HTTP status. `retryAfter` is the raw `Retry-After` header value;
    /// `now` the wall clock in seconds since 1970 (for HTTP dates).
    public static func classify(httpStatus status: Int, retryAfter: String?, now: Double, body: String) -> OTLPAttemptOutcome {
        let reason = body.isEmpty ? "HTTP status \(status)" : "HTTP status \(status): \(body.prefix(200))"
        if retryableHTTPStatuses.contains(status) {
            let delay = retryAfter.flatMap { RetryAfter.delay(parsing: $0, now: now) }
            return .retryable(reason: reason, minimumDelay: delay)
        }
        return .permanent(reason: reason)
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
public enum RetryAfter {
    /// The delay the header asks for, or `nil` when it cannot be parsed. A date in the past
    /// gives zero. Values are capped at one day so a hostile header cannot stall us forever.
    public static func delay(parsing value: String, now: Double) -> Duration? {
        let text = value.trimmingSpaces()
        let cap = 86_400.0
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard text.utf8.count <= 12, let seconds = Double(text) else { return .seconds(Int64(cap)) }
            return .seconds(min(seconds, cap))
        }
        guard let date = httpDate(parsing: text) else { return nil }
        return .seconds(min(max(0, date - now), cap))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses the three HTTP-date forms (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850
    /// `Sunday, 06-Nov-94 08:49:37 GMT`, asctime `Sun Nov  6 08:49:37 1994`) into seconds since 1970.
    public static func httpDate(parsing text: String) -> Double? {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" || $0 == "\t" })
        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        for (position, token) in tokens.enumerated() {
            let lower = token.lowercased()
            if token.contains(":") {
                let parts = token.split(separator: ":")
                guard parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]), let s = Int(parts[2]),
                      (0...23).contains(h), (0...59).contains(m), (0...60).contains(s) else { return nil }
                time = (h, m, s)
            } else if let index = months.firstIndex(of: lower) {
                month = index + 1
            } else if let number = Int(token), token.allSatisfy(\.isNumber) {
                if token.count == 4 { year = number }
                else if day == nil && token.count <= 2 { day = number }
                else if token.count == 2 { year = number < 70 ? 2000 + number : 1900 + number }
                else { return nil }
            } else if lower == "gmt" || lower == "utc" || position == 0 {
                continue  // weekday name or zone
            } else {
                return nil
            }
        }
        guard let day, let month, let year, let time, (1...31).contains(day), year >= 1970 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Double(days * 86_400 + time.0 * 3_600 + time.1 * 60 + time.2)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
