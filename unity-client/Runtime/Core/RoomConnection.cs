using System;
using System.Threading;
using System.Threading.Tasks;

namespace VrStream.Client
{
    /// <summary>The media connection's state, as LiveKit reports it.</summary>
    public enum RoomConnectionState
    {
        Disconnected,
        Connected,
        Reconnecting,
    }

    /// <summary>LiveKit's connection quality of the local participant; <c>Unknown</c> before the first report.</summary>
    public enum ConnectionQuality
    {
        Unknown,
        Lost,
        Poor,
        Good,
        Excellent,
    }

    /// <summary>
    /// The media side of a stream: joins the LiveKit room with a grant and publishes the
    /// headset's camera and microphone. The LiveKit adapter implements it on a device; tests
    /// replace it. Events may come on any thread.
    /// </summary>
    public interface IRoomConnection
    {
        /// <summary>Raised when the connection's state changes (LiveKit's connection state events).</summary>
        event Action<RoomConnectionState> StateChanged;

        /// <summary>Raised when LiveKit reports a new quality for the local participant.</summary>
        event Action<ConnectionQuality> QualityChanged;

        /// <summary>Joins the grant's room and publishes; completes once publishing, fails if it cannot.</summary>
        Task ConnectAsync(LiveKitGrant grant, CancellationToken cancellationToken);

        /// <summary>Leaves the room (unpublishing everything); completes when it has left.</summary>
        Task DisconnectAsync(CancellationToken cancellationToken);
    }
}
