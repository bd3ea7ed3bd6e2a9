import OTLPSync
package import TelemetryCore

// The scope registry: span records refer to their tracer's scope unretained, so the pipeline
// keeps one storage per distinct scope alive for its whole life.
extension Pipeline {
    /// Keeps `scope` alive as long as the pipeline, so span records can refer to it without a
    /// retain per span (tracers call this once). Scopes are few: one per tracer.
    /// Returns the kept scope equal to `scope` (the first one kept, so equal tracers share one
    /// storage) and its unretained reference.
    package func keepScopeAlive(_ scope: InstrumentationScope) -> (scope: InstrumentationScope, reference: KeptAliveScope) {
        let storage = keptScopes.withLock { kept -> InstrumentationScope.Storage in
            if let existing = kept[scope] { return existing }
            kept[scope] = scope.storage
            return scope.storage
        }
        return (InstrumentationScope(storage: storage), KeptAliveScope(reference: Unmanaged.passUnretained(storage)))
    }

    /// How many distinct scopes span records may refer to (for tests).
    package var keptScopeCount: Int { keptScopes.withLock { $0.count } }
}
