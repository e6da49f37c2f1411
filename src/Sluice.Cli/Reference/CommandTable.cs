namespace Sluice.Cli.Reference;

/// <summary>One line of `sluice help`: the verb, its synopsis after the verb, what it does; hidden ones are left out of help.</summary>
internal sealed record CommandEntry(string Verb, string Synopsis, string Summary, bool Hidden = false)
{
    /// <summary>The first word after the verb when it is a subcommand (gate apply, daemon unit, ...).</summary>
    public string? Subcommand =>
        Synopsis.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() is { } first && first.All(c => char.IsAsciiLetterLower(c) || c is '-' or '|')
            ? first : null;
}

/// <summary>
/// The CLI's commands and options in one table: `sluice help`, the shell completions and the man page are all
/// rendered from it, so they cannot drift apart (CommandTableTests).
/// </summary>
internal static class CommandTable
{
    public static readonly CommandEntry[] Entries =
    [
        new("run", "-c CONFIG", "run the engine in the foreground (Ctrl-C / SIGTERM stops it)"),
        new("check", "-c CONFIG [--fix -o NEW]", "validate a config; prints one `path: problem` line per error; --fix writes older sing-box syntax rewritten to NEW"),
        new("import", "SRC [-o F]", "turn what a provider hands out into a config (stdout, or written atomically to F): a wg-quick file, a share link (ss://, vless://, vmess://, trojan://, wireguard://, socks5://, http://), a subscription (file or https:// URL, base64 or plain links) or a Clash YAML"),
        new("import", "SRC --links", "print the servers SRC holds as share links, one a line (SRC may also be a sing-box config)"),
        new("demo", "", "build a namespace testbed and show per-app routing with real processes"),
        new("gate", "apply -c CONFIG", "load the config's fail-shut gate now (docs/gate.md)"),
        new("gate", "enable -c CONFIG", "apply it and install the boot unit (--root DIR: another root)"),
        new("gate", "disable [--yes] [--kill-apps] [--grace S]", "open the gate, remove the boot unit"),
        new("gate", "status [-c CONFIG]", "what the gate holds, and what it cannot"),
        new("gate", "unit [--nft PATH]", "print the gate's boot unit (packaging)", Hidden: true),
        new("exec", "--lane protected [--user U] -- CMD", "run CMD in the protected cgroup (as the sudo user, or U)"),
        new("kill-apps", "[--grace S]", "end the protected apps (SIGTERM, then SIGKILL)"),
        new("daemon", "[-c CONFIG]", "the service: engine + API (unix socket, http 127.0.0.1:1777) + /ui"),
        new("daemon", "unit|install|uninstall [-c CONFIG] [--root DIR] [--binary PATH]", "its systemd unit (docs/api.md)"),
        new("up", "[-c CONFIG] [--server NAME] [--pick [NAME]]", "bring a config up through the daemon; --pick: choose this session's server (protocol, TCP only/TCP+UDP, latency)"),
        new("down", "", "stop the engine (the gate stays)"),
        new("reload", "", "re-read the config: rules and outbounds change in place, live connections on unchanged outbounds stay"),
        new("status", "[--json] [--watch]", "state, lanes, gate; --watch: live per-app speeds and sparklines"),
        new("doctor", "", "check what Sluice needs and what fights it (TUN, nftables, cgroups, other VPNs, DNS, IPv6, clock)"),
        new("connections", "[--json] [--close ID|all]", "live flows with app, path and lane"),
        new("servers", "[--ping [--url URL]] [--json]", "outbounds and groups, with delays"),
        new("apps", "[add [-c CONFIG] [--lane TAG] [NAME...]]", "per-app traffic; put apps on a lane"),
        new("logs", "[-f] [--level L]", "the daemon's log"),
        new("mode", "[rule|global|direct]", "the Clash mode clash_mode rules match (switches new flows at once)"),
        new("rule-set", "compile SRC.json [-o F.srs] | decompile F.srs|F.mrs [-o F.json] | match SET DOMAIN|IP", "rule sets"),
        new("rule-set", "convert LIST.txt [--from clash-domain|clash-ipcidr|clash-classical] [-o F.srs|F.json]", "a plain domain/CIDR list, or a Clash rule provider's file, into a rule set"),
        new("version", "", "print the version"),
        new("device-id", "", "print this machine's stable Sluice id (an app-specific HMAC of /etc/machine-id)"),
        new("help", "", "this list"),
        new("completions", "bash|zsh|fish", "print a shell completion script (packaging)", Hidden: true),
        new("man", "", "print the man page, roff (packaging)", Hidden: true),
    ];

