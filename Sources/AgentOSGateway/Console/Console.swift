import HTTPTypes
import Hummingbird
import NIOCore

/// The web console: a single-page app served at `GET /`, its script at `GET /console/app.js`
/// and its style sheet at `GET /console/app.css`, all compiled into the binary (no build step,
/// no external request). It is only a client of `/api/v1`: it holds no secret, so its files
/// are served without authentication, and the server checks every call it makes. Each answer
/// carries a strict Content-Security-Policy (scripts, styles and connections from this origin
/// only, no inline code, no framing, no form posts), `nosniff` and `no-referrer`.
enum Console {
    /// The policy of every console answer: only this origin's script and style sheet run, the
    /// app may talk only to this origin, and nothing inline (an injected `<script>` is inert).
    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// One file of the app: its path, content type and bytes.
    struct Asset: Sendable {
        let path: String
        let contentType: String
        let body: ByteBuffer
    }

    static let assets = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", body: ByteBuffer(string: indexHTML)),
        Asset(path: "/console/app.js", contentType: "text/javascript; charset=utf-8", body: ByteBuffer(string: appScript)),
        Asset(path: "/console/app.css", contentType: "text/css; charset=utf-8", body: ByteBuffer(string: appStyle)),
    ]

    /// The headers of a console answer.
    static func headers(contentType: String) -> HTTPFields {
        var headers: HTTPFields = [.contentType: contentType]
        headers[HTTPField.Name("Content-Security-Policy")!] = contentSecurityPolicy
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        // Revalidated on every load, so a new gateway binary's console is used at once.
        headers[.cacheControl] = "no-cache"
        return headers
    }

    /// Adds the console's routes to `router`.
    static func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        for asset in assets {
            router.get(RouterPath(asset.path)) { _, _ -> Response in
                Response(status: .ok, headers: headers(contentType: asset.contentType), body: ResponseBody(byteBuffer: asset.body))
            }
        }
    }
}
