using Sluice.Core.Configuration;

namespace Sluice.Core.Dns;

public sealed partial class DnsServer
{
    internal enum DecisionKind { Route, Reject, Drop, Predefined }

    /// <summary>A rule's action, compiled: a server index, or pre-encoded predefined records.</summary>
    internal sealed class Decision
    {
        public DecisionKind Kind { get; private init; }
        public int Server { get; private init; }
        public DnsStrategy Strategy { get; private init; }
        public bool DisableCache { get; private init; }

        /// <summary>The rule's client_subnet; null = the server's (or dns.client_subnet).</summary>
        public Tun.IpPrefix? ClientSubnet { get; private init; }

        /// <summary>The rule's rewrite_ttl: the TTL every record of the answer is sent with; null = the server's.</summary>
        public uint? RewriteTtl { get; private init; }
        public DnsRcode Rcode { get; private init; }
        public byte[] Records { get; private init; } = [];
        public ushort AnswerCount { get; private init; }
        public ushort NsCount { get; private init; }
        public ushort ExtraCount { get; private init; }

        /// <summary>For the debug log.</summary>
        public string Description { get; private init; } = "";

        public static Decision Route(int server, DnsStrategy strategy, bool disableCache, string description) =>
            new() { Kind = DecisionKind.Route, Server = server, Strategy = strategy, DisableCache = disableCache, Description = description };

        public static Decision From(DnsRuleAction action, DnsOptions options, ServerEntry[] servers)
        {
            switch (action)
            {
                case DnsRouteAction route:
                    int index = Array.FindIndex(servers, s => s.Tag == route.Server);
                    if (index < 0) throw new ArgumentException($"dns.rules: no DNS server has tag \"{route.Server}\"", nameof(action));
                    var decision = Route(index, route.Strategy ?? options.Strategy, route.DisableCache, $"server {route.Server}");
                    return route.ClientSubnet is null && route.RewriteTtl is null ? decision : new Decision
                    {
                        Kind = decision.Kind, Server = index, Strategy = decision.Strategy, DisableCache = decision.DisableCache,
                        ClientSubnet = route.ClientSubnet, RewriteTtl = route.RewriteTtl,
                        Description = decision.Description + (route.ClientSubnet is null ? "" : $" client_subnet {route.ClientSubnet}")
                            + (route.RewriteTtl is null ? "" : $" rewrite_ttl {route.RewriteTtl}"),
                    };
                case DnsRejectAction reject:
                    return new Decision { Kind = reject.Drop ? DecisionKind.Drop : DecisionKind.Reject, Description = reject.Drop ? "drop" : "reject" };
                case DnsPredefinedAction predefined:
                    var records = new List<byte>();
                    foreach (string text in predefined.Answer.Concat(predefined.Ns).Concat(predefined.Extra))
                        records.AddRange(DnsRecordText.TryEncode(text, out string? error) ?? throw new ArgumentException($"dns.rules: {error}", nameof(action)));
                    return new Decision
                    {
                        Kind = DecisionKind.Predefined,
                        Rcode = predefined.Rcode,
                        Records = records.ToArray(),
                        AnswerCount = (ushort)predefined.Answer.Count,
                        NsCount = (ushort)predefined.Ns.Count,
                        ExtraCount = (ushort)predefined.Extra.Count,
                        Description = $"predefined {predefined.Rcode}",
                    };
                default:
                    throw new ArgumentException($"dns.rules: unknown action {action.GetType().Name}", nameof(action));
            }
        }
    }
}
