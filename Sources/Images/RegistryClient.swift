import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OCISpec

/// A client of one registry speaking the OCI distribution spec (Docker Registry HTTP API V2), over URLSession
/// (libcurl, shipped with the toolchain): anonymous and bearer-token auth from `WWW-Authenticate` challenges,
/// basic auth with saved credentials, https, or http for `--insecure` and loopback registries.
final class RegistryClient: @unchecked Sendable {
    let registry: String
    let base: URL
    let credentials: CredentialStore.Credentials?
    let timeout: TimeInterval
    private let session: URLSession
    private let lock = NSLock()
    private var authorization: [String: String] = [:]   // scope → header value

    struct Options: Sendable {
        var insecure = false
        var timeout: TimeInterval = 30
    }

    init(registry: String, credentials: CredentialStore.Credentials?, options: Options) throws(ImageError) {
        self.registry = registry
        self.credentials = credentials
        self.timeout = options.timeout
        let host = registry == ImageReference.defaultRegistry ? "registry-1.docker.io" : registry
        let loopback = host.hasPrefix("localhost") || host.hasPrefix("127.") || host.hasPrefix("[::1]")
        let scheme = options.insecure || loopback ? "http" : "https"
        guard let url = URL(string: "\(scheme)://\(host)/v2/") else {
            throw ImageError("contact registry", registry, "not a valid host")
        }
        base = url
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = options.timeout
        configuration.timeoutIntervalForResource = 24 * 3600
        configuration.httpMaximumConnectionsPerHost = 6
        session = URLSession(configuration: configuration, delegate: BasicAuthDelegate(credentials: credentials),
                             delegateQueue: nil)
    }

    deinit { session.finishTasksAndInvalidate() }

    static func scope(_ repository: String) -> String { "repository:\(repository):pull" }

    /// GET (or HEAD) with auth; a 401 answers one challenge and retries once.
    func get(_ path: String, scope: String?, accept: [String] = []) async throws -> (Data, HTTPURLResponse) {
        var retried = false
        while true {
            let request = try makeRequest(path, scope: scope, accept: accept)
            let (data, response) = try await perform(request)
            if response.statusCode == 401 && !retried {
                retried = true
                try await answer(challenge: response.value(forHTTPHeaderField: "WWW-Authenticate"), scope: scope)
                continue
            }
            return (data, response)
        }
    }

    func makeRequest(_ path: String, scope: String?, accept: [String]) throws(ImageError) -> URLRequest {
        guard let url = path.isEmpty ? base : URL(string: base.absoluteString + path) else {
            throw ImageError("request", path, "invalid URL")
        }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        if !accept.isEmpty { request.setValue(accept.joined(separator: ", "), forHTTPHeaderField: "Accept") }
        if let header = lock.withLock({ authorization[scope ?? ""] }) {
            request.setValue(header, forHTTPHeaderField: "Authorization")
        }
        return request
    }

