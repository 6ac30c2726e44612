/// A field that is always in the JSON, as `null` when it has no value: `@Nullable var error:
/// String?` encodes `"error": null` where a plain optional would leave the key out. Decoding
/// accepts the key absent or `null` alike. The API document marks such a field required and
/// nullable.
@propertyWrapper
public struct Nullable<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension Nullable: Equatable where Value: Equatable {}
extension Nullable: Hashable where Value: Hashable {}

/// Lets the schema recorder tell a `Nullable` field from a plain optional one.
protocol NullableField {
    static var valueType: any Decodable.Type { get }
}

extension Nullable: NullableField {
    static var valueType: any Decodable.Type { Value.self }
}

extension KeyedDecodingContainer {
    /// A `@Nullable` field may be absent or `null`.
    public func decode<Value>(_ type: Nullable<Value>.Type, forKey key: Key) throws -> Nullable<Value> {
        try decodeIfPresent(type, forKey: key) ?? Nullable(wrappedValue: nil)
    }
}
