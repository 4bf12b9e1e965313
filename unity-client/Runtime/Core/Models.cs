using System;
using System.Collections.Generic;

namespace VrStream.Client
{
    /// <summary>A session as the contract's <c>Session</c> object describes it.</summary>
    public sealed class StreamSession
    {
        public string Id { get; private set; }
        public string StreamerId { get; private set; }
        public string Title { get; private set; }
        /// <summary><c>starting</c>, <c>live</c> or <c>ended</c>.</summary>
        public string Status { get; private set; }
        /// <summary>Null, or <c>streamer_ended</c>, <c>room_finished</c>, <c>abandoned</c>, <c>failed</c>.</summary>
        public string EndReason { get; private set; }
        public string RoomName { get; private set; }
        public DateTimeOffset CreatedAt { get; private set; }
        public DateTimeOffset? StartedAt { get; private set; }
        public DateTimeOffset? EndedAt { get; private set; }
        public double? DurationSeconds { get; private set; }
        public int CurrentViewers { get; private set; }
        public int PeakViewers { get; private set; }
        public int TotalViewers { get; private set; }
        public bool RecordingEnabled { get; private set; }
        /// <summary>Null, or <c>pending</c>, <c>recording</c>, <c>processing</c>, <c>ready</c>, <c>failed</c>.</summary>
        public string RecordingStatus { get; private set; }

        public bool IsEnded
        {
            get { return Status == "ended"; }
        }

        internal static StreamSession FromJson(IDictionary<string, object> json)
        {
            var viewers = JsonFields.RequiredObject(json, "viewers");
            var recording = JsonFields.RequiredObject(json, "recording");
            return new StreamSession
            {
                Id = JsonFields.RequiredString(json, "id"),
                StreamerId = JsonFields.RequiredString(json, "streamerId"),
                Title = JsonFields.OptionalString(json, "title"),
                Status = JsonFields.RequiredString(json, "status"),
                EndReason = JsonFields.OptionalString(json, "endReason"),
                RoomName = JsonFields.RequiredString(json, "roomName"),
                CreatedAt = JsonFields.RequiredTime(json, "createdAt"),
                StartedAt = JsonFields.OptionalTime(json, "startedAt"),
                EndedAt = JsonFields.OptionalTime(json, "endedAt"),
                DurationSeconds = JsonFields.OptionalNumber(json, "durationSeconds"),
                CurrentViewers = (int)JsonFields.RequiredLong(viewers, "current"),
                PeakViewers = (int)JsonFields.RequiredLong(viewers, "peak"),
                TotalViewers = (int)JsonFields.RequiredLong(viewers, "total"),
                RecordingEnabled = JsonFields.RequiredBool(recording, "enabled"),
                RecordingStatus = JsonFields.OptionalString(recording, "status"),
            };
        }
    }

    /// <summary>A LiveKit grant as start-session and livekit-token return it.</summary>
    public sealed class LiveKitGrant
    {
        /// <summary>The LiveKit server, <c>wss://…</c>.</summary>
        public string Url { get; private set; }
        /// <summary>The access token to join with. Never log it.</summary>
        public string Token { get; private set; }
        public string RoomName { get; private set; }
        public string Identity { get; private set; }
        public DateTimeOffset ExpiresAt { get; private set; }
        public bool CanPublish { get; private set; }

        internal static LiveKitGrant FromJson(IDictionary<string, object> json)
        {
            return new LiveKitGrant
            {
                Url = JsonFields.RequiredString(json, "url"),
                Token = JsonFields.RequiredString(json, "token"),
                RoomName = JsonFields.RequiredString(json, "roomName"),
                Identity = JsonFields.RequiredString(json, "identity"),
                ExpiresAt = JsonFields.RequiredTime(json, "expiresAt"),
                CanPublish = JsonFields.RequiredBool(json, "canPublish"),
            };
        }

        /// <summary>Says what it is without its token.</summary>
        public override string ToString()
        {
            return "LiveKitGrant(" + Identity + " in " + RoomName + ", publish " + CanPublish + ")";
        }
    }

    /// <summary>A session with the grant that joins its room (start-session, livekit-token).</summary>
    public sealed class SessionGrant
    {
        public SessionGrant(StreamSession session, LiveKitGrant liveKit)
        {
            Session = session;
            LiveKit = liveKit;
        }