    func perform(_ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw describe(error)
        }
        guard let http = response as? HTTPURLResponse else {
            throw ImageError("contact registry", registry, "not an HTTP response")
        }
        return (data, http)
    }

    /// A transport error as an ImageError; a cancelled request is a Basic challenge BasicAuthDelegate declined.
    func describe(_ error: any Error) -> ImageError {
        if let error = error as? URLError, error.code == .cancelled {
            return ImageError("authenticate", registry, credentials == nil
                ? "registry requires a login (berth login \(registry))" : "registry refused the saved login (401)")
        }
        return ImageError("contact registry", registry, RegistryClient.describe(error))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? URLError {
            switch error.code {
            case .timedOut: return "timed out waiting for the registry"
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost: return "unknown host"
            default: return error.localizedDescription
            }
        }
        return "\(error)"
    }

    /// Gets a bearer token (with basic credentials when saved) or uses basic auth, as the challenge asks.
    func answer(challenge header: String?, scope: String?) async throws {
        guard let header, let challenge = AuthChallenge(header: header) else {
            throw ImageError("authenticate", registry, "401 Unauthorized without a WWW-Authenticate challenge")
        }
        switch challenge.scheme {
        case "basic":
            guard let credentials else {
                throw ImageError("authenticate", registry, "registry requires a login (berth login \(registry))")
            }
            lock.withLock { authorization[scope ?? ""] = credentials.basicHeader }
        case "bearer":
            guard let realm = challenge.parameters["realm"], var components = URLComponents(string: realm) else {
                throw ImageError("authenticate", registry, "bearer challenge without a realm")
            }
            var query = components.queryItems ?? []
            if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
            if let wanted = challenge.parameters["scope"] ?? scope { query.append(URLQueryItem(name: "scope", value: wanted)) }
            components.queryItems = query
            guard let url = components.url else { throw ImageError("authenticate", realm, "invalid token URL") }
            var request = URLRequest(url: url)
            request.timeoutInterval = timeout
            if let credentials { request.setValue(credentials.basicHeader, forHTTPHeaderField: "Authorization") }
            let (data, response) = try await perform(request)
            guard response.statusCode == 200 else {
                throw ImageError("authenticate", registry, "token server answered \(response.statusCode)"
                                 + (credentials == nil ? " (berth login may be needed)" : " (check the saved login)"))
            }
            struct TokenResponse: Decodable { var token: String?; var access_token: String? }
            guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: data),
                  let token = decoded.token ?? decoded.access_token, !token.isEmpty else {
                throw ImageError("authenticate", registry, "token server sent no token")
            }
            lock.withLock { authorization[scope ?? ""] = "Bearer " + token }
        default:
            throw ImageError("authenticate", registry, "unsupported auth scheme \(challenge.scheme)")
        }
    }

    /// `GET /v2/`: checks the registry is there and the credentials work (for `berth login`).
    func ping() async throws {
        let (data, response) = try await get("", scope: nil)
        guard response.statusCode == 200 else { throw failure("ping", "/v2/", response, data) }
    }

    /// The error for a non-2xx answer, with the distribution spec's error message when the body has one.
    func failure(_ operation: String, _ subject: String, _ response: HTTPURLResponse, _ body: Data) -> ImageError {
        struct Errors: Decodable {
            struct Item: Decodable { var code: String?; var message: String? }
            var errors: [Item]?
        }
        var reason = "registry answered \(response.statusCode) \(HTTPURLResponse.localizedString(forStatusCode: response.statusCode))"
        if let decoded = try? JSONDecoder().decode(Errors.self, from: body), let first = decoded.errors?.first {
            reason += ": " + [first.code, first.message].compactMap { $0 }.joined(separator: " ")
        }
        if response.statusCode == 401 { reason += " (berth login may be needed)" }
        return ImageError(operation, subject, reason)
    }

    /// Streams a blob into `writer` (which verifies the digest), reporting bytes received.
    func download(repository: String, digest: Digest, into writer: BlobWriter,
                  progress: @escaping @Sendable (Int64) -> Void) async throws {
        let scope = RegistryClient.scope(repository)
        var retried = false
        var attempt = 1
        while true {
            let request = try makeRequest("\(repository)/blobs/\(digest)", scope: scope, accept: [])
            let delegate = BlobStreamDelegate(writer: writer, credentials: credentials, progress: progress)
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = timeout
            let blobSession = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
            let outcome = await delegate.run(session: blobSession, request: request)
            blobSession.finishTasksAndInvalidate()
            switch outcome {
            case .success:
                return
            case .status(let response, let body):
                if response.statusCode == 401 && !retried {
                    retried = true
                    try await answer(challenge: response.value(forHTTPHeaderField: "WWW-Authenticate"), scope: scope)
                    continue
                }
                if response.statusCode >= 500 && attempt < RegistryClient.blobAttempts {
                    try await startOver(writer, attempt: &attempt, progress: progress)
                    continue
                }
                throw failure("pull blob", digest.description, response, body)
            case .failed(let error):
                if let error = error as? ImageError { throw error }
                if RegistryClient.isTransient(error) && attempt < RegistryClient.blobAttempts {
                    try await startOver(writer, attempt: &attempt, progress: progress)
                    continue
                }
                throw describe(error)
            }
        }
    }
}

