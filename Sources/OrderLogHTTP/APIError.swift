import Hummingbird
import NIOCore
import OrderModel
import OrderStore

/// An error answer of the HTTP API: a status and a JSON body
/// `{"error":{"code":…,"message":…,"order_id":…,"field":…,"index":…}}` (docs/openapi.yaml,
/// `Error`). Every refusal names what was wrong and where; nothing is stored on any of them.
public struct APIError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var orderID: String?
    public var field: String?
    /// The event's index in the request's array, for a refused event.
    public var index: Int?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, orderID: String? = nil, field: String? = nil, index: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.orderID = orderID
        self.field = field
        self.index = index
    }

    /// An event refused: a form error (JSON, fields, limits) is 400, an `expected_version`
    /// that does not hold is 409, a lifecycle rule is 422 — each with the rule's code.
    init(_ error: OrderError, index: Int? = nil) {
        let status: HTTPResponse.Status = switch error.code {
        case .versionConflict: .conflict
        case .invalidJSON, .missingField, .invalidField, .unknownField, .unknownType, .invalidOrderID, .invalidTimestamp, .eventTooLarge,
             .unsupportedCodecVersion, .corruptPayload: .badRequest
        default: .unprocessableContent
        }
        self.init(status, error.code.rawValue, error.message, orderID: error.orderID, field: error.field, index: index)
    }

    init(_ error: StoreError) {
        if error.code == .rejected, let e = error.orderError {
            self.init(e, index: error.eventIndex)
        } else if error.code == .invalidArgument {
            self.init(.badRequest, "invalid_argument", error.message)
        } else if error.code == .notFound {
            self.init(.notFound, "not_found", error.message)
        } else {
            self.init(.internalServerError, "storage", error.message)
        }
    }

    static func notFound(_ what: String) -> APIError { APIError(.notFound, "not_found", what) }
    static func badParameter(_ name: String, _ why: String) -> APIError { APIError(.badRequest, "invalid_argument", "\(name): \(why)", field: name) }

    var json: String {
        var w = JSONWriter()
        w.raw("{\"error\":{\"code\":"); w.string(code)
        w.raw(",\"message\":"); w.string(message)
        if let orderID { w.raw(",\"order_id\":"); w.string(orderID) }
        if let field { w.raw(",\"field\":"); w.string(field) }
        if let index { w.raw(",\"index\":\(index)") }
        w.raw("}}")
        return w.text
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}
