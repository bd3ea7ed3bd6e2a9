// The server connection's time rules, without sockets.
import Testing
@testable import HTTP2Transport

@Suite struct ServerConnectionTimeoutsTests {
    let rules = ServerConnectionTimeouts(requestReadTimeout: .seconds(30), idleTimeout: .seconds(60))
    let second: UInt64 = 1_000_000_000

    func state(lastActivity: UInt64 = 0) -> ServerConnectionTimeouts.State {
        ServerConnectionTimeouts.State(lastActivity: lastActivity, lastWriteProgress: lastActivity)
    }

    @Test func anIdleConnectionExpiresAtTheIdleTimeoutAfterItsLastByte() {
        let idle = state(lastActivity: 10 * second)
        #expect(rules.nextDeadline(idle) == 70 * second)
        #expect(rules.expiry(idle, now: 69 * second) == .none)
        #expect(rules.expiry(idle, now: 70 * second) == .idle)
    }

    @Test func aSlowRequestExpiresAtTheReadTimeoutWhateverItsLaterBytes() {
        var slow = state(lastActivity: 100 * second)  // a byte just arrived
        slow.requestStartedAt = 80 * second
        #expect(rules.nextDeadline(slow) == 110 * second)
        #expect(rules.expiry(slow, now: 109 * second) == .none)
        #expect(rules.expiry(slow, now: 110 * second) == .slowRequest)
        var stream = state(lastActivity: 100 * second)
        stream.oldestIncompleteStreamStart = 75 * second
        stream.hasOpenRequests = true
        #expect(rules.expiry(stream, now: 105 * second) == .slowRequest)
    }

    @Test func aConnectionWaitingForADelayedAnswerIsNeitherIdleNorSlow() {
        var waiting = state(lastActivity: 0)
        waiting.hasOpenRequests = true
        waiting.nextDelayedAnswer = 500 * second
        // Its last byte is long past, yet no deadline in the past keeps waking the loop.
        #expect(rules.nextDeadline(waiting) == 500 * second)
        #expect(rules.expiry(waiting, now: 400 * second) == .none)
    }

    @Test func unreadOutputExpiresAtTheIdleTimeoutAfterTheLastWrite() {
        var stuck = state(lastActivity: 0)
        stuck.hasOpenRequests = true
        stuck.hasPendingOutput = true
        stuck.lastWriteProgress = 20 * second
        #expect(rules.nextDeadline(stuck) == 80 * second)
        #expect(rules.expiry(stuck, now: 80 * second) == .idle)
    }

    @Test func aLingeringCloseEndsAtItsOwnDeadlineOnly() {
        var lingering = state(lastActivity: 0)
        lingering.requestStartedAt = 0
        lingering.lingerUntil = 2 * second
        #expect(rules.nextDeadline(lingering) == 2 * second)
        #expect(rules.expiry(lingering, now: 1 * second) == .none)
        #expect(rules.expiry(lingering, now: 2 * second) == .lingerOver)
    }
}
