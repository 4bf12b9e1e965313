using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>One HTTP request as the core builds it; a transport sends it as it is.</summary>
    public sealed class TransportRequest
    {
        public TransportRequest(string method, Uri uri)
        {
            Method = method;
            Uri = uri;
            Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        }

        public string Method { get; private set; }
        public Uri Uri { get; private set; }
        /// <summary>Request headers, <c>content-type</c> included.</summary>
        public IDictionary<string, string> Headers { get; private set; }
        /// <summary>An in-memory body, or null.</summary>
        public byte[] Body { get; set; }
        /// <summary>A file streamed from disk as the body (uploads), or null.</summary>
        public string BodyFilePath { get; set; }
        /// <summary>Bytes of the body sent so far, reported as they go (file bodies).</summary>
        public IProgress<long> UploadProgress { get; set; }
        /// <summary>Bound on the whole exchange; the transport fails with a network error after it.</summary>
        public TimeSpan Timeout { get; set; }
    }

    /// <summary>A response: status, headers (case-insensitive) and the whole body.</summary>
    public sealed class TransportResponse
    {
        private readonly IDictionary<string, string> _headers;

        public TransportResponse(int statusCode, IDictionary<string, string> headers, byte[] body)
        {
            StatusCode = statusCode;
            _headers = new Dictionary<string, string>(headers ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
            Body = body ?? new byte[0];
        }

        public int StatusCode { get; private set; }
        public byte[] Body { get; private set; }

        public string BodyText
        {
            get { return Encoding.UTF8.GetString(Body); }
        }

        public bool IsSuccess
        {
            get { return StatusCode >= 200 && StatusCode < 300; }
        }

        /// <summary>A header's value, or null.</summary>
        public string GetHeader(string name)
        {
            string value;
            return _headers.TryGetValue(name, out value) ? value : null;
        }
    }

    /// <summary>
    /// Sends HTTP requests. <see cref="HttpClientTransport"/> is the plain .NET one; the Unity
    /// adapter uses UnityWebRequest. A transport returns every response it receives, whatever
    /// its status, throws <see cref="TransportException"/> when none came (connection, TLS,
    /// timeout, a dropped response) and <see cref="OperationCanceledException"/> when the
    /// token is cancelled.
    /// </summary>
    public interface IHttpTransport
    {
        Task<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken);
    }

    /// <summary>No response came: the request may or may not have reached the server.</summary>
    public sealed class TransportException : Exception
    {
        public TransportException(string message, Exception innerException = null) : base(message, innerException)
        {
        }
    }
}