    /// <summary>Options any verb may take, and the long options each verb knows (for completion).</summary>
    public static readonly string[] GlobalOptions = ["--debug", "--help"];

    public static readonly Dictionary<string, string[]> Options = new(StringComparer.Ordinal)
    {
        ["run"] = ["--config"],
        ["check"] = ["--config"],
        ["import"] = ["--output", "--links"],
        ["gate"] = ["--config", "--root", "--yes", "--kill-apps", "--grace", "--nft"],
        ["exec"] = ["--lane", "--user"],
        ["kill-apps"] = ["--grace"],
        ["daemon"] = ["--config", "--root", "--socket", "--secret-file", "--state-dir", "--listen", "--binary"],
        ["up"] = ["--config", "--server", "--pick", "--socket", "--api", "--secret-file"],
        ["down"] = ["--socket", "--api", "--secret-file"],
        ["reload"] = ["--socket", "--api", "--secret-file"],
        ["status"] = ["--json", "--watch", "--interval", "--socket", "--api", "--secret-file"],
        ["connections"] = ["--json", "--close", "--socket", "--api", "--secret-file"],
        ["servers"] = ["--ping", "--url", "--json", "--socket", "--api", "--secret-file"],
        ["apps"] = ["--config", "--lane", "--socket", "--api", "--secret-file"],
        ["logs"] = ["--follow", "--level", "--socket", "--api", "--secret-file"],
        ["rule-set"] = ["--output", "--from"],
    };

    public static IEnumerable<string> Verbs(bool includeHidden = false) =>
        Entries.Where(e => includeHidden || !e.Hidden).Select(e => e.Verb).Distinct(StringComparer.Ordinal);

    public static IEnumerable<string> Subcommands(string verb) =>
        Entries.Where(e => e.Verb == verb && e.Subcommand is not null).SelectMany(e => e.Subcommand!.Split('|')).Distinct(StringComparer.Ordinal);

    public static string[] OptionsOf(string verb) => Options.GetValueOrDefault(verb, []);

    /// <summary>`sluice VERB --help`: the verb's lines and the long options it takes; null for a verb the table lacks.</summary>
    public static string? HelpOf(string verb)
    {
        var entries = Entries.Where(e => e.Verb == verb).ToArray();
        if (entries.Length == 0) return null;
        var text = new System.Text.StringBuilder();
        foreach (var e in entries)
        {
            text.Append("usage: sluice ").Append((e.Verb + " " + e.Synopsis).Trim()).Append('\n');
            text.Append("  ").Append(e.Summary).Append('\n');
        }
        if (OptionsOf(verb) is { Length: > 0 } options) text.Append("options: ").Append(string.Join(' ', options)).Append(" --debug\n");
        return text.ToString().TrimEnd('\n');
    }

    /// <summary>`sluice help`.</summary>
    public static string Help()
    {
        var shown = Entries.Where(e => !e.Hidden).Select(e => (Left: (e.Verb + " " + e.Synopsis).Trim(), e.Summary)).ToArray();
        int width = Math.Min(34, shown.Max(s => s.Left.Length));
        var lines = shown.Select(s => s.Left.Length > width ? $"  {s.Left}\n  {new string(' ', width)}  {s.Summary}" : $"  {s.Left.PadRight(width)}  {s.Summary}");
        return "usage: sluice <command> [options]\n\n" + string.Join('\n', lines) + """


            `sluice` alone says where you stand: engine, gate, and how to get out when the kill switch holds.
            options: --debug shows stack traces on errors
            daemon verbs: --socket PATH (SLUICE_SOCKET) or --api URL --secret-file F; exit 0 ok,
              1 refused/failed, 2 usage, 3 daemon unreachable, 4 status: not connected
            """;
    }
}
