@testable import AgentOSClient
@testable import AgentOSGateway
import Foundation
import Testing

/// Query strings are read as forms write them, and the CLI writes them so.
@Suite struct FormQueryTests {
    @Test func plusIsASpaceAndAnEscapedPlusAPlus() {
        let query = FormQuery("name=my+file.txt&other=a%2Bb&name=second&empty=&bare&bad=%ZZ")
        #expect(query["name"] == "my file.txt", "the first value counts")
        #expect(query["other"] == "a+b")
        #expect(query["empty"] == "" && query["bare"] == "")
        #expect(query["bad"] == nil, "not percent-decodable")
        #expect(query["missing"] == nil)
    }

    @Test func whatTheClientEncodesTheGatewayReadsBack() {
        for value in ["my file.txt", "a+b", "100%", "ä/ö?&=#", "x y+z%2B"] {
            #expect(FormQuery("name=\(value.formEncoded)")["name"] == value, "\(value) → \(value.formEncoded)")
        }
    }
}
