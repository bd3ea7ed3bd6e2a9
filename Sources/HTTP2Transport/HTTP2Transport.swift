// HTTP2Transport: our HTTP/2 + TLS client on libnghttp2, OpenSSL 3 and zlib, speaking gRPC,
// and the server side (`HTTPServer`). It implements `HTTPTransportCore`'s `HTTPTransport`; the
// requests, responses, errors, configuration values and gRPC unary calls it works with are
// defined there, in Swift only.
//
// Layers (bottom up):
// - CErrors.swift        the one place per C library where errors become `TransportError`s
// - Socket.swift         DNS (getaddrinfo, IPv4/IPv6, on a detached thread within the connect deadline),
//                        non-blocking connect with a deadline, buffers
// - IOThread.swift       `startThread` (I/O and DNS threads) and `WakePipe`, which wakes a polling I/O thread
// - TLS.swift            `TLSContext` (SSL_CTX: TLS 1.2+, ALPN list, h2 required or not, verification) and `TLSConnection` (SSL on the socket)
// - NGHTTP2Session.swift  `NGHTTP2Session` (owns nghttp2_session, client or server: hardening options,
//                        first SETTINGS); NGHTTP2Callbacks.swift: the client's C callbacks
// - ConnectionStateMachine.swift  stream admission, GOAWAY, deadlines, shutdown — no sockets, unit-tested
// - HTTP2Connection.swift one connection, its own I/O thread (poll on socket + wake-up pipe)
// - HTTP2Client.swift    reconnecting `HTTP2Client`
// - HTTP1Client.swift    `HTTP1Client` (keep-alive HTTP/1.1, cleartext or TLS) and `NegotiatingHTTPClient`
//                        (https: ALPN h2 → HTTP2Client, http/1.1 or none → HTTP1Client)
// - Gzip.swift           gzip on zlib (`Gzip`, and `ZlibGzip`, the core's `GzipCodec`)
// - GRPCClient+HTTP2.swift  `GRPCClient`'s initializers with zlib gzip and on an `HTTP2Client`
//
// Threading: callers submit from any thread into a lock-protected queue and wake the I/O thread
// only when it sleeps; the I/O thread drains the queue, runs nghttp2, writes all frames of one
// loop turn with one send, and calls completions (keep them short). `async` wrappers resume a
// continuation from the completion.
