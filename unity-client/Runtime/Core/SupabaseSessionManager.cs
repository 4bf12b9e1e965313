using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>Settings of <see cref="SupabaseSessionManager"/>.</summary>
    public sealed class SupabaseAuthOptions
    {
        /// <summary>The project URL, such as <c>https://abcd.supabase.co</c>.</summary>
        public Uri SupabaseUrl { get; set; }

        /// <summary>The project's publishable (anon) key, sent as <c>apikey</c>. Not a secret, but not a user token either.</summary>
        public string ApiKey { get; set; }

        /// <summary>Refresh this long before the access token expires. Default: 60 s.</summary>
        public TimeSpan RefreshMargin { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>Bound on one refresh request. Default: 15 s.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

        /// <summary>Where the session is kept. Required.</summary>
        public ISessionStore Store { get; set; }

        /// <summary>How requests are sent. Required.</summary>
        public IHttpTransport Transport { get; set; }

        /// <summary>Default: <see cref="SystemClock"/>.</summary>
        public IClock Clock { get; set; }

        /// <summary>Jitter of retry waits. Default: <see cref="SystemRandomSource"/>.</summary>
        public IRandomSource Random { get; set; }

        /// <summary>Retries of a refresh that got no answer, 429 or 5xx. Default: <see cref="RetryPolicy"/>'s defaults.</summary>
        public RetryPolicy Retry { get; set; }
    }

    /// <summary>
    /// Hands out a valid access token: refreshes through
    /// <c>POST {SUPABASE_URL}/auth/v1/token?grant_type=refresh_token</c> (with <c>apikey</c>)
    /// shortly before expiry or after a 401, one refresh at a time, and saves the new pair
    /// before anything uses it, since each refresh token works once.
    /// </summary>
    public sealed class SupabaseSessionManager
    {
        private readonly SupabaseAuthOptions _options;
        private readonly ISessionStore _store;
        private readonly IHttpTransport _transport;
        private readonly IClock _clock;
        private readonly IRandomSource _random;
        private readonly RetryPolicy _retry;
        private readonly SemaphoreSlim _refreshing = new SemaphoreSlim(1, 1);

        public SupabaseSessionManager(SupabaseAuthOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (options.SupabaseUrl == null) throw new ArgumentException("Cannot refresh sessions: SupabaseUrl is not set.", nameof(options));
            if (string.IsNullOrEmpty(options.ApiKey)) throw new ArgumentException("Cannot refresh sessions: ApiKey is not set.", nameof(options));
            if (options.Store == null) throw new ArgumentException("Cannot keep sessions: Store is not set.", nameof(options));
            if (options.Transport == null) throw new ArgumentException("Cannot refresh sessions: Transport is not set.", nameof(options));
            _options = options;
            _store = options.Store;
            _transport = options.Transport;
            _clock = options.Clock ?? SystemClock.Instance;
            _random = options.Random ?? new SystemRandomSource();
            _retry = options.Retry ?? new RetryPolicy();
        }

        /// <summary>Refreshes that reached Supabase Auth and succeeded, since this object was made.</summary>
        public int RefreshCount { get; private set; }

        /// <summary>Stores a session the app got by signing in.</summary>
        public Task SignInAsync(AuthSession session, CancellationToken cancellationToken)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            return _store.SaveAsync(session, cancellationToken);
        }

        /// <summary>Forgets the session (sign-out on this device).</summary>
        public Task SignOutAsync(CancellationToken cancellationToken)
        {
            return _store.ClearAsync(cancellationToken);
        }

        /// <summary>An access token valid for at least the refresh margin, refreshed first if needed.</summary>
        public async Task<string> GetAccessTokenAsync(CancellationToken cancellationToken)
        {
            var session = await LoadRequiredAsync(cancellationToken).ConfigureAwait(false);
            if (session.ExpiresAt - _options.RefreshMargin > _clock.UtcNow) return session.AccessToken;
            session = await RefreshAsync(session.AccessToken, cancellationToken).ConfigureAwait(false);
            return session.AccessToken;
        }

        /// <summary>
        /// Replaces <paramref name="rejectedAccessToken"/> (one the server refused with 401, or
        /// one about to expire). When another caller refreshed it meanwhile, returns that result
        /// instead of spending the refresh token again.
        /// </summary>
        public async Task<AuthSession> RefreshAsync(string rejectedAccessToken, CancellationToken cancellationToken)
        {
            await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var current = await LoadRequiredAsync(cancellationToken).ConfigureAwait(false);
                if (current.AccessToken != rejectedAccessToken) return current;
                var fresh = await RequestRefreshAsync(current.RefreshToken, cancellationToken).ConfigureAwait(false);
                // Saved before use: the old refresh token is spent, and a crash right after this
                // line must still find the new one.
                await _store.SaveAsync(fresh, cancellationToken).ConfigureAwait(false);
                RefreshCount++;
                return fresh;
            }
            finally
            {
                _refreshing.Release();
            }
        }

        private async Task<AuthSession> LoadRequiredAsync(CancellationToken cancellationToken)
        {
            var session = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
            if (session == null)
            {
                throw new ApiException(0, ClientErrorCodes.SessionMissing, "Cannot call the functions: nobody is signed in on this device.");
            }
            return session;
        }

        private async Task<AuthSession> RequestRefreshAsync(string refreshToken, CancellationToken cancellationToken)
        {
            var uri = new Uri(_options.SupabaseUrl, "auth/v1/token?grant_type=refresh_token");
            var body = new Dictionary<string, object> { { "refresh_token", refreshToken } };
            for (var attempt = 1; ; attempt++)
            {
                var request = new TransportRequest("POST", uri)
                {
                    Body = Encoding.UTF8.GetBytes(Json.Serialize(body)),
                    Timeout = _options.RequestTimeout,
                };
                request.Headers["apikey"] = _options.ApiKey;
                request.Headers["content-type"] = "application/json";
                ApiException failure;
                try
                {
                    var response = await _transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    if (response.IsSuccess)
                    {
                        try
                        {
                            return AuthSession.FromTokenResponse(response.BodyText, _clock.UtcNow);
                        }
                        catch (FormatException error)
                        {
                            throw new ApiException(response.StatusCode, ClientErrorCodes.InvalidResponse, "Supabase Auth's token response could not be read: " + error.Message, null, null, null, error);
                        }
                    }
                    failure = AuthFailure(response);
                }
                catch (TransportException error)
                {
                    // Supabase Auth accepts a refresh token again for a few seconds after its
                    // first use, so a refresh whose answer was lost can be repeated.
                    failure = new ApiException(0, ClientErrorCodes.NetworkError, "Supabase Auth could not be reached: " + error.Message, null, null, null, error);
                }
                if (failure.Code == ClientErrorCodes.AuthRejected) throw failure;
                if (!failure.IsRetryable)
                {
                    // A refused refresh token will never work again: sign-in is the only way on.
                    await _store.ClearAsync(cancellationToken).ConfigureAwait(false);
                    throw failure;
                }
                var delay = _retry.DelayBeforeRetry(attempt, failure, _random);
                if (!delay.HasValue) throw failure;
                await _clock.DelayAsync(delay.Value, cancellationToken).ConfigureAwait(false);
            }
        }

        private static ApiException AuthFailure(TransportResponse response)
        {
            var retryAfter = ApiException.ParseRetryAfter(response.GetHeader("retry-after"));
            if (response.StatusCode == 429 || response.StatusCode >= 500)
            {
                return new ApiException(response.StatusCode, ClientErrorCodes.AuthUnavailable, "Supabase Auth could not refresh the session now (status " + response.StatusCode + ").", null, null, retryAfter);
            }
            if (response.StatusCode == 401)
            {
                // The API gateway's answer to a missing or wrong apikey: the app's configuration,
                // not the user's session, is at fault, so the session is kept.
                return new ApiException(401, ClientErrorCodes.AuthRejected, "Supabase Auth refused the request (status 401): check the project's API key.", response.GetHeader("x-request-id"));
            }
            return new ApiException(response.StatusCode, ClientErrorCodes.SessionExpired, "Supabase Auth refused the refresh token (status " + response.StatusCode + "): sign in again.", response.GetHeader("x-request-id"), null, retryAfter);
        }
    }
}
