// The nghttp2 session both ends run on: created with one set of hardening options, started with
// our SETTINGS and connection window. Each end's C callbacks are in NGHTTP2Callbacks.swift
// (client) and NGHTTP2ServerCallbacks.swift (server).
import CNGHTTP2
import HTTPTransportCore

/// Owns an `nghttp2_session`, client or server, and frees it.
final class NGHTTP2Session {
    /// Which end of the connection the session is: its constructor and the options of that end.
    enum Role {
        case client
        case server
    }

    /// The callbacks an end installs: file-level functions that recover their owner from the
    /// session's user data and make one call into Swift.
    struct Callbacks {
        var onBeginHeaders: nghttp2_on_begin_headers_callback
        var onHeader: nghttp2_on_header_callback
        var onFrameRecv: nghttp2_on_frame_recv_callback
        var onDataChunkRecv: nghttp2_on_data_chunk_recv_callback
        var onStreamClose: nghttp2_on_stream_close_callback
        var onFrameSend: nghttp2_on_frame_send_callback
    }

    let session: OpaquePointer

    /// Creates a session whose callbacks receive `owner` as their user data, held unretained: the
    /// owner owns the nghttp2 session and outlives it.
    init(_ role: Role, callbacks: Callbacks, owner: AnyObject) throws(TransportError) {
        var callbacksPointer: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacksPointer) == 0, let nghttp2Callbacks = callbacksPointer else {
            throw TransportError(.internalError, "nghttp2_session_callbacks_new failed")
        }
        defer { nghttp2_session_callbacks_del(nghttp2Callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(nghttp2Callbacks, callbacks.onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(nghttp2Callbacks, callbacks.onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(nghttp2Callbacks, callbacks.onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(nghttp2Callbacks, callbacks.onDataChunkRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(nghttp2Callbacks, callbacks.onStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(nghttp2Callbacks, callbacks.onFrameSend)

        var optionPointer: OpaquePointer?
        guard nghttp2_option_new(&optionPointer) == 0, let option = optionPointer else {
            throw TransportError(.internalError, "nghttp2_option_new failed")
        }
        defer { nghttp2_option_del(option) }
        // Hardening: bounded CONTINUATION frames per header block, SETTINGS entries, queued
        // control-frame ACKs (PING/SETTINGS floods), and our own header block size.
        nghttp2_option_set_max_continuations(option, 16)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_outbound_ack(option, 1000)
        nghttp2_option_set_max_send_header_block_length(option, 64 << 10)
        nghttp2_option_set_no_closed_streams(option, 1)

        var sessionPointer: OpaquePointer?
        let userData = Unmanaged.passUnretained(owner).toOpaque()
        let rc: Int32
        let constructor: String
        switch role {
        case .client:
            // No reserved (pushed) streams.
            nghttp2_option_set_max_reserved_remote_streams(option, 0)
            constructor = "nghttp2_session_client_new2"
            rc = nghttp2_session_client_new2(&sessionPointer, nghttp2Callbacks, userData, option)
        case .server:
            // The rate of stream resets a client may send (rapid reset).
            nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33)
            constructor = "nghttp2_session_server_new2"
            rc = nghttp2_session_server_new2(&sessionPointer, nghttp2Callbacks, userData, option)
        }
        guard rc == 0, let session = sessionPointer else {
            throw NGHTTP2Errors.error(constructor, code: Int(rc))
        }
        self.session = session
    }

    deinit { nghttp2_session_del(session) }

    /// The owner a callback's `userData` holds (see `init`); nil when there is none.
    @inline(__always)
    static func owner<Owner: AnyObject>(of userData: UnsafeMutableRawPointer?) -> Owner? {
        guard let userData else { return nil }
        return Unmanaged<Owner>.fromOpaque(userData).takeUnretainedValue()
    }

    /// Queues our SETTINGS frame with `settings` and opens the connection's receive window to
    /// `connectionWindow` bytes (a WINDOW_UPDATE when that is over the default).
    func start(settings: [nghttp2_settings_entry], connectionWindow: Int32) throws(TransportError) {
        var rc = settings.withUnsafeBufferPointer { entries in
            nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), entries.baseAddress, entries.count)
        }
        guard rc == 0 else { throw NGHTTP2Errors.error("nghttp2_submit_settings", code: Int(rc)) }
        rc = nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, connectionWindow)
        guard rc == 0 else { throw NGHTTP2Errors.error("nghttp2_session_set_local_window_size", code: Int(rc)) }
    }
}