extension RegistryClient {
    /// A blob download that fails with a 5xx or a dropped connection is tried again from the start, up to 3 times.
    static let blobAttempts = 3

    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? URLError else { return false }
        return [.networkConnectionLost, .cannotConnectToHost, .notConnectedToInternet, .badServerResponse]
            .contains(error.code)
    }

    func startOver(_ writer: BlobWriter, attempt: inout Int, progress: @Sendable (Int64) -> Void) async throws {
        progress(-writer.written)   // the progress display counts down what is thrown away
        try writer.reset()
        try await Task.sleep(nanoseconds: UInt64(attempt) * 300_000_000)
        attempt += 1
    }
}

/// Answers HTTP Basic challenges, which URLSession (libcurl) handles itself rather than returning the 401: with the
/// saved credentials once, else by cancelling, which `RegistryClient.describe` turns into a login error. (Without a
/// delegate, URLSession on Linux waits forever on a Basic 401.) Bearer challenges reach the client as 401s.
final class BasicAuthDelegate: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    let credentials: CredentialStore.Credentials?

    init(credentials: CredentialStore.Credentials?) { self.credentials = credentials }

    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        BasicAuthDelegate.answer(challenge, credentials: credentials, completionHandler: completionHandler)
    }

    static func answer(_ challenge: URLAuthenticationChallenge, credentials: CredentialStore.Credentials?,
                       completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        guard challenge.protectionSpace.authenticationMethod == NSURLAuthenticationMethodHTTPBasic else {
            completionHandler(.performDefaultHandling, nil)
            return
        }
        if let credentials, challenge.previousFailureCount == 0 {
            completionHandler(.useCredential, URLCredential(user: credentials.username, password: credentials.password,
                                                            persistence: .none))
        } else {
            completionHandler(.cancelAuthenticationChallenge, nil)
        }
    }
}

/// Receives one blob's bytes as they arrive and writes them to a `BlobWriter`. (Not a subclass of
/// BasicAuthDelegate: protocol methods a subclass adds are not witnesses of the base class's conformance.)
final class BlobStreamDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    enum Outcome {
        case success
        case status(HTTPURLResponse, Data)
        case failed(any Error)
    }

    private let writer: BlobWriter
    private let credentials: CredentialStore.Credentials?
    private let progress: @Sendable (Int64) -> Void
    private let lock = NSLock()
    private var response: HTTPURLResponse?
    private var errorBody = Data()
    private var writeError: ImageError?
    private var continuation: CheckedContinuation<Outcome, Never>?

    init(writer: BlobWriter, credentials: CredentialStore.Credentials?, progress: @escaping @Sendable (Int64) -> Void) {
        self.writer = writer; self.progress = progress; self.credentials = credentials
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                    completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        BasicAuthDelegate.answer(challenge, credentials: credentials, completionHandler: completionHandler)
    }

    func run(session: URLSession, request: URLRequest) async -> Outcome {
        await withCheckedContinuation { continuation in
            lock.withLock { self.continuation = continuation }
            session.dataTask(with: request).resume()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { self.response = response as? HTTPURLResponse }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let ok = lock.withLock { () -> Bool in
            guard writeError == nil else { return false }
            guard let response, response.statusCode == 200 else {
                if errorBody.count < 65536 { errorBody.append(data) }
                return true
            }
            do throws(ImageError) {
                var failure: ImageError?
                data.withUnsafeBytes { buffer in
                    do throws(ImageError) { try writer.write(buffer) } catch { failure = error }
                }
                if let failure { throw failure }
            } catch {
                writeError = error
                return false
            }
            return true
        }
        if ok { progress(Int64(data.count)) } else { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (continuation, outcome) = lock.withLock { () -> (CheckedContinuation<Outcome, Never>?, Outcome) in
            let continuation = self.continuation
            self.continuation = nil
            if let writeError { return (continuation, .failed(writeError)) }
            if let error { return (continuation, .failed(error)) }
            guard let response else { return (continuation, .failed(ImageError("pull blob", "", "no response"))) }
            if response.statusCode != 200 { return (continuation, .status(response, errorBody)) }
            return (continuation, .success)
        }
        continuation?.resume(returning: outcome)
    }
}
