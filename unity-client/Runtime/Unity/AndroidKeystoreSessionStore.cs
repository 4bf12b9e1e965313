using System;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine;

namespace VrStream.Client.Unity
{
    /// <summary>
    /// <see cref="ISessionStore"/> for Android (Quest): the session is sealed with AES-256-GCM
    /// under a key generated inside the Android Keystore (never exportable, never in this
    /// process's memory), and only the ciphertext is written to the app's private storage.
    /// Nothing goes to PlayerPrefs. JNI calls run on Unity's main thread.
    /// </summary>
    public sealed class AndroidKeystoreSessionStore : ISessionStore
    {
        private const string KeyStoreType = "AndroidKeyStore";
        private const string Transformation = "AES/GCM/NoPadding";
        private const int PurposeEncrypt = 1;
        private const int PurposeDecrypt = 2;
        private const int EncryptMode = 1;
        private const int DecryptMode = 2;
        private const int TagBits = 128;
        private const byte FormatVersion = 1;

        private readonly string _keyAlias;
        private readonly string _path;
        private readonly SynchronizationContext _mainThread;

        /// <param name="keyAlias">The Keystore alias of the wrapping key, such as <c>vrstream.session</c>.</param>
        /// <param name="path">Where the ciphertext lives, such as <c>Application.persistentDataPath + "/session.bin"</c>.</param>
        /// <param name="mainThread">Unity's main-thread context.</param>
        public AndroidKeystoreSessionStore(string keyAlias, string path, SynchronizationContext mainThread)
        {
            if (string.IsNullOrEmpty(keyAlias)) throw new ArgumentException("A key alias is required.", nameof(keyAlias));
            if (string.IsNullOrEmpty(path)) throw new ArgumentException("A path is required.", nameof(path));
            if (mainThread == null) throw new ArgumentNullException(nameof(mainThread));
            _keyAlias = keyAlias;
            _path = path;
            _mainThread = mainThread;
        }

        public Task SaveAsync(AuthSession session, CancellationToken cancellationToken)
        {
            return OnMainThread(() =>
            {
                var plain = Encoding.UTF8.GetBytes(Json.Serialize(new System.Collections.Generic.Dictionary<string, object>
                {
                    { "access_token", session.AccessToken },
                    { "refresh_token", session.RefreshToken },
                    { "expires_at", session.ExpiresAt.ToUnixTimeSeconds() },
                }));
                byte[] iv;
                var sealedBytes = Seal(plain, out iv);
                Array.Clear(plain, 0, plain.Length);
                var file = new byte[1 + 1 + iv.Length + sealedBytes.Length];
                file[0] = FormatVersion;
                file[1] = (byte)iv.Length;
                Buffer.BlockCopy(iv, 0, file, 2, iv.Length);
                Buffer.BlockCopy(sealedBytes, 0, file, 2 + iv.Length, sealedBytes.Length);
                // Written beside, then moved over: a crash mid-write never leaves half a session.
                var temporary = _path + ".tmp";
                File.WriteAllBytes(temporary, file);
                if (File.Exists(_path)) File.Delete(_path);
                File.Move(temporary, _path);
                return true;
            }, cancellationToken);
        }

        public Task<AuthSession> LoadAsync(CancellationToken cancellationToken)
        {
            return OnMainThread(() =>
            {
                if (!File.Exists(_path)) return null;
                var file = File.ReadAllBytes(_path);
                if (file.Length < 3 || file[0] != FormatVersion) return null;
                var ivLength = file[1];
                var iv = new byte[ivLength];
                Buffer.BlockCopy(file, 2, iv, 0, ivLength);
                var sealedBytes = new byte[file.Length - 2 - ivLength];
                Buffer.BlockCopy(file, 2 + ivLength, sealedBytes, 0, sealedBytes.Length);
                byte[] plain;
                try
                {
                    plain = Open(sealedBytes, iv);
                }
                catch (AndroidJavaException)
                {
                    // The key is gone (app data cleared, device reset) or the file was altered:
                    // GCM refuses it, and the user signs in again.
                    return null;
                }
                return AuthSession.FromTokenResponse(Encoding.UTF8.GetString(plain), DateTimeOffset.UtcNow);
            }, cancellationToken);
        }

        public Task ClearAsync(CancellationToken cancellationToken)
        {
            return OnMainThread(() =>
            {
                if (File.Exists(_path)) File.Delete(_path);
                return true;
            }, cancellationToken);
        }

        private byte[] Seal(byte[] plain, out byte[] iv)
        {
            using (var cipher = new AndroidJavaClass("javax.crypto.Cipher").CallStatic<AndroidJavaObject>("getInstance", Transformation))
            {
                // The Keystore picks a fresh random IV for every encryption; it is read back.
                cipher.Call("init", EncryptMode, Key());
                iv = FromJava(cipher.Call<sbyte[]>("getIV"));
                return FromJava(cipher.Call<sbyte[]>("doFinal", ToJava(plain)));
            }
        }

        private byte[] Open(byte[] sealedBytes, byte[] iv)
        {
            using (var spec = new AndroidJavaObject("javax.crypto.spec.GCMParameterSpec", TagBits, ToJava(iv)))
            using (var cipher = new AndroidJavaClass("javax.crypto.Cipher").CallStatic<AndroidJavaObject>("getInstance", Transformation))
            {
                cipher.Call("init", DecryptMode, Key(), spec);
                return FromJava(cipher.Call<sbyte[]>("doFinal", ToJava(sealedBytes)));
            }
        }

        /// <summary>The wrapping key, generated inside the Keystore on first use (AES-256, GCM only, no padding).</summary>
        private AndroidJavaObject Key()
        {
            using (var keyStore = new AndroidJavaClass("java.security.KeyStore").CallStatic<AndroidJavaObject>("getInstance", KeyStoreType))
            {
                keyStore.Call("load", (AndroidJavaObject)null);
                if (!keyStore.Call<bool>("containsAlias", _keyAlias))
                {
                    using (var builder = new AndroidJavaObject("android.security.keystore.KeyGenParameterSpec$Builder", _keyAlias, PurposeEncrypt | PurposeDecrypt))
                    using (var generator = new AndroidJavaClass("javax.crypto.KeyGenerator").CallStatic<AndroidJavaObject>("getInstance", "AES", KeyStoreType))
                    {
                        builder.Call<AndroidJavaObject>("setBlockModes", (object)new[] { "GCM" });
                        builder.Call<AndroidJavaObject>("setEncryptionPaddings", (object)new[] { "NoPadding" });
                        builder.Call<AndroidJavaObject>("setKeySize", 256);
                        using (var spec = builder.Call<AndroidJavaObject>("build"))
                        {
                            generator.Call("init", spec);
                        }
                        generator.Call<AndroidJavaObject>("generateKey").Dispose();
                    }
                }
                return keyStore.Call<AndroidJavaObject>("getKey", _keyAlias, null);
            }
        }

        private Task<T> OnMainThread<T>(Func<T> work, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled();
                return done.Task;
            }
            _mainThread.Post(_ =>
            {
                try
                {
                    done.TrySetResult(work());
                }
                catch (Exception error)
                {
                    done.TrySetException(error);
                }
            }, null);
            return done.Task;
        }

        private static sbyte[] ToJava(byte[] bytes)
        {
            var result = new sbyte[bytes.Length];
            Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
            return result;
        }

        private static byte[] FromJava(sbyte[] bytes)
        {
            var result = new byte[bytes.Length];
            Buffer.BlockCopy(bytes, 0, result, 0, bytes.Length);
            return result;
        }
    }
}
