// nghttp2 client-session callbacks: file-level functions that recover the connection from user_data and make
// one call into Swift. No Swift error crosses into C.
import CNGHTTP2
import HTTPTransportCore

extension NGHTTP2Session.Callbacks {
    /// The client's callbacks; the session's user data is its `HTTP2Connection`.
    static var client: Self {
        Self(onBeginHeaders: nghttp2OnBeginHeaders, onHeader: nghttp2OnHeader, onFrameRecv: nghttp2OnFrameRecv,
             onDataChunkRecv: nghttp2OnDataChunkRecv, onStreamClose: nghttp2OnStreamClose, onFrameSend: nghttp2OnFrameSend)
    }
}

@inline(__always)
private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTP2Connection? { NGHTTP2Session.owner(of: userData) }

@inline(__always)
private func stream(_ session: OpaquePointer?, _ streamID: Int32) -> RequestContext? {
    guard let session, let pointer = nghttp2_session_get_stream_user_data(session, streamID) else { return nil }
    return Unmanaged<RequestContext>.fromOpaque(pointer).takeUnretainedValue()
}

private func nghttp2OnBeginHeaders(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    0
}

private func nghttp2OnHeader(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
    _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
    _ value: UnsafePointer<UInt8>?, _ valueLength: Int,
    _ flags: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData), let context = stream(session, frame.pointee.hd.stream_id) else {
        return 0
    }
    let nameBytes = UnsafeBufferPointer(start: name, count: name == nil ? 0 : nameLength)
    let valueBytes = UnsafeBufferPointer(start: value, count: value == nil ? 0 : valueLength)
    return connection.receivedHeader(context, name: nameBytes, value: valueBytes)
        ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
}

private func nghttp2OnFrameRecv(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData) else { return 0 }
    let header = frame.pointee.hd
    switch UInt32(header.type) {
    case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
        if let context = stream(session, header.stream_id) {
            connection.receivedStreamFrame(context, isHeaders: UInt32(header.type) == NGHTTP2_HEADERS.rawValue,
                                           endStream: header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0)
        }
    case NGHTTP2_SETTINGS.rawValue:
        if header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 { connection.receivedSettings() }
    case NGHTTP2_GOAWAY.rawValue:
        connection.receivedGoAway(lastStreamID: frame.pointee.goaway.last_stream_id,
                                  errorCode: frame.pointee.goaway.error_code)
    case NGHTTP2_PING.rawValue:
        if header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { connection.receivedPingAck() }
    default:
        break
    }
    return 0
}

private func nghttp2OnFrameSend(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData) else { return 0 }
    if UInt32(frame.pointee.hd.type) == NGHTTP2_GOAWAY.rawValue {
        connection.sentGoAway(errorCode: frame.pointee.goaway.error_code)
    }
    return 0
}

private func nghttp2OnDataChunkRecv(
    _ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32,
    _ data: UnsafePointer<UInt8>?, _ length: Int, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let connection = owner(userData), let context = stream(session, streamID), let data else { return 0 }
    connection.receivedData(context, UnsafeBufferPointer(start: data, count: length))
    return 0
}

private func nghttp2OnStreamClose(
    _ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let connection = owner(userData) else { return 0 }
    connection.streamClosed(streamID, errorCode: errorCode)
    return 0
}

/// Data source of a request body: copies the next chunk of the context's body.
func nghttp2ReadBody(
    _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ dataFlags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let source, let pointer = source.pointee.ptr, let buffer, let dataFlags else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeUnretainedValue()
    let count = context.readBody(into: buffer, capacity: length)
    if context.bodyOffset >= context.request.body.count { dataFlags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
    return count
}
