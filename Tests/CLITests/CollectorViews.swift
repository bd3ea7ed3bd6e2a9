// Reading what the embedded collector received.
import OTLPProto

/// The attribute `key` of a list as a string (string, integer, bool or double value).
func attribute(_ key: String, in attributes: [CommonV1KeyValue]) -> String? {
    switch attributes.first(where: { $0.key == key })?.value?.value {
    case .stringValue(let value): value
    case .intValue(let value): String(value)
    case .boolValue(let value): String(value)
    case .doubleValue(let value): String(value)
    default: nil
    }
}
