import Foundation
import Telemetry

extension WaterfallSpan {
    /// A span as `tools/peers/otlp_record.py` prints it with `--detail` (`key`, `span_id`,
    /// `parent_span_id`, `trace_id`, `start`, `end`, `status`).
    init?(collectorItem item: [String: Any]) {
        guard let name = item["key"] as? String, let spanID = item["span_id"] as? String,
            let start = (item["start"] as? NSNumber)?.uint64Value, let end = (item["end"] as? NSNumber)?.uint64Value
        else { return nil }
        let status: Status = switch (item["status"] as? NSNumber)?.intValue {
        case 1: .ok
        case 2: .error
        default: .unset
        }
        self.init(
            name: name, traceID: item["trace_id"] as? String ?? "", spanID: spanID,
            parentSpanID: item["parent_span_id"] as? String, startUnixNano: start, endUnixNano: end, status: status)
    }
}
