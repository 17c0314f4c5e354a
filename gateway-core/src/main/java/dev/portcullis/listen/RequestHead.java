package dev.portcullis.listen;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.net.InetSocketAddress;

/**
 * A request's head, read once when it arrives: the first value of the request path. Immutable: the headers
 * are a copy of what the decoder produced, never changed afterwards.
 *
 * @param method      the request method
 * @param uri         the request target as sent (origin-form: path and query)
 * @param path        the raw path (the target up to {@code ?})
 * @param rawQuery    the raw query (after {@code ?}), or null when there is none
 * @param headers     the request headers
 * @param peer        the client's address (null if unknown)
 * @param secure      whether the request arrived over TLS
 * @param tlsProtocol the negotiated TLS protocol ({@code TLSv1.3}), or null for plain HTTP
 * @param clientCertificate the connection's client certificate (mutual TLS), or null
 * @param keepAlive   whether the connection may carry another request after this one
 */
public record RequestHead(HttpMethod method, String uri, String path, String rawQuery, HttpHeaders headers,
                          InetSocketAddress peer, boolean secure, String tlsProtocol, ClientCertificate clientCertificate,
                          boolean keepAlive) {

    static RequestHead of(HttpRequest request, InetSocketAddress peer, String tlsProtocol, ClientCertificate clientCertificate,
                          boolean keepAlive) {
        String uri = request.uri();
        int q = uri.indexOf('?');
        return new RequestHead(request.method(), uri, q < 0 ? uri : uri.substring(0, q), q < 0 ? null : uri.substring(q + 1),
                request.headers().copy(), peer, tlsProtocol != null, tlsProtocol, clientCertificate, keepAlive);
    }

    /** A head built by hand (unit tests of the stages, which need no socket). */
    public static RequestHead of(HttpMethod method, String uri, HttpHeaders headers) {
        int q = uri.indexOf('?');
        return new RequestHead(method, uri, q < 0 ? uri : uri.substring(0, q), q < 0 ? null : uri.substring(q + 1),
                headers.copy(), new InetSocketAddress("127.0.0.1", 40000), false, null, null, true);
    }

    /** The same head as if it arrived over TLS with {@code certificate} (unit tests of sender-constrained tokens). */
    public RequestHead withClientCertificate(ClientCertificate certificate) {
        return new RequestHead(method, uri, path, rawQuery, headers, peer, true, "TLSv1.3", certificate, keepAlive);
    }

    /** The first value of a header, or null. */
    public String header(String name) {
        return headers.get(name);
    }

    /** The caller's IP address as text, or null. */
    public String clientAddress() {
        return peer != null && peer.getAddress() != null ? peer.getAddress().getHostAddress() : null;
    }
}
