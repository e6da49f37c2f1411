using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Sluice.Core.Configuration;

namespace Sluice.Native;

/// <summary>
/// The C ABI of include/sluice.h. Every entry point catches everything: no managed exception may cross
/// into the host (that would end the process). Handles are small numbers, never reused, looked up in a
/// table: a stale, doubled or NULL handle finds nothing and is answered safely.
/// </summary>
internal static unsafe class NativeExports
{
    private static readonly object Handles = new();
    private static readonly Dictionary<nint, EmbeddedEngine> Engines = [];
    private static nint _nextHandle;

    [ThreadStatic]
    private static nint _lastError;

    [ThreadStatic]
    private static nint _lastReload;

    private static readonly nint EmptyText = Marshal.StringToCoTaskMemUTF8("");

    private static readonly string VersionText =
        typeof(NativeExports).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private static readonly nint VersionUtf8 = Marshal.StringToCoTaskMemUTF8(VersionText);

    [UnmanagedCallersOnly(EntryPoint = "sluice_start", CallConvs = [typeof(CallConvCdecl)])]
    public static nint Start(byte* configJson, int tunFd, HostCallbackTable* host, nint user)
    {
        try
        {
            ClearError();
            if (configJson == null) return Fail("config_json is NULL: pass the config as a NUL-terminated UTF-8 JSON string");
            if (tunFd < 0) return Fail($"tun_fd {tunFd} is not a file descriptor: pass the fd of the TUN the host opened");
            long begin = System.Diagnostics.Stopwatch.GetTimestamp();
            string json = Marshal.PtrToStringUTF8((nint)configJson) ?? "";
            var config = ConfigLoader.Load(json);
            var parsing = System.Diagnostics.Stopwatch.GetElapsedTime(begin);
            if (config.TunInbounds.Count == 0)
                return Fail("the config has no tun inbound: add {\"type\": \"tun\", \"address\": [...]} with the addresses the host gave the TUN");
            var callbacks = new HostCallbacks(host == null ? default : *host, user);
            var engine = new EmbeddedEngine(tunFd, callbacks);
            engine.Start(config, json, "start", parsing);
            lock (Handles)
            {
                nint handle = ++_nextHandle;
                Engines[handle] = engine;
                return handle;
            }
        }
        catch (ConfigException e)
        {
            return Fail($"the config is not valid; fix these and try again:\n{e.Message}");
        }
        catch (Exception e)
        {
            return Fail(e.Message);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "sluice_stop", CallConvs = [typeof(CallConvCdecl)])]
    public static void Stop(nint handle)
    {
        try
        {
            EmbeddedEngine? engine;
            lock (Handles)
            {
                if (!Engines.Remove(handle, out engine)) return;
            }
            engine.Stop();
        }
        catch (Exception e)
        {
            SetError($"stop: {e.Message}");
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "sluice_reload", CallConvs = [typeof(CallConvCdecl)])]
    public static int Reload(nint handle, byte* configJson)
    {
        try
        {
            ClearError();
            SetReloadResult(null);
            if (Find(handle) is not { } engine) return FailCode("the handle is not a running engine (NULL, or already stopped): call sluice_start");
            if (configJson == null) return FailCode("config_json is NULL");
            // Loaded and compiled first: an invalid config leaves the running engine and its flows untouched.
            string json = Marshal.PtrToStringUTF8((nint)configJson) ?? "";
            var config = ConfigLoader.Load(json);
            var result = engine.Reload(config, json);
            SetReloadResult(Sluice.Control.ApiJson.Line(result));
            return 0;
        }
        catch (ConfigException e)
        {
            return FailCode($"the config is not valid (the engine keeps the one it runs); fix these and try again:\n{e.Message}");
        }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or System.Text.Json.JsonException)
        {
            return FailCode($"the config does not compile (the engine keeps the one it runs): {e.Message}");
        }
        catch (Exception e)
        {
            return FailCode(e.Message);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "sluice_network_changed", CallConvs = [typeof(CallConvCdecl)])]
    public static int NetworkChanged(nint handle, byte* ifname, int ifindex)
    {
        try
        {
            ClearError();
            string? name = ifname == null ? null : Marshal.PtrToStringUTF8((nint)ifname);
            if (Find(handle) is { } engine && engine.NetworkChanged(name, ifindex)) return 0;
            return FailCode("the handle is not a running engine (NULL, or already stopped)");
        }
        catch (Exception e)
        {
            return FailCode(e.Message);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "sluice_status", CallConvs = [typeof(CallConvCdecl)])]
    public static int Status(nint handle, byte* buffer, nuint capacity)
    {
        try
        {
            if (buffer == null && capacity > 0) return -1;
            string json;
            try
            {
                json = Find(handle) is { } engine ? EmbeddedStatus.Of(engine, VersionText) : EmbeddedStatus.Disconnected;
            }
            catch (Exception e)
            {
                SetError($"status: {e.Message}");
                json = EmbeddedStatus.Disconnected;
            }
            var bytes = Encoding.UTF8.GetBytes(json);
            if (capacity > 0)
            {
                int copy = (int)Math.Min((ulong)bytes.Length, capacity - 1);
                bytes.AsSpan(0, copy).CopyTo(new Span<byte>(buffer, copy));
                buffer[copy] = 0;
            }
            return bytes.Length;
        }
        catch
        {
            return -1;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "sluice_version", CallConvs = [typeof(CallConvCdecl)])]
    public static nint Version() => VersionUtf8;

    [UnmanagedCallersOnly(EntryPoint = "sluice_last_error", CallConvs = [typeof(CallConvCdecl)])]
    public static nint LastError() => _lastError == 0 ? EmptyText : _lastError;

    [UnmanagedCallersOnly(EntryPoint = "sluice_reload_result", CallConvs = [typeof(CallConvCdecl)])]
    public static nint ReloadResult() => _lastReload == 0 ? EmptyText : _lastReload;

    private static EmbeddedEngine? Find(nint handle)
    {
        lock (Handles) return Engines.GetValueOrDefault(handle);
    }

    private static nint Fail(string message)
    {
        SetError(message);
        return 0;
    }

    private static int FailCode(string message)
    {
        SetError(message);
        return -1;
    }

    private static void ClearError() => SetError(null);

    private static void SetReloadResult(string? json)
    {
        nint previous = _lastReload;
        _lastReload = json is null ? 0 : Marshal.StringToCoTaskMemUTF8(json);
        if (previous != 0) Marshal.FreeCoTaskMem(previous);
    }

    private static void SetError(string? message)
    {
        nint previous = _lastError;
        _lastError = message is null ? 0 : Marshal.StringToCoTaskMemUTF8(message);
        if (previous != 0) Marshal.FreeCoTaskMem(previous);
    }
}
