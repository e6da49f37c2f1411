using System.Text.Json;

namespace Sluice.Core.Configuration;

/// <summary>
/// Loads the supported subset of sing-box's JSON config (docs/config.md).
/// 1. Parse with comments and trailing commas allowed (as sing-box).
/// 2. Walk the document section by section through <see cref="Sections"/>, collecting every error with its path.
/// 3. Check cross references (outbound and inbound tags named by rules and route.final).
/// 4. Build immutable records, or throw <see cref="ConfigException"/> with all errors.
/// </summary>
public static class ConfigLoader
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <summary>
    /// Top-level section → parser. A new section (dns, endpoints, experimental, gate) is one entry here,
    /// one parser class, and one field in <see cref="ConfigBuilder"/>/<see cref="SluiceConfig"/>.
    /// </summary>
    private static readonly Dictionary<string, Action<JsonElement, string, ConfigBuilder>> Sections = new(StringComparer.Ordinal)
    {
        ["log"] = LogSection.Parse,
        ["inbounds"] = InboundSection.Parse,
        ["outbounds"] = OutboundSection.Parse,
        ["route"] = RouteSection.Parse,
        ["gate"] = GateSection.Parse,
        ["endpoints"] = EndpointSection.Parse,
        ["dns"] = DnsSection.Parse,
        ["experimental"] = ExperimentalSection.Parse,
        ["subscriptions"] = SubscriptionSection.Parse,
    };

    /// <summary>sing-box sections (and Sluice's own) that a later version will read.</summary>
    private static readonly HashSet<string> PlannedSections = new(StringComparer.Ordinal)
    {
        "ntp", "certificate", "services",
    };

    public static SluiceConfig Load(string json) => Load(json, ConfigOrigin.Local);

    /// <summary>Loads a config as <paramref name="origin"/> allows (an API-sent config names no written path).</summary>
    public static SluiceConfig Load(string json, ConfigOrigin origin)
    {
        var (config, errors) = Parse(json, origin);
        if (errors.Count > 0) throw new ConfigException(errors);
        return config!;
    }

    public static SluiceConfig LoadFile(string path) => LoadFile(path, ConfigOrigin.Local);

    /// <summary>Reads the config at <paramref name="path"/> through the origin's file source (capped at EngineLimits.ConfigFileBytes), then loads it.</summary>
    public static SluiceConfig LoadFile(string path, ConfigOrigin origin)
    {
        string json;
        try
        {
            json = ReadFile(path, origin.Files);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException(new ConfigError("", $"config file {path} does not exist; pass an existing file with -c"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigException(new ConfigError("", e is FileRefusedException ? $"config file refused: {e.Message}" : $"cannot read config file {path}: {e.Message}"));
        }
        return Load(json, origin);
    }

    /// <summary>The text of a config file, read through <paramref name="files"/> under the config cap.</summary>
    public static string ReadFile(string path, IFileSource files) =>
        System.Text.Encoding.UTF8.GetString(files.Read(path, EngineLimits.Default.ConfigFileBytes));

    public static IReadOnlyList<ConfigError> Validate(string json) => Parse(json, ConfigOrigin.Local).Errors;

    public static IReadOnlyList<ConfigError> Validate(string json, ConfigOrigin origin) => Parse(json, origin).Errors;

    private static (SluiceConfig? Config, IReadOnlyList<ConfigError> Errors) Parse(string json, ConfigOrigin origin)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            return (null, [InvalidJson(e)]);
        }

        using (document)
        {
            var errors = new ErrorList { Files = origin.Files };
            var builder = new ConfigBuilder(errors) { Origin = origin };
            var root = ObjectReader.Open(document.RootElement, "", errors);
            if (root is null) return (null, errors.Items);

            root.Ignore("$schema");
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!Sections.TryGetValue(property.Name, out var parse)) continue;
                if (root.Take(property.Name) is { } section) parse(section, property.Name, builder);
            }
            // sing-box's default trust store spelled out ({"store": "system"}, as exporters write it) is what Sluice's TLS uses already.
            if (document.RootElement.TryGetProperty("certificate", out var certificate) && IsSystemStore(certificate)) root.Ignore("certificate");
            root.Finish(name => PlannedSections.Contains(name) ? "not supported yet" : null);

            builder.CheckReferences();
            if (errors.Count > 0) return (null, errors.Items);
            return (builder.Build(document.RootElement.Clone()), []);
        }
    }

    private static bool IsSystemStore(JsonElement certificate) =>
        certificate.ValueKind == JsonValueKind.Object && certificate.EnumerateObject().All(p => p.Name == "store"
            ? p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() is "system" or ""
            : ObjectReader.IsInert(p.Value));

    private static ConfigError InvalidJson(JsonException e)
    {
        // JsonException's message ends with "LineNumber: 2 | BytePositionInLine: 7."; restate it 1-based.
        string message = e.Message;
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        string where = e.LineNumber is { } line
            ? $" at line {line + 1}, byte {(e.BytePositionInLine ?? 0) + 1}"
            : "";
        return new ConfigError(e.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : "", $"invalid JSON{where}: {message}");
    }
}

