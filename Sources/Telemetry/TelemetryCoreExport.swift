// The SDK's data model (spans, log records, metric points, attributes, ids, resource, exporter
// protocols, configuration) is part of this module's API: `import Telemetry` is all a user writes.
@_exported public import TelemetryCore
