@testable import HTTP2Transport
import HTTPTransportCore
import Testing

/// The stream-admission state machine, without sockets.
@Suite("connection state machine")
struct ConnectionStateMachineTests {
    typealias Action = ConnectionStateMachine.Action

    @Test func requestsQueueUntilConnectedThenStart() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 10)
        #expect(machine.enqueue(1, deadline: 100).isEmpty)
        #expect(machine.enqueue(2, deadline: 100).isEmpty)
        #expect(machine.connected() == [.start(1), .start(2)])
        #expect(machine.enqueue(3, deadline: 100) == [.start(3)])
    }

    /// The connection's per-request path appends to its own action list: the appending forms must
    /// keep what is already there and add exactly what the returning forms return.
    @Test func appendingFormsKeepEarlierActionsAndAddTheSameOnesAsReturningForms() {
        var returning = ConnectionStateMachine(maxConcurrentStreams: 1)
        var appending = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = returning.connected()
        _ = appending.connected()
        var actions: [Action] = [.fail(99, TransportError(.shutdown, "earlier"))]
        let expectedFirst = returning.enqueue(1, deadline: .max)
        appending.enqueue(1, deadline: .max, into: &actions)
        #expect(expectedFirst == [.start(1)])
        #expect(actions == [.fail(99, TransportError(.shutdown, "earlier"))] + expectedFirst)
        returning.streamOpened(1, streamID: 1)
        appending.streamOpened(1, streamID: 1)
        // Over the limit: queued, nothing added.
        #expect(returning.enqueue(2, deadline: .max).isEmpty)
        appending.enqueue(2, deadline: .max, into: &actions)
        #expect(actions.count == 2)
        // Closing the stream admits the queued request in both.
        let expectedAfterClose = returning.streamClosed(1)
        appending.streamClosed(1, into: &actions)
        #expect(expectedAfterClose == [.start(2)])
        #expect(Array(actions.dropFirst(2)) == expectedAfterClose)
        // An unknown stream adds nothing.
        appending.streamClosed(42, into: &actions)
        #expect(actions.count == 3)
        // After shutdown the appending form fails a new request the same way.
        _ = returning.shutdownGracefully()
        _ = appending.shutdownGracefully()
        let expectedRefusal = returning.enqueue(3, deadline: .max)
        appending.enqueue(3, deadline: .max, into: &actions)
        #expect(Array(actions.dropFirst(3)) == expectedRefusal)
        #expect(expectedRefusal.count == 1)
    }

    @Test func peerMaxConcurrentStreamsLimitsOpenStreamsAndQueuesTheRest() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 100)
        _ = machine.connected()
        #expect(machine.peerSettings(maxConcurrentStreams: 1).isEmpty)
        #expect(machine.enqueue(1, deadline: .max) == [.start(1)])
        machine.streamOpened(1, streamID: 1)
        #expect(machine.enqueue(2, deadline: .max).isEmpty)
        #expect(machine.enqueue(3, deadline: .max).isEmpty)
        #expect(machine.queuedCount == 2)
        #expect(machine.streamClosed(1) == [.start(2)])
        machine.streamOpened(2, streamID: 3)
        #expect(machine.streamClosed(3) == [.start(3)])
        // Raising the limit admits waiting requests at once.
        machine.streamOpened(3, streamID: 5)
        _ = machine.enqueue(4, deadline: .max)
        _ = machine.enqueue(5, deadline: .max)
        #expect(machine.peerSettings(maxConcurrentStreams: 3) == [.start(4), .start(5)])
    }

    @Test func ourOwnLimitAppliesWhenThePeerAllowsMore() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 2)
        _ = machine.connected()
        _ = machine.peerSettings(maxConcurrentStreams: 1000)
        #expect(machine.enqueue(1, deadline: .max) == [.start(1)])
        #expect(machine.enqueue(2, deadline: .max) == [.start(2)])
        #expect(machine.enqueue(3, deadline: .max).isEmpty)
    }

    @Test func goAwayFailsQueuedRequestsAsRetryableAndRefusesNewOnes() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: .max)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: .max)
        let actions = machine.goAway(lastStreamID: 1)
        guard case .fail(2, let error) = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.isRetryable)
        #expect(!machine.acceptsRequests)
        guard case .fail(3, _) = machine.enqueue(3, deadline: .max).first else { Issue.record("accepted after GOAWAY"); return }
        #expect(!machine.isFinished)  // stream 1 still running
        #expect(machine.streamClosed(1).isEmpty)
        #expect(machine.isFinished)
    }

    @Test func connectionLossFailsEverythingRetryably() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: .max)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: .max)
        let actions = machine.connectionFailed(TransportError(.connectionClosed, "lost"))
        #expect(actions.count == 2)
        #expect(actions.allSatisfy { if case .fail(_, let error) = $0 { error.isRetryable } else { false } })
        #expect(machine.isFinished)
    }

    /// Opens `count` streams (ids 1, 3, 5 ...) for requests 1...count with deadline 10.
    func machineWithOpenStreams(_ count: Int, budget: ConnectionStateMachine.ResetBudget) -> ConnectionStateMachine {
        var machine = ConnectionStateMachine(maxConcurrentStreams: count, resetBudget: budget)
        _ = machine.connected()
        for id in 1...RequestID(count) {
            _ = machine.enqueue(id, deadline: 10)
            machine.streamOpened(id, streamID: Int32(2 * id - 1))
        }
        return machine
    }

    @Test func streamsPastTheirDeadlineAreResetNoFasterThanTheBudgetAllows() {
        let second: UInt64 = 1_000_000_000
        let start: UInt64 = 20
        var machine = machineWithOpenStreams(5, budget: .init(burst: 2, perSecond: 4))
        let first = machine.expire(now: start)
        // Two resets in the burst; the other three requests end now, their streams stay open.
        #expect(first == [.cancelStream(1, 1), .cancelStream(3, 2), .abandonStream(3), .abandonStream(4), .abandonStream(5)])
        #expect(machine.unresetCount == 3)
        #expect(machine.activeCount == 5)
        // The next token is earned a quarter second later.
        #expect(machine.nextDeadline == start + second / 4)
        #expect(machine.expire(now: start + second / 4 - 1).isEmpty)
        #expect(machine.expire(now: start + second / 4) == [.resetStream(5)])
        // Stream 7 finished on its own: it is not reset.
        _ = machine.streamClosed(7)
        #expect(machine.expire(now: start + second) == [.resetStream(9)])
        #expect(machine.unresetCount == 0)
        #expect(machine.nextDeadline == nil)
    }

    @Test func streamsAbandonedAtTheirDeadlineDoNotHoldAClosingConnectionOpen() {
        var machine = machineWithOpenStreams(3, budget: .init(burst: 1, perSecond: 1))
        _ = machine.expire(now: 20)  // one reset, two abandoned
        #expect(machine.unresetCount == 2)
        #expect(!machine.isFinished)
        _ = machine.shutdownGracefully()
        #expect(machine.isFinished)
    }

    @Test func aClosingConnectionWaitsForStreamsWhoseRequestsAreStillWaiting() {
        var machine = machineWithOpenStreams(2, budget: .default)
        _ = machine.shutdownGracefully()
        #expect(!machine.isFinished)
        _ = machine.expire(now: 20)  // both past their deadline: reset
        #expect(machine.isFinished)
    }

    @Test func theResetBudgetRefillsOnlyUpToItsBurst() {
        var machine = machineWithOpenStreams(4, budget: .init(burst: 2, perSecond: 10))
        _ = machine.expire(now: 0)
        // An hour idle earns no more than the burst.
        let actions = machine.expire(now: 3_600_000_000_000)
        #expect(actions == [.cancelStream(1, 1), .cancelStream(3, 2), .abandonStream(3), .abandonStream(4)])
    }

    @Test func deadlinesFailQueuedRequestsAndCancelOpenStreamsOnce() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: 50)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: 40)
        _ = machine.enqueue(3, deadline: 500)
        #expect(machine.nextDeadline == 40)
        #expect(machine.expire(now: 10).isEmpty)
        let actions = machine.expire(now: 60)
        #expect(actions.count == 2)
        #expect(actions.contains(.cancelStream(1, 1)))
        #expect(actions.contains { if case .fail(2, let error) = $0 { error.code == .deadlineExceeded } else { false } })
        #expect(machine.expire(now: 70).isEmpty)  // not cancelled twice
        #expect(machine.nextDeadline == 500)
        // The cancelled stream frees its slot only when it closes.
        #expect(machine.streamClosed(1) == [.start(3)])
    }

    @Test func gracefulShutdownLetsQueuedRequestsFinish() {
        var machine = ConnectionStateMachine(maxConcurrentStreams: 1)
        _ = machine.connected()
        _ = machine.enqueue(1, deadline: .max)
        machine.streamOpened(1, streamID: 1)
        _ = machine.enqueue(2, deadline: .max)
        #expect(machine.shutdownGracefully().isEmpty)
        #expect(!machine.acceptsRequests)
        #expect(machine.streamClosed(1) == [.start(2)])
        machine.streamOpened(2, streamID: 3)
        #expect(!machine.isFinished)
        _ = machine.streamClosed(3)
        #expect(machine.isFinished)
    }
}
