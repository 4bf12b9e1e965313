using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine;
using UnityEngine.Networking;

namespace VrStream.Client.Unity
{
    /// <summary>
    /// <see cref="IHttpTransport"/> over UnityWebRequest (Unity's own TLS and proxy settings on
    /// Android). UnityWebRequest lives on the main thread, so each request is posted there; the
    /// returned task completes on the thread pool. File bodies stream from disk
    /// (<see cref="UploadHandlerFile"/>).
    /// </summary>
    public sealed class UnityWebRequestTransport : IHttpTransport
    {
        private readonly SynchronizationContext _mainThread;
        private readonly MainThreadPump _pump;

        /// <param name="mainThread">Unity's main-thread context (<c>SynchronizationContext.Current</c> in Awake).</param>
        /// <param name="pump">Calls progress reporters every frame.</param>
        public UnityWebRequestTransport(SynchronizationContext mainThread, MainThreadPump pump)
        {
            if (mainThread == null) throw new ArgumentNullException(nameof(mainThread));
            if (pump == null) throw new ArgumentNullException(nameof(pump));
            _mainThread = mainThread;
            _pump = pump;
        }

        public Task<TransportResponse> SendAsync(TransportRequest request, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<TransportResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled();
                return done.Task;
            }
            _mainThread.Post(_ => Start(request, done, cancellationToken), null);
            return done.Task;
        }

        private void Start(TransportRequest request, TaskCompletionSource<TransportResponse> done, CancellationToken cancellationToken)
        {
            UnityWebRequest web;
            try
            {
                web = Build(request);
            }
            catch (Exception error)
            {
                done.TrySetException(error);
                return;
            }
            var registration = cancellationToken.Register(() => _mainThread.Post(_ => web.Abort(), null));
            Action poll = null;
            if (request.UploadProgress != null)
            {
                var last = -1L;
                poll = () =>
                {
                    var sent = (long)web.uploadedBytes;
                    if (sent == last) return;
                    last = sent;
                    request.UploadProgress.Report(sent);
                };
                _pump.Add(poll);
            }
            var operation = web.SendWebRequest();
            operation.completed += _ =>
            {
                if (poll != null)
                {
                    poll();
                    _pump.Remove(poll);
                }
                registration.Dispose();
                try
                {
                    if (cancellationToken.IsCancellationRequested) done.TrySetCanceled();
                    else if (web.result == UnityWebRequest.Result.ConnectionError || web.result == UnityWebRequest.Result.DataProcessingError)
                    {
                        // Includes web.timeout expiring. The error text names the cause, never the URL's query.
                        done.TrySetException(new TransportException("The request got no response: " + web.error));
                    }
                    else
                    {
                        var headers = web.GetResponseHeaders() ?? new Dictionary<string, string>();
                        done.TrySetResult(new TransportResponse((int)web.responseCode, headers, web.downloadHandler.data));
                    }
                }
                finally
                {
                    web.Dispose();
                }
            };
        }

        private static UnityWebRequest Build(TransportRequest request)
        {
            var web = new UnityWebRequest(request.Uri, request.Method)
            {
                downloadHandler = new DownloadHandlerBuffer(),
                redirectLimit = 0,
                // Whole seconds, at least one; 0 would mean no timeout at all.
                timeout = Math.Max(1, (int)Math.Ceiling(request.Timeout.TotalSeconds)),
            };
            if (request.BodyFilePath != null) web.uploadHandler = new UploadHandlerFile(request.BodyFilePath);
            else if (request.Body != null) web.uploadHandler = new UploadHandlerRaw(request.Body);
            foreach (var header in request.Headers)
            {
                if (web.uploadHandler != null && string.Equals(header.Key, "content-type", StringComparison.OrdinalIgnoreCase))
                {
                    web.uploadHandler.contentType = header.Value;
                }
                web.SetRequestHeader(header.Key, header.Value);
            }
            return web;
        }
    }
}
