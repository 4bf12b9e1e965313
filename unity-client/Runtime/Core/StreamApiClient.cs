using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>Settings and collaborators of <see cref="StreamApiClient"/>.</summary>
    public sealed class StreamApiOptions
    {
        /// <summary>The functions' base, <c>{SUPABASE_URL}/functions/v1/</c>. Required.</summary>
        public Uri FunctionsUrl { get; set; }

        /// <summary>Supplies and refreshes the user's access token. Required.</summary>
        public SupabaseSessionManager Auth { get; set; }

        /// <summary>How requests are sent. Required.</summary>
        public IHttpTransport Transport { get; set; }

        /// <summary>Default: <see cref="SystemClock"/>.</summary>
        public IClock Clock { get; set; }

        /// <summary>Jitter of retry waits. Default: <see cref="SystemRandomSource"/>.</summary>
        public IRandomSource Random { get; set; }

        /// <summary>Default: <see cref="RetryPolicy"/>'s defaults.</summary>
        public RetryPolicy Retry { get; set; }

        /// <summary>Bound on one call to a function. Default: 15 s.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

        /// <summary>Bound on one PUT of a recording's bytes. Default: 30 min.</summary>
        public TimeSpan UploadTimeout { get; set; } = TimeSpan.FromMinutes(30);
    }

    /// <summary>Options of <see cref="StreamApiClient.UploadRecordingAsync"/>.</summary>
    public sealed class UploadRecordingOptions
    {
        /// <summary>The session the recording belongs to (the caller's own). Required.</summary>
        public string SessionId { get; set; }

        /// <summary>The file to send; it is streamed from disk, never read whole. Required.</summary>
        public string FilePath { get; set; }

        /// <summary><c>video/mp4</c> or <c>video/webm</c>. Default: <c>video/mp4</c>.</summary>
        public string ContentType { get; set; } = "video/mp4";

        /// <summary>Bytes sent so far, as they go (from 0 again if the PUT is retried).</summary>
        public IProgress<long> Progress { get; set; }
    }

    /// <summary>
    /// The headset's client of the functions, as <c>API.md</c> describes them: every call
    /// carries the user's access token (refreshed once after a 401), is retried with backoff
    /// and jitter after network errors, 5xx and 429 (waiting what <c>Retry-After</c> says), and
    /// fails with <see cref="ApiException"/>. Thread-safe.
    /// </summary>
    public sealed class StreamApiClient
    {
        /// <summary>The contract's upload limit: 500 MiB.</summary>
        public const long MaxUploadBytes = 524288000;

        private static readonly Regex StorageErrorCode = new Regex("<Code>([A-Za-z]+)</Code>");
        private readonly StreamApiOptions _options;
        private readonly Uri _functionsUrl;
        private readonly IClock _clock;
        private readonly IRandomSource _random;
        private readonly RetryPolicy _retry;

        public StreamApiClient(StreamApiOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (options.FunctionsUrl == null) throw new ArgumentException("Cannot call the functions: FunctionsUrl is not set.", nameof(options));
            if (options.Auth == null) throw new ArgumentException("Cannot call the functions: Auth is not set.", nameof(options));
            if (options.Transport == null) throw new ArgumentException("Cannot call the functions: Transport is not set.", nameof(options));
            _options = options;
            var url = options.FunctionsUrl.ToString();
            _functionsUrl = new Uri(url.EndsWith("/", StringComparison.Ordinal) ? url : url + "/");
            _clock = options.Clock ?? SystemClock.Instance;
            _random = options.Random ?? new SystemRandomSource();
            _retry = options.Retry ?? new RetryPolicy();
        }

        /// <summary>
        /// start-session: a new session and the publisher grant for its room. Every attempt
        /// carries the same <c>Idempotency-Key</c>, so a retry after a lost response returns the
        /// session the first attempt made instead of a second one.
        /// </summary>
        public async Task<SessionGrant> StartSessionAsync(StartSessionOptions options, CancellationToken cancellationToken)
        {
            options = options ?? new StartSessionOptions();
            var body = new Dictionary<string, object> { { "record", options.Record } };
            if (options.Title != null) body["title"] = options.Title;
            if (options.Client != null)
            {
                var client = new Dictionary<string, object>();
                if (options.Client.Platform != null) client["platform"] = options.Client.Platform;
                if (options.Client.AppVersion != null) client["appVersion"] = options.Client.AppVersion;
                if (options.Client.Device != null) client["device"] = options.Client.Device;
                body["client"] = client;
            }
            var key = options.IdempotencyKey ?? NewKey();
            var json = await CallAsync(new Call("POST", "start-session") { Body = body, IdempotencyKey = key }, cancellationToken).ConfigureAwait(false);
            return ReadSessionGrant(json);
        }

        /// <summary>end-session: ends the caller's session for good (idempotent).</summary>
        public async Task<StreamSession> EndSessionAsync(string sessionId, CancellationToken cancellationToken)
        {
            var json = await CallAsync(new Call("POST", "end-session") { Body = SessionBody(sessionId) }, cancellationToken).ConfigureAwait(false);
            return Read(json, j => StreamSession.FromJson(JsonFields.RequiredObject(j, "session")));
        }

        /// <summary>livekit-token: a fresh grant for the session's room (to rejoin after a pause or a drop).</summary>
        public async Task<SessionGrant> GetLiveKitTokenAsync(string sessionId, CancellationToken cancellationToken)
        {
            var json = await CallAsync(new Call("POST", "livekit-token") { Body = SessionBody(sessionId) }, cancellationToken).ConfigureAwait(false);
            return ReadSessionGrant(json);
        }

        /// <summary>streams: the starting and live sessions the caller may see, newest first.</summary>
        public async Task<IReadOnlyList<StreamSession>> ListStreamsAsync(CancellationToken cancellationToken)
        {
            var json = await CallAsync(new Call("GET", "streams"), cancellationToken).ConfigureAwait(false);
            return Read(json, j =>
            {
                var result = new List<StreamSession>();
                foreach (var item in JsonFields.RequiredArray(j, "streams")) result.Add(StreamSession.FromJson(AsObject(item, "streams[]")));
                return (IReadOnlyList<StreamSession>)result;
            });
        }

        /// <summary>streams?sessionId=: one session with its recordings.</summary>
        public async Task<SessionDetail> GetSessionAsync(string sessionId, CancellationToken cancellationToken)
        {
            RequireId(sessionId, nameof(sessionId));
            var call = new Call("GET", "streams?sessionId=" + Uri.EscapeDataString(sessionId));
            var json = await CallAsync(call, cancellationToken).ConfigureAwait(false);
            return Read(json, j =>
            {
                var recordings = new List<Recording>();
                foreach (var item in JsonFields.RequiredArray(j, "recordings")) recordings.Add(Recording.FromJson(AsObject(item, "recordings[]")));
                return new SessionDetail(StreamSession.FromJson(JsonFields.RequiredObject(j, "session")), recordings);
            });
        }

        /// <summary>sign-upload-url: a new upload recording and the signed PUT for its bytes.</summary>
        public async Task<SignedUpload> SignUploadUrlAsync(string sessionId, string contentType, long sizeBytes, CancellationToken cancellationToken)
        {
            var body = SessionBody(sessionId);
            body["contentType"] = contentType;
            body["sizeBytes"] = sizeBytes;
            var json = await CallAsync(new Call("POST", "sign-upload-url") { Body = body }, cancellationToken).ConfigureAwait(false);
            return Read(json, j => new SignedUpload(
                Recording.FromJson(JsonFields.RequiredObject(j, "recording")),
                UploadTarget.FromJson(JsonFields.RequiredObject(j, "upload"))));
        }

        /// <summary>complete-upload: the recording becomes <c>ready</c> once its object is in the bucket with the signed size.</summary>
        public async Task<Recording> CompleteUploadAsync(string recordingId, CancellationToken cancellationToken)
        {
            RequireId(recordingId, nameof(recordingId));
            var body = new Dictionary<string, object> { { "recordingId", recordingId } };
            var json = await CallAsync(new Call("POST", "complete-upload") { Body = body }, cancellationToken).ConfigureAwait(false);
            return Read(json, j => Recording.FromJson(JsonFields.RequiredObject(j, "recording")));
        }

        /// <summary>
        /// Uploads a local recording: sign-upload-url, the signed PUT streamed from disk (with
        /// exactly the headers the function signed), then complete-upload. Files over 500 MiB
        /// are refused before any request, as the server would refuse them.
        /// </summary>
        public async Task<Recording> UploadRecordingAsync(UploadRecordingOptions options, CancellationToken cancellationToken)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (string.IsNullOrEmpty(options.FilePath)) throw new ArgumentException("Cannot upload: FilePath is not set.", nameof(options));
            var size = new FileInfo(options.FilePath).Length;
            if (size > MaxUploadBytes)
            {
                throw new ApiException(413, "payload_too_large", "Cannot upload " + options.FilePath + ": it has " + size.ToString(CultureInfo.InvariantCulture) + " bytes, over the limit of " + MaxUploadBytes.ToString(CultureInfo.InvariantCulture) + ".");
            }
            var signed = await SignUploadUrlAsync(options.SessionId, options.ContentType, size, cancellationToken).ConfigureAwait(false);
            await PutAsync(signed.Upload, options, cancellationToken).ConfigureAwait(false);
            return await CompleteUploadAsync(signed.Recording.Id, cancellationToken).ConfigureAwait(false);
        }

        private async Task PutAsync(UploadTarget upload, UploadRecordingOptions options, CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                var request = new TransportRequest(upload.Method, new Uri(upload.Url))
                {
                    BodyFilePath = options.FilePath,
                    UploadProgress = options.Progress,
                    Timeout = _options.UploadTimeout,
                };
                foreach (var header in upload.Headers) request.Headers[header.Key] = header.Value;
                ApiException failure;
                try
                {
                    var response = await _options.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    if (response.IsSuccess) return;
                    // The URL creates its object only if absent: after a retry, 412 means the
                    // earlier attempt stored it and only its answer was lost. complete-upload
                    // then checks the stored size.
                    if (response.StatusCode == 412 && attempt > 1) return;
                    failure = StorageFailure(response);
                }
                catch (TransportException error)
                {
                    failure = new ApiException(0, ClientErrorCodes.NetworkError, "The upload got no answer: " + error.Message, null, null, null, error);
                }
                var delay = _retry.DelayBeforeRetry(attempt, failure, _random);
                if (!delay.HasValue) throw failure;
                await _clock.DelayAsync(delay.Value, cancellationToken).ConfigureAwait(false);
            }
        }

        private static ApiException StorageFailure(TransportResponse response)
        {
            var match = StorageErrorCode.Match(response.BodyText);
            var reason = match.Success ? match.Groups[1].Value : "no error code";
            return new ApiException(
                response.StatusCode,
                ClientErrorCodes.UploadFailed,
                "The storage service refused the upload with " + response.StatusCode.ToString(CultureInfo.InvariantCulture) + " (" + reason + ").",
                null,
                null,
                ApiException.ParseRetryAfter(response.GetHeader("retry-after")));
        }

        private sealed class Call
        {
            public Call(string method, string path)
            {
                Method = method;
                Path = path;
            }

            public string Method { get; private set; }
            public string Path { get; private set; }
            public IDictionary<string, object> Body { get; set; }
            public string IdempotencyKey { get; set; }
        }

        private async Task<IDictionary<string, object>> CallAsync(Call call, CancellationToken cancellationToken)
        {
            var uri = new Uri(_functionsUrl, call.Path);
            var payload = call.Body == null ? null : Encoding.UTF8.GetBytes(Json.Serialize(call.Body));
            var requestId = "unity-" + NewKey();
            var accessToken = await _options.Auth.GetAccessTokenAsync(cancellationToken).ConfigureAwait(false);
            var refreshed = false;
            var retry = 0;
            while (true)
            {
                var request = new TransportRequest(call.Method, uri) { Body = payload, Timeout = _options.RequestTimeout };
                request.Headers["authorization"] = "Bearer " + accessToken;
                request.Headers["x-request-id"] = requestId;
                if (payload != null) request.Headers["content-type"] = "application/json";
                if (call.IdempotencyKey != null) request.Headers["idempotency-key"] = call.IdempotencyKey;
                ApiException failure;
                try
                {
                    var response = await _options.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    if (response.IsSuccess) return ParseBody(response);
                    failure = ApiException.FromResponse(response);
                    if (response.StatusCode == 401 && !refreshed)
                    {
                        // One refresh, one more try: a second 401 is the caller's to handle.
                        refreshed = true;
                        var session = await _options.Auth.RefreshAsync(accessToken, cancellationToken).ConfigureAwait(false);
                        accessToken = session.AccessToken;
                        continue;
                    }
                }
                catch (TransportException error)
                {
                    failure = new ApiException(0, ClientErrorCodes.NetworkError, "Cannot reach " + call.Path.Split('?')[0] + ": " + error.Message, requestId, null, null, error);
                }
                retry++;
                var delay = _retry.DelayBeforeRetry(retry, failure, _random);
                if (!delay.HasValue) throw failure;
                await _clock.DelayAsync(delay.Value, cancellationToken).ConfigureAwait(false);
            }
        }

        private static IDictionary<string, object> ParseBody(TransportResponse response)
        {
            try
            {
                return Json.ParseObject(response.BodyText);
            }
            catch (FormatException error)
            {
                throw new ApiException(response.StatusCode, ClientErrorCodes.InvalidResponse, "The response is not a JSON object: " + error.Message, response.GetHeader("x-request-id"), null, null, error);
            }
        }

        private static T Read<T>(IDictionary<string, object> json, Func<IDictionary<string, object>, T> read)
        {
            try
            {
                return read(json);
            }
            catch (FormatException error)
            {
                throw new ApiException(200, ClientErrorCodes.InvalidResponse, error.Message, null, null, null, error);
            }
        }

        private static SessionGrant ReadSessionGrant(IDictionary<string, object> json)
        {
            return Read(json, j => new SessionGrant(
                StreamSession.FromJson(JsonFields.RequiredObject(j, "session")),
                LiveKitGrant.FromJson(JsonFields.RequiredObject(j, "livekit"))));
        }

        private static IDictionary<string, object> AsObject(object item, string name)
        {
            var dictionary = item as IDictionary<string, object>;
            if (dictionary == null) throw new FormatException("Cannot read the response: an item of '" + name + "' is not an object.");
            return dictionary;
        }

        private static Dictionary<string, object> SessionBody(string sessionId)
        {
            RequireId(sessionId, nameof(sessionId));
            return new Dictionary<string, object> { { "sessionId", sessionId } };
        }

        private static void RequireId(string id, string name)
        {
            // Only emptiness is checked here; the server decides what a valid id is.
            if (string.IsNullOrEmpty(id)) throw new ArgumentException("Cannot call the function: " + name + " is empty.", name);
        }

        private static string NewKey()
        {
            return Guid.NewGuid().ToString("N");
        }
    }
}
