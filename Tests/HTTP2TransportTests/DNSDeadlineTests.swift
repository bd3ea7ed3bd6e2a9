import OTLPSync
import Foundation
@testable import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The connect deadline bounds the DNS lookup. No resolver on this machine can be made slow
/// deterministically (glibc reads its name servers from /etc/resolv.conf only), so these tests
/// inject a slow lookup function into `SocketHandle.connect`; the real `getaddrinfo` answers it.
@Suite("DNS deadline")
struct DNSDeadlineTests {
    final class Releases: Sendable {
        let count = Atomic<Int>(0)
    }

    /// A lookup that sleeps `delay`, then resolves `host` with `getaddrinfo` and counts when
    /// its answer is freed.
    static func slowLookup(delay: Duration, releases: Releases) -> AddressLookup {
        { host, port in
            Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0 else { return .failure(TransportError(.dnsFailure, "getaddrinfo \(rc)")) }
            return .success(ResolvedAddresses(head: list) { list in
                if let list { freeaddrinfo(list) }
                releases.count.add(1, ordering: .sequentiallyConsistent)
            })
        }
    }

    static func deadline(in duration: Duration) -> UInt64 { monotonicNanos() + duration.nanoseconds }

    @Test func aLookupSlowerThanTheDeadlineFailsAtTheDeadlineAsRetryable() async throws {
        let releases = Releases()
        let lookup = Self.slowLookup(delay: .milliseconds(1500), releases: releases)
        // Timed, and the late answer's release checked, on the connecting thread itself: a busy
        // cooperative pool may resume this task late, which is not the deadline under test.
        let outcome = try await offPool { () -> (error: TransportError?, seconds: Double, releasedAtReturn: Int) in
            let start = ContinuousClock.now
            var failure: TransportError?
            do throws(TransportError) {
                _ = try SocketHandle.connect(host: "127.0.0.1", port: 9, deadline: Self.deadline(in: .milliseconds(200)),
                                             lookup: lookup)
            } catch {
                failure = error
            }
            let elapsed = ContinuousClock.now - start
            return (failure, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                    releases.count.load(ordering: .sequentiallyConsistent))
        }
        let error = try #require(outcome.error)
        let seconds = outcome.seconds
        #expect(error.code == .connectTimeout, "\(error)")
        #expect(error.isRetryable)
        #expect(error.message.contains("DNS"), "\(error)")
        #expect(seconds >= 0.15 && seconds < 1.0, "returned after \(seconds) s, not at the 0.2 s deadline")
        // The late answer is discarded and freed once the lookup thread finishes.
        #expect(outcome.releasedAtReturn == 0)
        let deadline = Date().addingTimeInterval(5)
        while releases.count.load(ordering: .sequentiallyConsistent) == 0 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(releases.count.load(ordering: .sequentiallyConsistent) == 1)
    }

    @Test(PythonPeers.trait) func aLookupWithinTheDeadlineIsUsedToConnect() async throws {
        let server = try await offPool { try OTLPReceiverPeer(.http) }
        defer { server.stop() }
        let releases = Releases()
        let lookup = Self.slowLookup(delay: .milliseconds(100), releases: releases)
        let port = server.port
        let connected = try await offPool { () -> Bool in
            let socket = try SocketHandle.connect(host: "127.0.0.1", port: port, deadline: Self.deadline(in: .seconds(3)),
                                                  lookup: lookup)
            defer { socket.close() }
            return socket.fd >= 0
        }
        #expect(connected)
        // Freed exactly once, when the last owner (connect, or the finishing lookup thread) lets go.
        let deadline = Date().addingTimeInterval(2)
        while releases.count.load(ordering: .sequentiallyConsistent) == 0 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(releases.count.load(ordering: .sequentiallyConsistent) == 1, "the answer is freed once after connecting")
    }

    @Test func aLookupErrorIsReportedAsIs() async throws {
        let lookup: AddressLookup = { host, _ in .failure(TransportError(.dnsFailure, "no such host \(host)")) }
        let error = try await offPool { () -> TransportError? in
            do throws(TransportError) {
                _ = try SocketHandle.connect(host: "nowhere.invalid", port: 80, deadline: Self.deadline(in: .seconds(2)),
                                             lookup: lookup)
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.code == .dnsFailure)
        #expect(error?.isRetryable == true)
    }

    @Test(PythonPeers.trait) func theSystemLookupStillResolvesLoopbackAndRejectsInvalidNames() async throws {
        let error = try await offPool { () -> TransportError? in
            do throws(TransportError) {
                _ = try SocketHandle.connect(host: "no-such-host.invalid", port: 80, deadline: Self.deadline(in: .seconds(5)))
                return nil
            } catch {
                return error
            }
        }
        #expect(error?.code == .dnsFailure, "\(String(describing: error))")
        let server = try await offPool { try OTLPReceiverPeer(.http) }
        defer { server.stop() }
        let port = server.port
        let connected = try await offPool { () -> Bool in
            let socket = try SocketHandle.connect(host: "localhost", port: port, deadline: Self.deadline(in: .seconds(3)))
            defer { socket.close() }
            return socket.fd >= 0
        }
        #expect(connected)
    }
}
