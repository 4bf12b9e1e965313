using System;

namespace VrStream.Client
{
    /// <summary>What the headset knows about itself when choosing a video profile.</summary>
    public sealed class DeviceCapabilities
    {
        /// <summary>Such as <c>Oculus Quest</c> (<c>SystemInfo.deviceModel</c>); informative only.</summary>
        public string Model { get; set; }

        /// <summary><c>SystemInfo.systemMemorySize</c>, in MB.</summary>
        public int SystemMemoryMb { get; set; }

        /// <summary><c>SystemInfo.maxTextureSize</c>, in pixels.</summary>
        public int MaxTextureSize { get; set; }
    }

    /// <summary>The spectator camera's published video: size, frame rate and bitrate cap (H.264).</summary>
    public sealed class VideoProfile
    {
        /// <summary>1920×1080 at 30 fps, what the recording preset (H264_1080P_30) expects.</summary>
        public static readonly VideoProfile FullHd30 = new VideoProfile(1920, 1080, 30, 4500000);

        /// <summary>1280×720 at 30 fps, for devices that cannot sustain 1080p alongside the game.</summary>
        public static readonly VideoProfile Hd30 = new VideoProfile(1280, 720, 30, 2500000);

        /// <summary>Memory below which 1080p is not attempted: Quest 2 has 6 GB, Quest 3 and Pro 8 GB or more.</summary>
        public const int FullHdMinimumMemoryMb = 7000;

        public VideoProfile(int width, int height, int frameRate, long maxBitrate)
        {
            Width = width;
            Height = height;
            FrameRate = frameRate;
            MaxBitrate = maxBitrate;
        }

        public int Width { get; private set; }
        public int Height { get; private set; }
        public int FrameRate { get; private set; }
        /// <summary>Bits per second.</summary>
        public long MaxBitrate { get; private set; }

        /// <summary>
        /// 1080p30 where the device can hold it (Quest 3 and Pro class: enough memory for a second
        /// 1080p render target and the encoder), else 720p30.
        /// </summary>
        public static VideoProfile ForDevice(DeviceCapabilities device)
        {
            if (device == null) throw new ArgumentNullException(nameof(device));
            var fits = device.MaxTextureSize >= FullHd30.Width && device.SystemMemoryMb >= FullHdMinimumMemoryMb;
            return fits ? FullHd30 : Hd30;
        }

        public override string ToString()
        {
            return Width + "x" + Height + "@" + FrameRate;
        }
    }
}
