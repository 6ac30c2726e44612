import AgentOSWire
import Foundation

/// A body type of the API: its JSON schema, for the API document, is derived from its
/// `Decodable` conformance (the keys it decodes, with their types, required unless optional),
/// so the type is the one definition of the shape. Named types become components of the
/// document, referenced with `$ref`.
public protocol APISchema: Codable, Sendable {
    /// The component name in the API document; the type's name by default.
    static var schemaName: String { get }
    /// Per-field additions to the derived schema (`minLength`, `enum`, `description`, …),
    /// merged into what the recorder found for that key.
    static var fieldSchemas: [String: JSONValue] { get }
}

extension APISchema {
    public static var schemaName: String { String(describing: Self.self) }
    public static var fieldSchemas: [String: JSONValue] { [:] }
}

/// A type that states its own schema instead of having it recorded (leaf values: times, free
/// JSON, enums, maps, and bodies that take several shapes), with a value the recorder hands
/// to whoever decodes it.
public protocol SchemaLeaf: Decodable {
    /// The type's schema.
    static var jsonSchema: JSONValue { get }
    /// Any valid value.
    static var schemaSample: Self { get }
    /// Named types `jsonSchema` refers to, recorded with it.
    static var schemaDependencies: [any Decodable.Type] { get }
}

extension SchemaLeaf {
    public static var schemaDependencies: [any Decodable.Type] { [] }
}

extension SchemaLeaf where Self: RawRepresentable & CaseIterable, RawValue == String {
    public static var jsonSchema: JSONValue { ["type": "string", "enum": .array(allCases.map { .string($0.rawValue) })] }
    public static var schemaSample: Self { allCases.first! }
}

extension Date: SchemaLeaf {
    public static var jsonSchema: JSONValue { ["type": "string", "format": "date-time"] }
    public static var schemaSample: Date { Date(timeIntervalSince1970: 0) }
}

extension JSONValue: SchemaLeaf {
    public static var jsonSchema: JSONValue { [:] }
    public static var schemaSample: JSONValue { .null }
}

extension Dictionary: SchemaLeaf where Key == String, Value: Decodable {
    public static var jsonSchema: JSONValue {
        let value = (try? SchemaRecorder().schema(for: Value.self)) ?? [:]
        return value == [:] ? ["type": "object"] : ["type": "object", "additionalProperties": value]
    }
    public static var schemaSample: [String: Value] { [:] }
}

extension JobStatus: SchemaLeaf {}

/// Derives JSON schemas (OpenAPI 3.0 flavour: `nullable`) by decoding types with a decoder
/// that records what they ask for. Named types (`APISchema`) are collected in `components`
/// and referenced.
public final class SchemaRecorder {
    /// The named schemas met so far, by name.
    public private(set) var components: [String: JSONValue] = [:]

    public init() {}

    /// The schema of `type`: a `$ref` for a named type (recorded in `components`), inline otherwise.
    public func schema(for type: any Decodable.Type) throws -> JSONValue {
        try record(type).schema
    }

    /// The schema and a sample value of `type`.
    func record(_ type: any Decodable.Type) throws -> (schema: JSONValue, sample: Any) {
        if let primitive = Self.primitive(type) { return primitive }
        if let leaf = type as? any SchemaLeaf.Type {
            for dependency in leaf.schemaDependencies { _ = try record(dependency) }
            return (leaf.jsonSchema, leaf.schemaSample)
        }
        if let named = type as? any APISchema.Type {
            let name = named.schemaName
            if components[name] == nil {
                components[name] = [:]  // a placeholder, so a type that contains itself ends
                let (schema, _) = try recordStructure(type, fields: named.fieldSchemas)
                components[name] = schema
            }
            return (["$ref": .string("#/components/schemas/\(name)")], try sample(of: type))
        }
        return try recordStructure(type, fields: [:])
    }

