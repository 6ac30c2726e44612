import AgentOSWire
import Foundation
import Testing

@Suite struct HostileJSONTests {
    @Test func deepNestingIsAnErrorNotACrash() {
        for depth in [600, 100_000] {
            for open in ["[", "{\"a\":"] {
                let text = String(repeating: open, count: depth)
                #expect(throws: (any Error).self) { try JSONValue.parse(Data(text.utf8)) }
            }
        }
    }

    @Test func hugeNumbersAreErrorsOrFiniteNumbers() {
        #expect(throws: (any Error).self) { try JSONValue.parse(Data("1e400".utf8)) }
        #expect((try? JSONValue.parse(Data("18446744073709551616".utf8)))?.doubleValue == 18446744073709551616)
    }
}
