using System;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>A Supabase session: the access token, its single-use refresh token and expiry.</summary>
    public sealed class AuthSession
    {
        public AuthSession(string accessToken, string refreshToken, DateTimeOffset expiresAt)
        {
            if (string.IsNullOrEmpty(accessToken)) throw new ArgumentException("An access token is required.", nameof(accessToken));
            if (string.IsNullOrEmpty(refreshToken)) throw new ArgumentException("A refresh token is required.", nameof(refreshToken));
            AccessToken = accessToken;
            RefreshToken = refreshToken;
            ExpiresAt = expiresAt;
        }

        public string AccessToken { get; private set; }
        public string RefreshToken { get; private set; }
        public DateTimeOffset ExpiresAt { get; private set; }

        /// <summary>Reads Supabase Auth's token response (<c>access_token</c>, <c>refresh_token</c>, <c>expires_at</c> or <c>expires_in</c>).</summary>
        public static AuthSession FromTokenResponse(string json, DateTimeOffset now)
        {
            var body = Json.ParseObject(json);
            var expiresAt = JsonFields.OptionalNumber(body, "expires_at");
            var expiresIn = JsonFields.OptionalNumber(body, "expires_in");
            DateTimeOffset expiry;
            if (expiresAt.HasValue) expiry = DateTimeOffset.FromUnixTimeSeconds((long)expiresAt.Value);
            else if (expiresIn.HasValue) expiry = now.AddSeconds(expiresIn.Value);
            else throw new FormatException("Cannot read the token response: it has neither expires_at nor expires_in.");
            return new AuthSession(
                JsonFields.RequiredString(body, "access_token"),
                JsonFields.RequiredString(body, "refresh_token"),
                expiry);
        }

        /// <summary>Says when it expires, without its tokens.</summary>
        public override string ToString()
        {
            return "AuthSession(expires " + ExpiresAt.ToString("o") + ")";
        }
    }

    /// <summary>
    /// Where the Supabase session lives between runs. On a device it must be encrypted at rest
    /// (the Unity package's Android Keystore store); never PlayerPrefs, which is plaintext.
    /// </summary>
    public interface ISessionStore
    {
        Task SaveAsync(AuthSession session, CancellationToken cancellationToken);

        /// <summary>The saved session, or null when there is none.</summary>
        Task<AuthSession> LoadAsync(CancellationToken cancellationToken);

        Task ClearAsync(CancellationToken cancellationToken);
    }

    /// <summary>A session kept in memory only (tests, the editor): gone when the process ends.</summary>
    public sealed class MemorySessionStore : ISessionStore
    {
        private AuthSession _session;

        public MemorySessionStore(AuthSession session = null)
        {
            _session = session;
        }

        /// <summary>How many times <see cref="SaveAsync"/> ran.</summary>
        public int SaveCount { get; private set; }

        public Task SaveAsync(AuthSession session, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _session = session;
            SaveCount++;
            return Task.FromResult(true);
        }

        public Task<AuthSession> LoadAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Task.FromResult(_session);
        }

        public Task ClearAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _session = null;
            return Task.FromResult(true);
        }
    }
}
