using Sluice.Control;

namespace Sluice.Daemon;

/// <summary>Builds envelopes; data is serialized with the API's snake_case options.</summary>
internal static class Envelopes
{
    public static Envelope Ok(object? data) => new(ApiCodes.Ok, "ok", data is null ? null : ApiJson.Element(data));

    public static Envelope Fail(int code, string message, object? data = null) =>
        new(code, message, data is null ? null : ApiJson.Element(data));
}
