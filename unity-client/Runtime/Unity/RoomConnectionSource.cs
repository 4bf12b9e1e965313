using UnityEngine;

namespace VrStream.Client.Unity
{
    /// <summary>
    /// A component that provides the stream's media side. The LiveKit adapter
    /// (<c>LiveKitRoomPublisher</c>, compiled when the LiveKit SDK is installed) is one.
    /// </summary>
    public abstract class RoomConnectionSource : MonoBehaviour
    {
        public abstract IRoomConnection Connection { get; }
    }
}
