// Placeholder: the HTTP/2 client arrives with the transport issue.
import CNGHTTP2
import COpenSSL
import CZlib

enum LinkCheck {
    static func versions() -> (Int32, UInt, String) {
        (nghttp2_version(0).pointee.version_num, OpenSSL_version_num(), String(cString: zlibVersion()))
    }
}
