using System.Text;

namespace Sluice.Cli.Reference;

/// <summary>sluice(1) in roff (man(7) macros), rendered from <see cref="CommandTable"/> by `sluice man`.</summary>
internal static class ManPage
{
    public static string Render(string version, DateOnly date)
    {
        var sb = new StringBuilder();
        sb.Append($".TH SLUICE 1 \"{date:yyyy-MM-dd}\" \"sluice {Escape(version)}\" \"User Commands\"\n");
        sb.Append(".SH NAME\nsluice \\- per\\-app split\\-tunneling VPN engine with a fail\\-shut gate\n");
        sb.Append(".SH SYNOPSIS\n.B sluice\n.I command\n.RI [ options ]\n");
        sb.Append(".SH DESCRIPTION\n");
        sb.Append("Sluice captures host traffic on a TUN device and gives each flow a lane by rules: WireGuard, ");
        sb.Append("Shadowsocks, SOCKS5 and HTTP proxies, direct, or blocked. Its gate (an nftables table) keeps protected apps ");
        sb.Append("off the network whenever the engine is down.\n.PP\nRun without a command,\n");
        sb.Append(".B sluice\nsays where you stand: the engine's state, the gate, and how to get out when the kill switch holds.\n");
        sb.Append(".SH COMMANDS\n");
        foreach (var e in CommandTable.Entries.Where(e => !e.Hidden))
        {
            sb.Append($".TP\n.B {Escape(e.Verb)}");
            if (e.Synopsis.Length > 0) sb.Append($" \"{Escape(e.Synopsis)}\"");
            sb.Append($"\n{Escape(e.Summary)}\n");
        }
        sb.Append(".SH OPTIONS\n.TP\n.B \\-\\-debug\nshow stack traces on errors\n");
        sb.Append(".TP\n.BI \\-\\-socket \" PATH\"\nthe daemon's Unix socket (default /run/sluice/sluice.sock, or $SLUICE_SOCKET)\n");
        sb.Append(".TP\n.BI \\-\\-api \" URL\" \" \\-\\-secret\\-file\" \" F\"\nreach the daemon over HTTP with the bearer secret in F\n");
        sb.Append(".SH EXIT STATUS\n0 ok; 1 refused or failed; 2 wrong command line; 3 daemon unreachable; 4 status: not connected.\n");
        sb.Append(".SH FILES\n.TP\n.I /etc/sluice/config.json\nthe example configuration (a conffile)\n");
        sb.Append(".TP\n.I /etc/sluice/secret\nthe HTTP API's bearer secret (0640 root:sluice)\n");
        sb.Append(".TP\n.I /etc/sluice/gate.nft\nthe gate ruleset the boot unit loads (written by \\fBgate enable\\fR)\n");
        sb.Append(".TP\n.I /run/sluice/sluice.sock\nthe daemon's socket, 0660 root:sluice: members of the group use the CLI without sudo\n");
        sb.Append(".TP\n.I /var/lib/sluice\nwhat was up, kept across restarts\n");
        sb.Append(".SH SEE ALSO\n.BR nft (8),\n.BR systemctl (1),\n.BR wg (8)\n");
        return sb.ToString();
    }

    /// <summary>Backslashes and hyphens as roff wants them; a leading dot or quote cannot start a request.</summary>
    private static string Escape(string text)
    {
        string s = text.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal);
        return s.Length > 0 && s[0] is '.' or '\'' ? "\\&" + s : s;
    }
}
