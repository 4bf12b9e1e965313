using NUnit.Framework;

namespace VrStream.Client.Tests
{
    [TestFixture]
    public class VideoProfileTests
    {
        [Test]
        public void Quest3ClassDevicesPublish1080p30()
        {
            var profile = VideoProfile.ForDevice(new DeviceCapabilities { Model = "Oculus Quest", SystemMemoryMb = 7800, MaxTextureSize = 16384 });
            Assert.AreEqual(1920, profile.Width);
            Assert.AreEqual(1080, profile.Height);
            Assert.AreEqual(30, profile.FrameRate);
        }

        [Test]
        public void SmallerDevicesFallBackTo720p30()
        {
            var quest2 = VideoProfile.ForDevice(new DeviceCapabilities { Model = "Oculus Quest", SystemMemoryMb = 5800, MaxTextureSize = 16384 });
            Assert.AreSame(VideoProfile.Hd30, quest2);
            var smallTextures = VideoProfile.ForDevice(new DeviceCapabilities { SystemMemoryMb = 12000, MaxTextureSize = 1024 });
            Assert.AreSame(VideoProfile.Hd30, smallTextures);
        }
    }
}
