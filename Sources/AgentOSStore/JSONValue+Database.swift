import AgentOSWire
import Foundation
import GRDB

/// JSON values live in TEXT columns as compact JSON, whatever their shape, so that a string
/// result and an object result read back the same way.
extension JSONValue: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { encodedString().databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> JSONValue? {
        guard let text = String.fromDatabaseValue(dbValue) else { return nil }
        return try? JSONValue.parse(Data(text.utf8))
    }
}
