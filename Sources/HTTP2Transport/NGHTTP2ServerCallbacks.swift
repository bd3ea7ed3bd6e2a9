// nghttp2 server-session callbacks: file-level functions that recover the connection from
// user_data and make one call into Swift. No Swift error crosses into C.
import CNGHTTP2
import HTTPTransportCore

extension NGHTTP2Session.Callbacks {
    /// The server's callbacks; the session's user data is its `HTTPServerConnection`.
    static var server: Self {
        Self(onBeginHeaders: serverOnBeginHeaders, onHeader: serverOnHeader, onFrameRecv: serverOnFrameRecv,
             onDataChunkRecv: serverOnDataChunkRecv, onStreamClose: serverOnStreamClose, onFrameSend: serverOnFrameSend)
    }
}

@inline(__always)
private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTPServerConnection? { NGHTTP2Session.owner(of: userData) }

private func serverOnBeginHeaders(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData) else { return 0 }
    if UInt32(frame.pointee.hd.type) == NGHTTP2_HEADERS.rawValue && frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
        connection.beginStream(frame.pointee.hd.stream_id)
    }
    return 0
}

private func serverOnHeader(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
    _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
    _ value: UnsafePointer<UInt8>?, _ valueLength: Int,
    _ flags: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData) else { return 0 }
    let nameBytes = UnsafeBufferPointer(start: name, count: name == nil ? 0 : nameLength)
    let valueBytes = UnsafeBufferPointer(start: value, count: value == nil ? 0 : valueLength)
    return connection.receivedHeader(frame.pointee.hd.stream_id, name: nameBytes, value: valueBytes)
        ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
}

private func serverOnFrameRecv(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData) else { return 0 }
    let header = frame.pointee.hd
    switch UInt32(header.type) {
    case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
        if header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
            connection.requestComplete(header.stream_id)
        }
    default:
        break
    }
    return 0
}

private func serverOnFrameSend(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame, let connection = owner(userData) else { return 0 }
    let header = frame.pointee.hd
    switch UInt32(header.type) {
    case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
        if header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 { connection.sentEndStream(header.stream_id) }
    case NGHTTP2_GOAWAY.rawValue:
        connection.sentGoAway(errorCode: frame.pointee.goaway.error_code)
    default:
        break
    }
    return 0
}

private func serverOnDataChunkRecv(
    _ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32,
    _ data: UnsafePointer<UInt8>?, _ length: Int, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let connection = owner(userData), let data else { return 0 }
    connection.receivedData(streamID, UnsafeBufferPointer(start: data, count: length))
    return 0
}

private func serverOnStreamClose(
    _ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let connection = owner(userData) else { return 0 }
    connection.streamClosed(streamID)
    return 0
}

/// Data source of a response body: copies the next chunk of the stream's response; at the end
/// submits the trailers, if any.
func nghttp2ReadResponseBody(
    _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ dataFlags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    guard let connection = owner(userData), let buffer, let dataFlags else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    return connection.readResponseBody(streamID, into: buffer, capacity: length, flags: dataFlags)
}
