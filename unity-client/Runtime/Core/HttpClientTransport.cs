using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>
    /// <see cref="IHttpTransport"/> over <see cref="HttpClient"/>: what the tests use, and a
    /// fallback wherever UnityWebRequest is not wanted. File bodies stream from disk with
    /// progress; every request is bounded by its <see cref="TransportRequest.Timeout"/>.
    /// </summary>
    public sealed class HttpClientTransport : IHttpTransport, IDisposable
    {
        private const int CopyBufferBytes = 81920;
        private readonly HttpClient _client;

        public HttpClientTransport()
        {
            // Timeouts are per request (TransportRequest.Timeout), not the client's.
            _client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
            _client.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        }

        public async Task<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken)
        {
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            using (var message = BuildMessage(request))
            {
                if (request.Timeout > TimeSpan.Zero) timeout.CancelAfter(request.Timeout);
                try
                {
                    using (var response = await _client.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false))
                    {
                        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                        foreach (var header in response.Headers) headers[header.Key] = string.Join(", ", header.Value);
                        foreach (var header in response.Content.Headers) headers[header.Key] = string.Join(", ", header.Value);
                        return new TransportResponse((int)response.StatusCode, headers, body);
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TransportException("No response within " + request.Timeout.TotalSeconds + " s.");
                }
                catch (HttpRequestException error)
                {
                    throw new TransportException("The request got no response: " + error.Message, error);
                }
                catch (IOException error)
                {
                    throw new TransportException("The connection broke: " + error.Message, error);
                }
                catch (WebException error)
                {
                    throw new TransportException("The request got no response: " + error.Message, error);
                }
            }
        }

        public void Dispose()
        {
            _client.Dispose();
        }

        private static HttpRequestMessage BuildMessage(TransportRequest request)
        {
            var message = new HttpRequestMessage(new HttpMethod(request.Method), request.Uri);
            // No "Expect: 100-continue" round trip before each body.
            message.Headers.ExpectContinue = false;
            HttpContent content = null;
            if (request.BodyFilePath != null) content = new FileContent(request.BodyFilePath, request.UploadProgress);
            else if (request.Body != null) content = new ByteArrayContent(request.Body);
            foreach (var header in request.Headers)
            {
                if (content != null && IsContentHeader(header.Key))
                {
                    content.Headers.Remove(header.Key);
                    content.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
                else
                {
                    message.Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }
            message.Content = content;
            return message;
        }

        private static bool IsContentHeader(string name)
        {
            return name.StartsWith("content-", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>A file body with a known length (so the request carries Content-Length) and progress.</summary>
        private sealed class FileContent : HttpContent
        {
            private readonly string _path;
            private readonly IProgress<long> _progress;

            public FileContent(string path, IProgress<long> progress)
            {
                _path = path;
                _progress = progress;
                Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            }

            protected override async Task SerializeToStreamAsync(Stream stream, TransportContext context)
            {
                using (var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferBytes, true))
                {
                    var buffer = new byte[CopyBufferBytes];
                    long sent = 0;
                    int read;
                    while ((read = await file.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                    {
                        await stream.WriteAsync(buffer, 0, read).ConfigureAwait(false);
                        sent += read;
                        if (_progress != null) _progress.Report(sent);
                    }
                }
            }

            protected override bool TryComputeLength(out long length)
            {
                length = new FileInfo(_path).Length;
                return true;
            }
        }
    }
}