/// <summary>What the section parsers fill in; turned into a <see cref="SluiceConfig"/> once all are read.</summary>
internal sealed class ConfigBuilder(ErrorList errors)
{
    private readonly List<(string Tag, string Path)> _outboundReferences = [];
    private readonly List<(string Tag, string Path)> _inboundReferences = [];

    public ErrorList Errors { get; } = errors;

    /// <summary>Who sent the config: decides whether it may name paths Sluice writes.</summary>
    public ConfigOrigin Origin { get; init; } = ConfigOrigin.Local;

    public LogOptions Log { get; set; } = LogOptions.Default;

    public List<TunInboundOptions> TunInbounds { get; } = [];

    public List<MixedInboundOptions> MixedInbounds { get; } = [];

    /// <summary>"direct" inbounds (DNS listeners) with their JSON paths, for checks that need the rules.</summary>
    public List<(DirectInboundOptions Options, string Path)> DirectInbounds { get; } = [];

    public List<OutboundOptions> Outbounds { get; } = [];

    public RouteOptions Route { get; set; } = RouteOptions.Empty;

    public Sluice.Core.Gate.GateOptions Gate { get; set; } = Sluice.Core.Gate.GateOptions.Off;

    public Sluice.Core.Dns.DnsOptions Dns { get; set; } = Sluice.Core.Dns.DnsOptions.Empty;

    public ExperimentalOptions Experimental { get; set; } = ExperimentalOptions.Empty;

    public List<SubscriptionOptions> Subscriptions { get; } = [];

    public void ReferenceOutbound(string tag, string path) => _outboundReferences.Add((tag, path));

    public void ReferenceInbound(string tag, string path) => _inboundReferences.Add((tag, path));

    /// <summary>An outbound's domain_resolver: checked against dns.servers once every section is read.</summary>
    public void ReferenceDnsServer(string tag, string path) => DnsServerReferences.Add((tag, path));

    public List<(string Tag, string Path)> DnsServerReferences { get; } = [];

    /// <summary>Tags named by "rule_set" items in route and DNS rules, checked against route.rule_set.</summary>
    public List<(string Tag, string Path)> RuleSetReferences { get; } = [];

    /// <summary>
    /// Tags of outbounds and rule sets that are in the config but were refused with an error of their own: a reference
    /// to one is not reported again as "no outbound has tag", which would send the user looking for a typo.
    /// </summary>
    public HashSet<string> TagsWithErrors { get; } = new(StringComparer.Ordinal);

    /// <summary>Outbound tag → its path ("outbounds[2]"), for errors found across outbounds (detour loops).</summary>
    public Dictionary<string, string> OutboundPaths { get; } = new(StringComparer.Ordinal);

    public void CheckReferences()
    {
        // implied, as documented; first, so it is the default outbound when only endpoints are given
        if (!Outbounds.Any(o => o is not WireGuardEndpointOptions))
            Outbounds.Insert(0, new DirectOutboundOptions(ConfigDefaults.DirectTag, DialOptions.Default));

        var outbounds = Outbounds.Select(o => o.Tag).ToHashSet(StringComparer.Ordinal);
        foreach (var (tag, path) in _outboundReferences)
        {
            if (!outbounds.Contains(tag) && !TagsWithErrors.Contains(tag))
                Errors.Add(path, $"no outbound has tag {JsonPath.Quote(tag)} (outbounds: {string.Join(", ", outbounds)})");
        }
        var inbounds = TunInbounds.Select(i => i.Tag).Concat(MixedInbounds.Select(i => i.Tag)).Concat(DirectInbounds.Select(i => i.Options.Tag))
            .ToHashSet(StringComparer.Ordinal);
        foreach (var (tag, path) in _inboundReferences)
        {
            if (!inbounds.Contains(tag) && !TagsWithErrors.Contains(tag))
                Errors.Add(path, $"no inbound has tag {JsonPath.Quote(tag)}");
        }
        DirectInboundParser.CheckHijacked(this);
        DnsSection.CheckReferences(this);
        DetourLoops.Check(this);
        SubscriptionSection.CheckReferences(this);
        RuleSetSection.CheckReferences(this);
    }

    public SluiceConfig Build(JsonElement raw) => new(Log, TunInbounds.ToArray(), Outbounds.ToArray(), Route, raw) { Gate = Gate, MixedInbounds = MixedInbounds.ToArray(), DirectInbounds = DirectInbounds.Select(d => d.Options).ToArray(), Dns = Dns, Experimental = Experimental, Subscriptions = Subscriptions.ToArray(), Files = Origin.Files };
}
