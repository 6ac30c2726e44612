@testable import AgentOSServer
import Foundation
import Testing

@Suite struct WarningLimiterTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func eachPeerLogsABurstPerIntervalAndTheNextLineCountsWhatWasSuppressed() {
        var limiter = WarningLimiter(burst: 2, interval: 60)
        let peer: [UInt8] = [1, 2, 3]
        #expect(limiter.admit(peer, now: start) == (true, 0))
        #expect(limiter.admit(peer, now: start) == (true, 0))
        for _ in 0..<1000 { #expect(!limiter.admit(peer, now: start + 1).admitted) }
        #expect(limiter.admit([9], now: start + 1) == (true, 0), "another peer has its own share")
        #expect(limiter.admit(peer, now: start + 60) == (true, 1000))
        #expect(limiter.admit(peer, now: start + 60) == (true, 0))
    }

    @Test func manyPeersShareOneBudgetPastTheKeyLimit() {
        var limiter = WarningLimiter(burst: 1, interval: 60, maxKeys: 3)
        for peer in 0..<3 { #expect(limiter.admit([UInt8(peer)], now: start).admitted) }
        #expect(limiter.admit([100], now: start).admitted, "the first stranger past the limit uses the shared budget")
        #expect(!limiter.admit([101], now: start).admitted, "which the next one finds spent")
        #expect(limiter.admit([102], now: start + 61).admitted, "expired keys are forgotten")
    }
}