    /// A value of a named type, decoded again from the recorder (its schema is already known).
    private func sample(of type: any Decodable.Type) throws -> Any {
        try type.init(from: RecordingDecoder(recorder: self))
    }

    private func recordStructure(_ type: any Decodable.Type, fields: [String: JSONValue]) throws -> (schema: JSONValue, sample: Any) {
        let decoder = RecordingDecoder(recorder: self)
        let sample = try type.init(from: decoder)
        switch decoder.shape {
        case .object(let properties):
            var schemas: [String: JSONValue] = [:]
            var required: [JSONValue] = []
            for property in properties {
                var schema = property.schema
                if property.nullable { schema = Self.nullable(schema) }
                if let extra = fields[property.key]?.objectValue, var object = schema.objectValue {
                    object.merge(extra) { _, new in new }
                    schema = .object(object)
                }
                schemas[property.key] = schema
                if property.required { required.append(.string(property.key)) }
            }
            var object: [String: JSONValue] = ["type": "object", "properties": .object(schemas)]
            if !required.isEmpty { object["required"] = .array(required) }
            return (.object(object), sample)
        case .array(let items):
            return (["type": "array", "items": items], sample)
        case .value(let schema):
            return (schema, sample)
        case .none:
            return (["type": "object"], sample)
        }
    }

    /// `schema` that also allows `null` (a `$ref` cannot carry `nullable` in OpenAPI 3.0).
    static func nullable(_ schema: JSONValue) -> JSONValue {
        guard var object = schema.objectValue else { return schema }
        if object["$ref"] != nil { return ["allOf": [schema], "nullable": true] }
        if object.isEmpty { return schema }
        object["nullable"] = true
        return .object(object)
    }

    static func primitive(_ type: any Decodable.Type) -> (schema: JSONValue, sample: Any)? {
        switch type {
        case is String.Type: (["type": "string"], "")
        case is Bool.Type: (["type": "boolean"], false)
        case is Int.Type: (["type": "integer"], 0)
        case is Int64.Type: (["type": "integer"], Int64(0))
        case is Int32.Type: (["type": "integer"], Int32(0))
        case is Double.Type: (["type": "number"], 0.0)
        case is Float.Type: (["type": "number"], Float(0))
        default: nil
        }
    }
}

/// What a recorded type turned out to be.
private enum RecordedShape {
    case object([RecordedProperty])
    case array(JSONValue)
    case value(JSONValue)
}

private struct RecordedProperty {
    let key: String
    let schema: JSONValue
    let required: Bool
    let nullable: Bool
}

private final class RecordingDecoder: Decoder {
    let recorder: SchemaRecorder
    var shape: RecordedShape?
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    init(recorder: SchemaRecorder) {
        self.recorder = recorder
    }

