using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    /// <summary>
    /// Runs async code from a synchronous test: the NUnit subset that both Debian's NUnit 2.6
    /// and Unity's Test Framework run has no async tests and no Assert.ThrowsAsync.
    /// </summary>
    internal static class Sync
    {
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

        public static void Run(Func<Task> body)
        {
            var task = Task.Run(body);
            if (!task.Wait(Limit)) Assert.Fail("The test did not finish within " + Limit.TotalSeconds + " s.");
            task.GetAwaiter().GetResult();
        }

        public static T Run<T>(Func<Task<T>> body)
        {
            var task = Task.Run(body);
            if (!task.Wait(Limit)) Assert.Fail("The test did not finish within " + Limit.TotalSeconds + " s.");
            return task.GetAwaiter().GetResult();
        }

        /// <summary>Runs <paramref name="body"/> and returns the <see cref="ApiException"/> it must throw.</summary>
        public static ApiException Throws(Func<Task> body)
        {
            try
            {
                Run(body);
            }
            catch (ApiException error)
            {
                return error;
            }
            catch (AggregateException error) when (error.InnerException is ApiException)
            {
                return (ApiException)error.InnerException;
            }
            Assert.Fail("Expected an ApiException, but the call succeeded.");
            return null;
        }

        /// <summary>Waits until <paramref name="condition"/> holds (events come on other threads).</summary>
        public static void Until(Func<bool> condition, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) Assert.Fail("Timed out waiting until " + what + ".");
                Thread.Sleep(20);
            }
        }
    }

    /// <summary>A clock that records the waits it is asked for and returns at once.</summary>
    internal sealed class RecordingClock : IClock
    {
        private readonly List<TimeSpan> _delays = new List<TimeSpan>();

        public DateTimeOffset UtcNow
        {
            get { return DateTimeOffset.UtcNow; }
        }

        public IList<TimeSpan> Delays
        {
            get { lock (_delays) return new List<TimeSpan>(_delays); }
        }

        public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (_delays) _delays.Add(delay);
            return Task.FromResult(true);
        }
    }

    /// <summary>A random source that always answers the same number.</summary>
    internal sealed class FixedRandom : IRandomSource
    {
        private readonly double _value;

        public FixedRandom(double value)
        {
            _value = value;
        }

        public double NextDouble()
        {
            return _value;
        }
    }

    /// <summary>One function call the fault proxy saw.</summary>
    internal sealed class ProxiedCall
    {
        public string Function;
        public string IdempotencyKey;
        public int? Status;
        public string Fault;
    }

    /// <summary>
    /// The local stack that <c>tests/unity/run_nunit.ts</c> starts, found through
    /// <c>VRSTREAM_TEST_*</c> variables: the fault proxy in front of the functions (also the
    /// project URL, with Supabase Auth's refresh stand-in), and its test controls. Without the
    /// variables (a Unity editor, say) the tests that need it are ignored.
    /// </summary>
    internal sealed class TestStack : IDisposable
    {
        private static readonly HttpClient Control = new HttpClient();

        private TestStack()
        {
        }

        public Uri SupabaseUrl { get; private set; }
        public Uri FunctionsUrl { get; private set; }
        public string ApiKey { get; private set; }
        public Uri ControlUrl { get; private set; }
        public string StreamerId { get; private set; }
        public string OtherStreamerId { get; private set; }
        public string WorkDir { get; private set; }
        public HttpClientTransport Transport { get; private set; }

        /// <summary>The stack, or <see cref="Assert.Ignore(string)"/> when the variables are not set.</summary>
        public static TestStack FromEnvironment()
        {
            var supabaseUrl = Environment.GetEnvironmentVariable("VRSTREAM_TEST_SUPABASE_URL");
            if (string.IsNullOrEmpty(supabaseUrl))
            {
                Assert.Ignore("The local stack is not running: run `deno run -A tests/unity/run_nunit.ts`.");
            }
            var baseUrl = new Uri(supabaseUrl.TrimEnd('/') + "/");
            return new TestStack
            {
                SupabaseUrl = baseUrl,
                FunctionsUrl = new Uri(baseUrl, "functions/v1/"),
                ApiKey = Required("VRSTREAM_TEST_API_KEY"),
                ControlUrl = new Uri(Required("VRSTREAM_TEST_CONTROL_URL")),
                StreamerId = Required("VRSTREAM_TEST_STREAMER_ID"),
                OtherStreamerId = Required("VRSTREAM_TEST_OTHER_STREAMER_ID"),
                WorkDir = Required("VRSTREAM_TEST_WORK_DIR"),
                Transport = new HttpClientTransport(),
            };
        }

        public void Dispose()
        {
            Transport.Dispose();
        }

        /// <summary>A signed-in session for a user, as Supabase Auth's sign-in returns it.</summary>
        public AuthSession SignIn(string userId, int expiresInSeconds = 3600)
        {
            var body = new Dictionary<string, object> { { "userId", userId }, { "expiresInSeconds", expiresInSeconds } };
            var json = Post("auth/sessions", body);
            return AuthSession.FromTokenResponse(json, DateTimeOffset.UtcNow);
        }

        /// <summary>Refreshes Supabase Auth granted, and refresh requests it refused, so far.</summary>
        public int[] AuthStats()
        {
            var json = Json.ParseObject(Get("auth/stats"));
            return new[] { (int)(double)json["refreshes"], (int)(double)json["refused"] };
        }

        /// <summary>Makes the proxy lose the response of the next call of <paramref name="function"/> (after the server handled it).</summary>
        public void DropNextResponse(string function)
        {
            var faults = new List<object> { new Dictionary<string, object> { { "kind", "drop" } } };
            Post("faults", new Dictionary<string, object> { { "function", function }, { "faults", faults } });
        }

        /// <summary>Makes the proxy answer the next call(s) of <paramref name="function"/> with this status itself.</summary>
        public void AnswerNext(string function, int status, int times, int? retryAfterSeconds = null)
        {
            var faults = new List<object>();
            for (var i = 0; i < times; i++)
            {
                var fault = new Dictionary<string, object> { { "kind", "status" }, { "status", status } };
                if (retryAfterSeconds.HasValue) fault["retryAfterSeconds"] = retryAfterSeconds.Value;
                faults.Add(fault);
            }
            Post("faults", new Dictionary<string, object> { { "function", function }, { "faults", faults } });
        }

        /// <summary>Clears queued faults and the proxy's log of calls.</summary>
        public void ResetProxy()
        {
            Post("reset", new Dictionary<string, object>());
        }

        /// <summary>The calls of <paramref name="function"/> the proxy saw since the last reset.</summary>
        public IList<ProxiedCall> Calls(string function)
        {
            var result = new List<ProxiedCall>();
            foreach (var item in (IList<object>)Json.Parse(Get("calls?function=" + Uri.EscapeDataString(function))))
            {
                var call = (IDictionary<string, object>)item;
                result.Add(new ProxiedCall
                {
                    Function = (string)call["function"],
                    IdempotencyKey = call["idempotencyKey"] as string,
                    Status = call["status"] == null ? (int?)null : (int)(double)call["status"],
                    Fault = call["fault"] as string,
                });
            }
            return result;
        }

        /// <summary>Objects in the storage double whose name contains <paramref name="fragment"/>: name, size and SHA-256.</summary>
        public IList<IDictionary<string, object>> StoredObjects(string fragment)
        {
            var result = new List<IDictionary<string, object>>();
            foreach (var item in (IList<object>)Json.Parse(Get("storage/objects?contains=" + Uri.EscapeDataString(fragment))))
            {
                result.Add((IDictionary<string, object>)item);
            }
            return result;
        }

        /// <summary>A session manager and API client for a signed-in user, over this stack.</summary>
        public TestClient ClientFor(AuthSession session, TestClientOptions options = null)
        {
            options = options ?? new TestClientOptions();
            var store = new MemorySessionStore(session);
            var clock = new RecordingClock();
            var random = options.Random ?? new FixedRandom(0.5);
            var auth = new SupabaseSessionManager(new SupabaseAuthOptions
            {
                SupabaseUrl = SupabaseUrl,
                ApiKey = options.ApiKey ?? ApiKey,
                Store = store,
                Transport = Transport,
                Clock = clock,
                Random = random,
            });
            var api = new StreamApiClient(new StreamApiOptions
            {
                FunctionsUrl = FunctionsUrl,
                Auth = auth,
                Transport = Transport,
                Clock = clock,
                Random = random,
                RequestTimeout = TimeSpan.FromSeconds(20),
            });
            return new TestClient(store, clock, auth, api);
        }

        /// <summary>Ends whatever session a test left starting or live for this user, so the next test can start one.</summary>
        public void EndLeftovers(AuthSession session, string streamerId)
        {
            var client = ClientFor(session);
            Sync.Run(async () =>
            {
                foreach (var stream in await client.Api.ListStreamsAsync(CancellationToken.None).ConfigureAwait(false))
                {
                    if (stream.StreamerId == streamerId) await client.Api.EndSessionAsync(stream.Id, CancellationToken.None).ConfigureAwait(false);
                }
            });
        }

        private string Get(string path)
        {
            var response = Control.GetAsync(new Uri(ControlUrl, path)).GetAwaiter().GetResult();
            var text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode) Assert.Fail("Test control " + path + " answered " + (int)response.StatusCode + ": " + text);
            return text;
        }

        private string Post(string path, object body)
        {
            var content = new StringContent(Json.Serialize(body), Encoding.UTF8, "application/json");
            var response = Control.PostAsync(new Uri(ControlUrl, path), content).GetAwaiter().GetResult();
            var text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode) Assert.Fail("Test control " + path + " answered " + (int)response.StatusCode + ": " + text);
            return text;
        }

        private static string Required(string name)
        {
            var value = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(value)) Assert.Fail(name + " is not set; run the tests through tests/unity/run_nunit.ts.");
            return value;
        }
    }

    internal sealed class TestClientOptions
    {
        public string ApiKey { get; set; }
        public IRandomSource Random { get; set; }
    }

    /// <summary>The pieces of one test's client, for assertions.</summary>
    internal sealed class TestClient
    {
        public TestClient(MemorySessionStore store, RecordingClock clock, SupabaseSessionManager auth, StreamApiClient api)
        {
            Store = store;
            Clock = clock;
            Auth = auth;
            Api = api;
        }

        public MemorySessionStore Store { get; private set; }
        public RecordingClock Clock { get; private set; }
        public SupabaseSessionManager Auth { get; private set; }
        public StreamApiClient Api { get; private set; }
    }
}
