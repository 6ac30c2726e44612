import Foundation
import NIOCore
import PostgresNIO

/// The store's records are `Codable` values whose coding keys are their column names (as GRDB
/// reads and writes them in SQLite). These two coders map them to PostgreSQL the same way:
/// scalars to their own types (`text`, `bigint`, `double precision`, `boolean`, `timestamptz`,
/// `bytea`, and enums to their raw values), everything else (arrays, dictionaries, JSON
/// values, nested structs) to `json`.
enum RecordCoding {
    static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    static let jsonDecoder = JSONDecoder()

    /// Whether `type` is written as one scalar column value rather than as JSON.
    static func isScalar(_ type: Any.Type) -> Bool {
        type is any RawRepresentable.Type || type == Date.self || type == Data.self
    }
}

// MARK: - Rows to records

/// Decodes one record from a row, by column name.
struct RowDecoder: Decoder {
    let row: PostgresRandomAccessRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(row: row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a row is not a list"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a row is not one value"))
    }
}

private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: PostgresRandomAccessRow
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { row.compactMap { Key(stringValue: $0.columnName) } }

    func contains(_ key: Key) -> Bool { row.contains(key.stringValue) }

    func cell(_ key: Key) throws -> ReadableCell {
        guard row.contains(key.stringValue) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: [key], debugDescription: "no column \(key.stringValue)"))
        }
        return ReadableCell(cell: row[key.stringValue])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try cell(key).bytes == nil }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try cell(key).decode(Bool.self) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try cell(key).decode(String.self) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try cell(key).decode(Double.self) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try cell(key).decode(Float.self) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try cell(key).decode(Int.self) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { Int8(try cell(key).decode(Int16.self)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try cell(key).decode(Int16.self) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try cell(key).decode(Int32.self) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try cell(key).decode(Int64.self) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { UInt(try cell(key).decode(Int64.self)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { UInt8(try cell(key).decode(Int16.self)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { UInt16(try cell(key).decode(Int32.self)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { UInt32(try cell(key).decode(Int64.self)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { UInt64(try cell(key).decode(Int64.self)) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let cell = try cell(key).cell
        if T.self == Date.self { return try ReadableCell(cell: cell).decode(Date.self) as! T }
        if T.self == Data.self { return try ReadableCell(cell: cell).decode(Data.self) as! T }
        if cell.dataType == .jsonb || cell.dataType == .json {
            guard var bytes = cell.bytes else {
                throw DecodingError.valueNotFound(T.self, .init(codingPath: [key], debugDescription: "\(key.stringValue) is NULL"))
            }
            // jsonb's binary form is a version byte (1) and the JSON text.
            if cell.dataType == .jsonb && cell.format == .binary { bytes.moveReaderIndex(forwardBy: 1) }
            return try RecordCoding.jsonDecoder.decode(T.self, from: Data(bytes.readableBytesView))
        }
        return try T(from: CellDecoder(readable: ReadableCell(cell: cell), codingPath: [key]))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw DecodingError.typeMismatch(type, .init(codingPath: [key], debugDescription: "nested values are stored as json"))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: [key], debugDescription: "lists are stored as json"))
    }

    func superDecoder() throws -> any Decoder { RowDecoder(row: row) }
    func superDecoder(forKey key: Key) throws -> any Decoder { RowDecoder(row: row) }
}

/// A cell whose decoding errors name its column and types (postgres-nio's own hide them).
struct ReadableCell {
    let cell: PostgresCell

    var bytes: ByteBuffer? { cell.bytes }

    func decode<T: PostgresDecodable>(_ type: T.Type) throws -> T {
        do {
            return try cell.decode(T.self)
        } catch let error as PostgresDecodingError {
            throw DecodingError.typeMismatch(T.self, .init(
                codingPath: [], debugDescription: "column \(cell.columnName) (\(cell.dataType)) as \(T.self): \(error.code)"))
        }
    }
}

/// One cell as a single value: how an enum reads its raw value.
private struct CellDecoder: Decoder, SingleValueDecodingContainer {
    let readable: ReadableCell
    var cell: PostgresCell { readable.cell }
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "\(cell.columnName) is a scalar"))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "\(cell.columnName) is a scalar"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { cell.bytes == nil }
    func decode(_ type: Bool.Type) throws -> Bool { try readable.decode(Bool.self) }
    func decode(_ type: String.Type) throws -> String { try readable.decode(String.self) }
    func decode(_ type: Double.Type) throws -> Double { try readable.decode(Double.self) }
    func decode(_ type: Float.Type) throws -> Float { try readable.decode(Float.self) }
    func decode(_ type: Int.Type) throws -> Int { try readable.decode(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { Int8(try readable.decode(Int16.self)) }
    func decode(_ type: Int16.Type) throws -> Int16 { try readable.decode(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try readable.decode(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try readable.decode(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { UInt(try readable.decode(Int64.self)) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { UInt8(try readable.decode(Int16.self)) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { UInt16(try readable.decode(Int32.self)) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { UInt32(try readable.decode(Int64.self)) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { UInt64(try readable.decode(Int64.self)) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: self) }
}

// MARK: - Records to columns

/// A value bound to a statement parameter.
enum ColumnValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case text(String)
    case date(Date)
    case bytes(Data)
    case json(Data)

    func append(to bindings: inout PostgresBindings) throws {
        switch self {
        case .null: bindings.appendNull()
        case .bool(let value): bindings.append(value)
        case .int(let value): bindings.append(value)
        case .double(let value): bindings.append(value)
        case .text(let value): bindings.append(value)
        case .date(let value): bindings.append(value)
        case .bytes(let value): try bindings.append(value)
        case .json(let value): bindings.append(JSONText(text: value))
        }
    }
}

/// JSON text bound as `json`, which keeps the text exactly as written (`jsonb` would refuse
/// an escaped NUL, `\u0000`, which JSON values may hold).
struct JSONText: PostgresNonThrowingEncodable {
    let text: Data

    static var psqlType: PostgresDataType { .json }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeBytes(text)
    }
}

/// A record's columns and values, in its coding order. Nil optionals are NULL columns (an
/// update must clear them), not left out.
struct RecordEncoder: Encoder {
    final class Columns {
        var names: [String] = []
        var values: [ColumnValue] = []
    }

    let columns = Columns()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func columns(of record: some Encodable) throws -> (names: [String], values: [ColumnValue]) {
        let encoder = RecordEncoder()
        try record.encode(to: encoder)
        return (encoder.columns.names, encoder.columns.values)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(RecordContainer<Key>(columns: columns))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        preconditionFailure("a record encodes as columns, not a list")
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        preconditionFailure("a record encodes as columns, not one value")
    }
}

private struct RecordContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let columns: RecordEncoder.Columns
    var codingPath: [any CodingKey] { [] }

    private func put(_ value: ColumnValue, _ key: Key) {
        columns.names.append(key.stringValue)
        columns.values.append(value)
    }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(.text(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(.double(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(.double(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(.int(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.int(Int(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(.int(Int(value)), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        put(try Self.columnValue(value), key)
    }

    static func columnValue<T: Encodable>(_ value: T) throws -> ColumnValue {
        if let date = value as? Date { return .date(date) }
        if let data = value as? Data { return .bytes(data) }
        if RecordCoding.isScalar(T.self) {
            let scalar = ScalarEncoder()
            try value.encode(to: scalar)
            return scalar.box.value
        }
        return .json(try RecordCoding.jsonEncoder.encode(value))
    }

    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { put(value.map { .bool($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { put(value.map { .text($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { put(value.map { .double($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { put(value.map { .double(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { put(value.map { .int($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { put(value.map { .int(Int($0)) } ?? .null, key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return put(.null, key) }
        put(try Self.columnValue(value), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        preconditionFailure("nested values are encoded as json through encode(_:forKey:)")
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        preconditionFailure("lists are encoded as json through encode(_:forKey:)")
    }

    mutating func superEncoder() -> any Encoder { preconditionFailure("records have no super encoder") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { preconditionFailure("records have no super encoder") }
}

/// An enum's raw value as one column value.
private struct ScalarEncoder: Encoder, SingleValueEncodingContainer {
    final class Box { var value: ColumnValue = .null }
    let box = Box()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        preconditionFailure("a raw value is a scalar")
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { preconditionFailure("a raw value is a scalar") }
    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() { box.value = .null }
    func encode(_ value: Bool) { box.value = .bool(value) }
    func encode(_ value: String) { box.value = .text(value) }
    func encode(_ value: Double) { box.value = .double(value) }
    func encode(_ value: Float) { box.value = .double(Double(value)) }
    func encode(_ value: Int) { box.value = .int(value) }
    func encode(_ value: Int8) { box.value = .int(Int(value)) }
    func encode(_ value: Int16) { box.value = .int(Int(value)) }
    func encode(_ value: Int32) { box.value = .int(Int(value)) }
    func encode(_ value: Int64) { box.value = .int(Int(value)) }
    func encode(_ value: UInt) { box.value = .int(Int(value)) }
    func encode(_ value: UInt8) { box.value = .int(Int(value)) }
    func encode(_ value: UInt16) { box.value = .int(Int(value)) }
    func encode(_ value: UInt32) { box.value = .int(Int(value)) }
    func encode(_ value: UInt64) { box.value = .int(Int(value)) }
    func encode<T: Encodable>(_ value: T) throws { try value.encode(to: self) }
}