        public StreamSession Session { get; private set; }
        public LiveKitGrant LiveKit { get; private set; }
    }

    /// <summary>A recording as the contract's <c>Recording</c> object describes it.</summary>
    public sealed class Recording
    {
        public string Id { get; private set; }
        public string SessionId { get; private set; }
        /// <summary><c>egress</c> or <c>upload</c>.</summary>
        public string Source { get; private set; }
        /// <summary><c>pending</c>, <c>recording</c>, <c>processing</c>, <c>uploading</c>, <c>ready</c>, <c>failed</c> or <c>deleted</c>.</summary>
        public string Status { get; private set; }
        public string ContentType { get; private set; }
        public long? SizeBytes { get; private set; }
        public double? DurationSeconds { get; private set; }
        public DateTimeOffset CreatedAt { get; private set; }
        public DateTimeOffset? ReadyAt { get; private set; }
        public string Error { get; private set; }

        internal static Recording FromJson(IDictionary<string, object> json)
        {
            var size = JsonFields.OptionalNumber(json, "sizeBytes");
            return new Recording
            {
                Id = JsonFields.RequiredString(json, "id"),
                SessionId = JsonFields.RequiredString(json, "sessionId"),
                Source = JsonFields.RequiredString(json, "source"),
                Status = JsonFields.RequiredString(json, "status"),
                ContentType = JsonFields.RequiredString(json, "contentType"),
                SizeBytes = size.HasValue ? (long?)(long)size.Value : null,
                DurationSeconds = JsonFields.OptionalNumber(json, "durationSeconds"),
                CreatedAt = JsonFields.RequiredTime(json, "createdAt"),
                ReadyAt = JsonFields.OptionalTime(json, "readyAt"),
                Error = JsonFields.OptionalString(json, "error"),
            };
        }
    }

    /// <summary>Where and how to PUT a recording's bytes (sign-upload-url).</summary>
    public sealed class UploadTarget
    {
        /// <summary>The signed URL. It is a credential until it expires: never log it.</summary>
        public string Url { get; private set; }
        public string Method { get; private set; }
        /// <summary>The signed headers; the PUT must carry each of them exactly.</summary>
        public IReadOnlyDictionary<string, string> Headers { get; private set; }
        public DateTimeOffset ExpiresAt { get; private set; }

        internal static UploadTarget FromJson(IDictionary<string, object> json)
        {
            return new UploadTarget
            {
                Url = JsonFields.RequiredString(json, "url"),
                Method = JsonFields.RequiredString(json, "method"),
                Headers = JsonFields.StringMap(json, "headers"),
                ExpiresAt = JsonFields.RequiredTime(json, "expiresAt"),
            };
        }
    }

    /// <summary>A new upload recording and where to PUT its bytes.</summary>
    public sealed class SignedUpload
    {
        public SignedUpload(Recording recording, UploadTarget upload)
        {
            Recording = recording;
            Upload = upload;
        }

        public Recording Recording { get; private set; }
        public UploadTarget Upload { get; private set; }
    }

    /// <summary>One session with its recordings (streams with a session id).</summary>
    public sealed class SessionDetail
    {
        public SessionDetail(StreamSession session, IReadOnlyList<Recording> recordings)
        {
            Session = session;
            Recordings = recordings;
        }

        public StreamSession Session { get; private set; }
        public IReadOnlyList<Recording> Recordings { get; private set; }
    }

    /// <summary>What the headset says about itself in start-session's <c>client</c>.</summary>
    public sealed class ClientInfo
    {
        public string Platform { get; set; }
        public string AppVersion { get; set; }
        public string Device { get; set; }
    }

    /// <summary>Options of <see cref="StreamApiClient.StartSessionAsync"/>.</summary>
    public sealed class StartSessionOptions
    {
        /// <summary>1 to 120 characters, or null for none.</summary>
        public string Title { get; set; }

        /// <summary>Whether LiveKit egress records the stream. Default: true.</summary>
        public bool Record { get; set; } = true;

        public ClientInfo Client { get; set; }

        /// <summary>
        /// The <c>Idempotency-Key</c> (8 to 128 characters). Default: a new one per call, kept
        /// across that call's retries. Pass your own to make a start survive an app restart.
        /// </summary>
        public string IdempotencyKey { get; set; }
    }
}