    func add(_ property: RecordedProperty) {
        guard case .object(var properties) = shape ?? .object([]) else { return }
        if !properties.contains(where: { $0.key == property.key }) { properties.append(property) }
        shape = .object(properties)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if shape == nil { shape = .object([]) }
        return KeyedDecodingContainer(RecordingKeyedContainer<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        RecordingUnkeyedContainer(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        RecordingSingleValueContainer(decoder: self)
    }
}

private struct RecordingKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: RecordingDecoder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decode(type, generic: key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try decodeIfPresent(type, generic: key) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type as Bool.Type, generic: key) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try decodeIfPresent(type as Bool.Type, generic: key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type as String.Type, generic: key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try decodeIfPresent(type as String.Type, generic: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type as Double.Type, generic: key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try decodeIfPresent(type as Double.Type, generic: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type as Float.Type, generic: key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try decodeIfPresent(type as Float.Type, generic: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type as Int.Type, generic: key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try decodeIfPresent(type as Int.Type, generic: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(type as Int8.Type, generic: key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try decodeIfPresent(type as Int8.Type, generic: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(type as Int16.Type, generic: key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try decodeIfPresent(type as Int16.Type, generic: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(type as Int32.Type, generic: key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try decodeIfPresent(type as Int32.Type, generic: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(type as Int64.Type, generic: key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try decodeIfPresent(type as Int64.Type, generic: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(type as UInt.Type, generic: key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try decodeIfPresent(type as UInt.Type, generic: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(type as UInt8.Type, generic: key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try decodeIfPresent(type as UInt8.Type, generic: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(type as UInt16.Type, generic: key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try decodeIfPresent(type as UInt16.Type, generic: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(type as UInt32.Type, generic: key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try decodeIfPresent(type as UInt32.Type, generic: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type as UInt64.Type, generic: key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try decodeIfPresent(type as UInt64.Type, generic: key) }

    private func decode<T: Decodable>(_ type: T.Type, generic key: Key) throws -> T {
        let (schema, sample) = try decoder.recorder.record(type)
        decoder.add(RecordedProperty(key: key.stringValue, schema: schema, required: true, nullable: false))
        return try cast(sample)
    }

    private func decodeIfPresent<T: Decodable>(_ type: T.Type, generic key: Key) throws -> T? {
        if let nullable = type as? any NullableField.Type {
            // Always written, perhaps as null.
            let (schema, _) = try decoder.recorder.record(nullable.valueType)
            decoder.add(RecordedProperty(key: key.stringValue, schema: schema, required: true, nullable: true))
        } else {
            let (schema, _) = try decoder.recorder.record(type)
            decoder.add(RecordedProperty(key: key.stringValue, schema: schema, required: false, nullable: false))
        }
        return nil
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "nested containers are not recorded")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "nested containers are not recorded")
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder }
}

private struct RecordingUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: RecordingDecoder
    var codingPath: [any CodingKey] { [] }
    var count: Int? { 1 }
    var isAtEnd: Bool { currentIndex > 0 }
    var currentIndex = 0

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeGeneric(type) }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeGeneric(type) }
    mutating func decode(_ type: String.Type) throws -> String { try decodeGeneric(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeGeneric(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeGeneric(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeGeneric(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeGeneric(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeGeneric(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeGeneric(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeGeneric(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeGeneric(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeGeneric(type) }

    private mutating func decodeGeneric<T: Decodable>(_ type: T.Type) throws -> T {
        let (schema, sample) = try decoder.recorder.record(type)
        decoder.shape = .array(schema)
        currentIndex += 1
        return try cast(sample)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        throw DecodingError.dataCorruptedError(in: self, debugDescription: "nested containers are not recorded")
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.dataCorruptedError(in: self, debugDescription: "nested containers are not recorded")
    }

    mutating func superDecoder() throws -> any Decoder { decoder }
}

private struct RecordingSingleValueContainer: SingleValueDecodingContainer {
    let decoder: RecordingDecoder
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeGeneric(type) }
    func decode(_ type: Bool.Type) throws -> Bool { try decodeGeneric(type) }
    func decode(_ type: String.Type) throws -> String { try decodeGeneric(type) }
    func decode(_ type: Double.Type) throws -> Double { try decodeGeneric(type) }
    func decode(_ type: Float.Type) throws -> Float { try decodeGeneric(type) }
    func decode(_ type: Int.Type) throws -> Int { try decodeGeneric(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decodeGeneric(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decodeGeneric(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decodeGeneric(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decodeGeneric(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try decodeGeneric(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeGeneric(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeGeneric(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeGeneric(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeGeneric(type) }

    private func decodeGeneric<T: Decodable>(_ type: T.Type) throws -> T {
        let (schema, sample) = try decoder.recorder.record(type)
        decoder.shape = .value(schema)
        return try cast(sample)
    }
}

private func cast<T>(_ sample: Any) throws -> T {
    guard let value = sample as? T else {
        throw DecodingError.typeMismatch(T.self, .init(codingPath: [], debugDescription: "the recorder has no sample of \(T.self)"))
    }
    return value
}
