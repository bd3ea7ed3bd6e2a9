import TelemetryPipeline

// The SDK's value types are defined next to the pipeline that carries them; these aliases make
// them available to users of `Telemetry` without importing `TelemetryPipeline`.
public typealias AttributeValue = TelemetryPipeline.AttributeValue
public typealias Attribute = TelemetryPipeline.Attribute
public typealias AttributeLimits = TelemetryPipeline.AttributeLimits
public typealias TraceID = TelemetryPipeline.TraceID
public typealias SpanID = TelemetryPipeline.SpanID
public typealias TraceFlags = TelemetryPipeline.TraceFlags
public typealias SpanContext = TelemetryPipeline.SpanContext
public typealias Resource = TelemetryPipeline.Resource
public typealias InstrumentationScope = TelemetryPipeline.InstrumentationScope
public typealias SpanKind = TelemetryPipeline.SpanKind
public typealias SpanStatus = TelemetryPipeline.SpanStatus
public typealias SpanEvent = TelemetryPipeline.SpanEvent
public typealias SpanLink = TelemetryPipeline.SpanLink
public typealias SpanData = TelemetryPipeline.SpanData
public typealias Severity = TelemetryPipeline.Severity
public typealias LogRecordData = TelemetryPipeline.LogRecordData
public typealias TelemetryClock = TelemetryPipeline.TelemetryClock
public typealias SystemClock = TelemetryPipeline.SystemClock
public typealias MetricData = TelemetryPipeline.MetricData
public typealias MetricPoints = TelemetryPipeline.MetricPoints
public typealias MetricNumber = TelemetryPipeline.MetricNumber
public typealias NumberDataPoint = TelemetryPipeline.NumberDataPoint
public typealias HistogramDataPoint = TelemetryPipeline.HistogramDataPoint
public typealias ExponentialHistogramDataPoint = TelemetryPipeline.ExponentialHistogramDataPoint
public typealias AggregationTemporality = TelemetryPipeline.AggregationTemporality
public typealias HistogramAggregation = TelemetryPipeline.HistogramAggregation
public typealias ObservationRecorder = TelemetryPipeline.ObservationRecorder
public typealias SpanExporter = TelemetryPipeline.SpanExporter
public typealias MetricExporter = TelemetryPipeline.MetricExporter
public typealias LogExporter = TelemetryPipeline.LogExporter
public typealias SpanBatch = TelemetryPipeline.SpanBatch
public typealias MetricBatch = TelemetryPipeline.MetricBatch
public typealias LogBatch = TelemetryPipeline.LogBatch
public typealias PipelineConfiguration = TelemetryPipeline.PipelineConfiguration
public typealias TelemetrySignal = TelemetryPipeline.TelemetrySignal
public typealias SignalStatistics = TelemetryPipeline.SignalStatistics
public typealias TelemetryError = TelemetryPipeline.TelemetryError
public typealias IDGenerator = TelemetryPipeline.IDGenerator
