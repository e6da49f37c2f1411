using System.Globalization;
using System.Runtime.InteropServices;

namespace Sluice.Hosting.Linux.Doctor;

/// <summary>
/// Clock skew, measured without the network: the kernel's NTP state (adjtimex: synchronized or not, and its
/// maximum error) and the distance between the system clock and the hardware clock (RTC). WireGuard drops
/// handshakes with timestamps older than the last, TLS refuses certificates outside their validity.
/// </summary>
internal static partial class Clock
{
    private const int TimeError = 5; // adjtimex: clock not synchronized
    private static readonly TimeSpan Tolerated = TimeSpan.FromMinutes(2);

    public static HostCheck Check(string root)
    {
        var rtc = RtcSkew(root);
        string rtcText = rtc is { } skew ? $"; the hardware clock is {Math.Abs(skew.TotalSeconds).ToString("0", CultureInfo.InvariantCulture)} s {(skew > TimeSpan.Zero ? "ahead" : "behind")}" : "";
        if (rtc is { } off && off.Duration() > Tolerated)
            return new("clock", CheckStatus.Warn, $"the system clock and the hardware clock differ by {off.Duration().TotalMinutes:0} min: one of them is wrong",
                "`sudo timedatectl set-ntp true` (or install chrony / systemd-timesyncd), then `sudo hwclock --systohc`");
        int state = KernelState(out long maxErrorMicroseconds);
        if (state < 0) return new("clock", CheckStatus.Note, "the kernel's NTP state is not readable" + rtcText);
        if (state == TimeError)
            return new("clock", CheckStatus.Warn, "the kernel says the clock is not NTP-synchronized" + rtcText + ": a clock off by minutes breaks TLS certificate checks and WireGuard handshakes",
                "`sudo timedatectl set-ntp true`, or install chrony / systemd-timesyncd");
        return new("clock", CheckStatus.Ok, $"NTP-synchronized (max error {(maxErrorMicroseconds / 1000.0).ToString("0.#", CultureInfo.InvariantCulture)} ms){rtcText}");
    }

    /// <summary>System clock minus RTC; null without an RTC.</summary>
    private static TimeSpan? RtcSkew(string root)
    {
        string text = HostChecks.ReadOrEmpty(Path.Combine(root, "sys/class/rtc/rtc0/since_epoch")).Trim();
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)) return null;
        return DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    /// <summary>adjtimex(2) with modes 0 (read only): the clock state, and the maximum error in µs.</summary>
    private static int KernelState(out long maxErrorMicroseconds)
    {
        // struct timex on 64-bit Linux: modes (4 + 4 padding), offset, freq, maxerror (offset 24), ...; 208 bytes.
        var timex = new byte[256];
        int state = Adjtimex(timex);
        maxErrorMicroseconds = BitConverter.ToInt64(timex, 24);
        return state;
    }

    [LibraryImport("libc", EntryPoint = "adjtimex", SetLastError = true)]
    private static partial int Adjtimex([In, Out] byte[] timex);
}
