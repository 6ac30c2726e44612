import AgentOSClient
@testable import AgentOSDesktop
import Foundation
import Testing

@Suite struct ServerKeyPinningTests {
    let directory: ConfigDirectory

    init() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-pin-\(UUID().uuidString.prefix(8))").path
        directory = ConfigDirectory(environment: ["XDG_CONFIG_HOME": path])
    }

    static let key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    static let other = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

    @Test func theFirstKeyFromAnHTTPSGatewayIsPinnedAndAChangeIsRefused() throws {
        let gateway = "https://agentos.example.com"
        #expect(try DesktopAttach.verifiedServerKey(Self.key, given: nil, gateway: gateway, configDirectory: directory) == Self.key)
        #expect(try directory.pinnedServerKey(gateway: gateway) == Self.key)
        #expect(try DesktopAttach.verifiedServerKey(Self.key, given: nil, gateway: gateway, configDirectory: directory) == Self.key)
        let error = #expect(throws: ClientError.self) {
            try DesktopAttach.verifiedServerKey(Self.other, given: nil, gateway: gateway, configDirectory: directory)
        }
        #expect(error?.description.contains("changed its key") == true)
        // Rotated on purpose: the new key, given, replaces the pin.
        #expect(try DesktopAttach.verifiedServerKey(Self.other, given: Self.other, gateway: gateway, configDirectory: directory) == Self.other)
        #expect(try directory.pinnedServerKey(gateway: gateway) == Self.other)
    }

    @Test func aPlainHTTPGatewayBeyondLoopbackIsNotTrustedOnFirstUse() throws {
        let gateway = "http://192.0.2.10:8080"
        #expect(throws: ClientError.self) {
            try DesktopAttach.verifiedServerKey(Self.key, given: nil, gateway: gateway, configDirectory: directory)
        }
        #expect(try directory.pinnedServerKey(gateway: gateway) == nil)
        // A key given that the gateway contradicts is refused; the same key is pinned.
        #expect(throws: ClientError.self) {
            try DesktopAttach.verifiedServerKey(Self.key, given: Self.other, gateway: gateway, configDirectory: directory)
        }
        #expect(try DesktopAttach.verifiedServerKey(Self.key, given: Self.key, gateway: gateway, configDirectory: directory) == Self.key)
        #expect(try directory.pinnedServerKey(gateway: gateway) == Self.key)
    }

    @Test func aLoopbackGatewayIsTrustedOnFirstUse() throws {
        for gateway in ["http://127.0.0.1:8080", "http://localhost:8080"] {
            #expect(try DesktopAttach.verifiedServerKey(Self.key, given: nil, gateway: gateway, configDirectory: directory) == Self.key)
        }
        let mode = try FileManager.default.attributesOfItem(atPath: directory.serverKeysPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

@Suite struct BusEndpointTests {
    @Test(arguments: [
        ("tcp://0.0.0.0:5555", "https://agentos.example.com", "tcp://agentos.example.com:5555"),
        ("tcp://*:5555", "http://10.0.0.7:8080", "tcp://10.0.0.7:5555"),
        ("tcp://[::]:5555", "http://[2001:db8::1]:8080", "tcp://[2001:db8::1]:5555"),
        ("tcp://bus.example.com:5555", "https://agentos.example.com", "tcp://bus.example.com:5555"),
    ])
    func aWildcardBusIsReachedAtTheGatewaysHost(advertised: String, gateway: String, expected: String) {
        #expect(DesktopAttach.reachable(advertised, gateway: gateway) == expected)
    }
}

@Suite struct PlaintextBusTests {
    let directory = ConfigDirectory(environment: [
        "XDG_CONFIG_HOME": FileManager.default.temporaryDirectory.appendingPathComponent("agentos-plain-\(UUID().uuidString.prefix(8))").path,
    ])

    @Test func aPlainBusIsTakenOnlyOnLoopbackAndNeverWhenTheKeyIsKnown() throws {
        let gateway = "https://agentos.example.com"
        #expect(try DesktopAttach.plaintextAllowed("tcp://127.0.0.1:5555", given: nil, gateway: gateway, configDirectory: directory, insecure: false))
        // Beyond loopback, only when told.
        #expect(throws: ClientError.self) {
            try DesktopAttach.plaintextAllowed("tcp://bus.example.com:5555", given: nil, gateway: gateway, configDirectory: directory, insecure: false)
        }
        #expect(try DesktopAttach.plaintextAllowed("tcp://bus.example.com:5555", given: nil, gateway: gateway, configDirectory: directory, insecure: true))
        // A gateway that stops offering the key it once gave is a downgrade, even on loopback.
        try directory.pin(serverKey: ServerKeyPinningTests.key, gateway: gateway)
        let error = #expect(throws: ClientError.self) {
            try DesktopAttach.plaintextAllowed("tcp://127.0.0.1:5555", given: nil, gateway: gateway, configDirectory: directory, insecure: true)
        }
        #expect(error?.description.contains("refusing to connect in clear") == true)
        #expect(throws: ClientError.self) {
            try DesktopAttach.plaintextAllowed("tcp://127.0.0.1:5555", given: ServerKeyPinningTests.key, gateway: "http://127.0.0.1:8080",
                                               configDirectory: directory, insecure: false)
        }
    }
}
