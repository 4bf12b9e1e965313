using System;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    /// <summary>Local recordings through sign-upload-url, the signed PUT and complete-upload.</summary>
    [TestFixture]
    public class UploadTests
    {
        private TestStack _stack;
        private AuthSession _session;

        [SetUp]
        public void SetUp()
        {
            _stack = TestStack.FromEnvironment();
            _session = _stack.SignIn(_stack.StreamerId);
            _stack.EndLeftovers(_session, _stack.StreamerId);
            _stack.ResetProxy();
        }

        [TearDown]
        public void TearDown()
        {
            if (_stack == null) return;
            _stack.EndLeftovers(_session, _stack.StreamerId);
            _stack.Dispose();
        }

        private sealed class ProgressLog : IProgress<long>
        {
            public long Last;
            public int Reports;

            public void Report(long value)
            {
                Interlocked.Exchange(ref Last, value);
                Interlocked.Increment(ref Reports);
            }
        }

        [Test]
        public void AFileUploadsThroughTheSignedUrlAndBecomesReady()
        {
            var client = _stack.ClientFor(_session);
            var started = Sync.Run(() => client.Api.StartSessionAsync(new StartSessionOptions { Record = false }, CancellationToken.None));
            Sync.Run(() => client.Api.EndSessionAsync(started.Session.Id, CancellationToken.None));

            var path = Path.Combine(_stack.WorkDir, "recording-" + Guid.NewGuid().ToString("N") + ".mp4");
            var bytes = new byte[300 * 1024 + 7];
            new System.Random(42).NextBytes(bytes);
            File.WriteAllBytes(path, bytes);
            var progress = new ProgressLog();

            var recording = Sync.Run(() => client.Api.UploadRecordingAsync(new UploadRecordingOptions
            {
                SessionId = started.Session.Id,
                FilePath = path,
                ContentType = "video/mp4",
                Progress = progress,
            }, CancellationToken.None));

            Assert.AreEqual("ready", recording.Status);
            Assert.AreEqual("upload", recording.Source);
            Assert.AreEqual(bytes.Length, recording.SizeBytes);
            Assert.AreEqual(started.Session.Id, recording.SessionId);
            Assert.IsNotNull(recording.ReadyAt);
            Assert.AreEqual(bytes.Length, Interlocked.Read(ref progress.Last), "progress reached the whole file");
            Assert.That(progress.Reports, Is.GreaterThan(1), "progress came in steps");

            var stored = _stack.StoredObjects(recording.Id);
            Assert.AreEqual(1, stored.Count);
            Assert.AreEqual((double)bytes.Length, stored[0]["size"]);
            Assert.AreEqual(Sha256(bytes), stored[0]["sha256"], "the bucket holds the file's bytes");
            Assert.AreEqual("video/mp4", stored[0]["contentType"]);

            var detail = Sync.Run(() => client.Api.GetSessionAsync(started.Session.Id, CancellationToken.None));
            var listed = false;
            foreach (var r in detail.Recordings)
            {
                if (r.Id == recording.Id && r.Status == "ready") listed = true;
            }
            Assert.IsTrue(listed, "the session lists the ready recording");
        }

        [Test]
        public void AFileOverTheLimitIsRefusedBeforeAnyRequest()
        {
            var client = _stack.ClientFor(_session);
            var path = Path.Combine(_stack.WorkDir, "huge-" + Guid.NewGuid().ToString("N") + ".mp4");
            using (var file = new FileStream(path, FileMode.CreateNew))
            {
                file.SetLength(StreamApiClient.MaxUploadBytes + 1); // sparse: no disk used
            }
            try
            {
                var error = Sync.Throws(() => client.Api.UploadRecordingAsync(new UploadRecordingOptions
                {
                    SessionId = Guid.NewGuid().ToString(),
                    FilePath = path,
                }, CancellationToken.None));
                Assert.AreEqual(413, error.StatusCode);
                Assert.AreEqual("payload_too_large", error.Code);
                Assert.AreEqual(0, _stack.Calls("sign-upload-url").Count);
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Test]
        public void TheServerRefusesAnOversizedSignatureToo()
        {
            var client = _stack.ClientFor(_session);
            var started = Sync.Run(() => client.Api.StartSessionAsync(new StartSessionOptions { Record = false }, CancellationToken.None));
            var error = Sync.Throws(() => client.Api.SignUploadUrlAsync(started.Session.Id, "video/mp4", StreamApiClient.MaxUploadBytes + 1, CancellationToken.None));
            Assert.AreEqual(413, error.StatusCode);
            Assert.AreEqual("payload_too_large", error.Code);
            var type = Sync.Throws(() => client.Api.SignUploadUrlAsync(started.Session.Id, "video/avi", 10, CancellationToken.None));
            Assert.AreEqual(415, type.StatusCode);
            Assert.AreEqual("unsupported_media_type", type.Code);
        }

        private static string Sha256(byte[] bytes)
        {
            using (var sha = SHA256.Create())
            {
                return BitConverter.ToString(sha.ComputeHash(bytes)).Replace("-", "").ToLowerInvariant();
            }
        }
    }
}
