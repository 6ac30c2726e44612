@testable import AgentOSGateway
import AgentOSWire
import Foundation
import Testing

@Suite struct ServerPoolTests {
    @Test func onlyReadsAndKeyedSubmitsGoToAnotherServer() {
        #expect(ServerPool.isRepeatable(.getJob, body: Data()))
        #expect(ServerPool.isRepeatable(.listJobs, body: Data()))
        #expect(ServerPool.isRepeatable(.health, body: Data()))
        #expect(ServerPool.isRepeatable(.submitJob, body: Data(#"{"code": "x", "idempotency_key": "k"}"#.utf8)))
        #expect(!ServerPool.isRepeatable(.submitJob, body: Data(#"{"code": "x"}"#.utf8)), "a second submit would be a second job")
        #expect(!ServerPool.isRepeatable(.submitJob, body: Data(#"{"code": "x", "idempotency_key": 5}"#.utf8)))
        #expect(!ServerPool.isRepeatable(.submitJob, body: Data("not json".utf8)))
        #expect(!ServerPool.isRepeatable(.cancelJob, body: Data()))
        #expect(!ServerPool.isRepeatable(.uploadFile, body: Data("bytes".utf8)))
        #expect(!ServerPool.isRepeatable(.login, body: Data(#"{"email": "a", "password": "b"}"#.utf8)))
    }
}
