using System;
using System.Collections.Generic;
using System.Globalization;

namespace VrStream.Client
{
    /// <summary>One field that failed validation (<c>details</c> of <c>400 invalid_request</c>).</summary>
    public sealed class FieldError
    {
        public FieldError(string path, string message)
        {
            Path = path;
            Message = message;
        }

        /// <summary>Dotted path of the field, such as <c>client.appVersion</c>; empty for the body.</summary>
        public string Path { get; private set; }
        public string Message { get; private set; }
    }

    /// <summary>The contract's named codes that the core acts on (the others come through as sent).</summary>
    public static class ContractErrorCodes
    {
        /// <summary><c>409</c>: the streamer already has a starting or live session; details name it.</summary>
        public const string SessionAlreadyLive = "session_already_live";
        /// <summary><c>409</c>: the session ended for good.</summary>
        public const string SessionEnded = "session_ended";
    }

    /// <summary>
    /// Codes this client uses for failures that did not come as the contract's error body.
    /// Server codes (<c>invalid_request</c>, <c>session_already_live</c>, …) come as sent.
    /// </summary>
    public static class ClientErrorCodes
    {
        /// <summary>No HTTP response: DNS, connection, TLS, a dropped response or a timeout.</summary>
        public const string NetworkError = "network_error";
        /// <summary>A response that is not the contract's shape (a proxy's HTML page, say).</summary>
        public const string InvalidResponse = "invalid_response";
        /// <summary>No stored Supabase session: the user must sign in.</summary>
        public const string SessionMissing = "session_missing";
        /// <summary>Supabase Auth refused the refresh token: the user must sign in again.</summary>
        public const string SessionExpired = "session_expired";
        /// <summary>Supabase Auth (or its gateway) refused the request itself with 401: check the project's API key.</summary>
        public const string AuthRejected = "auth_rejected";
        /// <summary>Supabase Auth answered 429 or 5xx to a refresh; worth another try later.</summary>
        public const string AuthUnavailable = "auth_unavailable";
        /// <summary>The storage service refused the signed PUT.</summary>
        public const string UploadFailed = "upload_failed";
    }

    /// <summary>
    /// Every failure of a call to the functions: the contract's error body
    /// (<c>{ "error": { code, message, requestId, details } }</c>) with the HTTP status and
    /// <c>Retry-After</c>, or one of <see cref="ClientErrorCodes"/> with status 0 when no
    /// response came.
    /// </summary>
    public sealed class ApiException : Exception
    {
        public ApiException(int statusCode, string code, string message, string requestId = null, object details = null, TimeSpan? retryAfter = null, Exception innerException = null)
            : base(message, innerException)
        {
            StatusCode = statusCode;
            Code = code;
            RequestId = requestId;
            Details = details;
            RetryAfter = retryAfter;
            FieldErrors = ReadFieldErrors(details);
        }

        /// <summary>The HTTP status, or 0 when no response came.</summary>
        public int StatusCode { get; private set; }
        /// <summary>The contract's snake_case code, or one of <see cref="ClientErrorCodes"/>.</summary>
        public string Code { get; private set; }
        /// <summary>The response's <c>x-request-id</c>: quote it when reporting a problem.</summary>
        public string RequestId { get; private set; }
        /// <summary>The error's <c>details</c> as parsed JSON (see <see cref="Json"/>), or null.</summary>
        public object Details { get; private set; }
        /// <summary>The fields <c>400 invalid_request</c> lists; empty otherwise.</summary>
        public IReadOnlyList<FieldError> FieldErrors { get; private set; }
        /// <summary>How long the server asked to wait (<c>Retry-After</c>), if it did.</summary>
        public TimeSpan? RetryAfter { get; private set; }

        /// <summary>Network errors, 5xx and 429: worth another try later. Other 4xx never are.</summary>
        public bool IsRetryable
        {
            get { return StatusCode == 0 && Code == ClientErrorCodes.NetworkError || StatusCode == 429 || StatusCode >= 500; }
        }

        public override string ToString()
        {
            return "ApiException " + StatusCode.ToString(CultureInfo.InvariantCulture) + " " + Code + ": " + Message
                + (RequestId != null ? " (request " + RequestId + ")" : "");
        }

        /// <summary>
        /// Reads an error response. A body in the contract's shape gives its code, message and
        /// details; anything else becomes <c>invalid_response</c> with the status.
        /// </summary>
        public static ApiException FromResponse(TransportResponse response)
        {
            var requestId = response.GetHeader("x-request-id");
            var retryAfter = ParseRetryAfter(response.GetHeader("retry-after"));
            try
            {
                var body = Json.ParseObject(response.BodyText);
                var error = JsonFields.RequiredObject(body, "error");
                object details;
                error.TryGetValue("details", out details);
                return new ApiException(
                    response.StatusCode,
                    JsonFields.RequiredString(error, "code"),
                    JsonFields.RequiredString(error, "message"),
                    JsonFields.OptionalString(error, "requestId") ?? requestId,
                    details,
                    retryAfter);
            }
            catch (FormatException)
            {
                return new ApiException(
                    response.StatusCode,
                    ClientErrorCodes.InvalidResponse,
                    "The server answered " + response.StatusCode.ToString(CultureInfo.InvariantCulture) + " without the contract's error body.",
                    requestId,
                    null,
                    retryAfter);
            }
        }

        /// <summary>Reads <c>Retry-After</c> in seconds (the contract's form); null when absent or malformed.</summary>
        public static TimeSpan? ParseRetryAfter(string value)
        {
            if (string.IsNullOrEmpty(value)) return null;
            double seconds;
            if (!double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out seconds)) return null;
            if (seconds < 0 || double.IsNaN(seconds) || double.IsInfinity(seconds)) return null;
            return TimeSpan.FromSeconds(seconds);
        }

        private static IReadOnlyList<FieldError> ReadFieldErrors(object details)
        {
            var result = new List<FieldError>();
            var list = details as IList<object>;
            if (list == null) return result;
            foreach (var item in list)
            {
                var entry = item as IDictionary<string, object>;
                if (entry == null) continue;
                object path;
                object message;
                entry.TryGetValue("path", out path);
                entry.TryGetValue("message", out message);
                if (path is string && message is string) result.Add(new FieldError((string)path, (string)message));
            }
            return result;
        }
    }
}
