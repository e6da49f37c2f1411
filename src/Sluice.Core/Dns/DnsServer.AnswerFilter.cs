using Sluice.Packets;

namespace Sluice.Core.Dns;

/// <summary>
/// DNS rules with address filters (ip_cidr, ip_is_private, ip_accept_any, a rule set's ip_cidr rules: sing-box's
/// "address filter fields", the geoip-cn idiom). Such a rule is decided in two steps:
/// 1. Its other items match the query (the address items count as matching while no answer is known).
/// 2. Its server is asked; when the answer's addresses pass the filter, that answer is the client's. Otherwise the
///    answer is set aside (it stays cached for that server) and the rules after it are matched, which may send the
///    question to another server.
/// Only A and AAAA queries are filtered; for other types these rules are passed over.
/// </summary>
public sealed partial class DnsServer
{
    private bool CanFilterAnswer(Decision decision, ushort type) =>
        type is DnsType.A or DnsType.AAAA
        && decision.Kind == DecisionKind.Route
        && _servers[decision.Server].Kind == ServerKind.Upstream
        && !(type == DnsType.AAAA && decision.Strategy == DnsStrategy.Ipv4Only)
        && !(type == DnsType.A && decision.Strategy == DnsStrategy.Ipv6Only);

    private async ValueTask<int> AnswerByAddressFilterAsync(ReadOnlyMemory<byte> query, Memory<byte> response, DnsQuery parsed, int limit, string domain,
        byte[] nameWire, DnsQuerier querier, int ruleIndex, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var (rule, decision) = _rules[ruleIndex];
                var server = _servers[decision.Server];
                var (answer, cached) = await AskForRuleAsync(server, decision, nameWire, parsed.Type, ct);
                if (answer is null) return DnsResponse.WriteEmpty(query.Span, parsed, response.Span, DnsRcode.ServFail);
                if (PassesFilter(rule, domain, parsed.Type, querier, answer.Addresses))
                {
                    if (cached && _reverseMapping) Remember(answer);
                    return DnsResponse.WriteAnswer(query.Span, parsed, answer, ElapsedSeconds(answer), response.Span, limit, decision.RewriteTtl);
                }
                DnsLog.AnswerRejected(_log, domain, server.Tag, answer.Addresses.Length == 0 ? "no addresses" : string.Join(", ", answer.Addresses), ruleIndex);
                var next = DecideAfter(domain, parsed.Type, querier, ruleIndex + 1, out ruleIndex, out bool pending);
                if (!pending) return await Respond(next, query, response, parsed, nameWire, domain, limit, atOnceOnly: false, ct);
            }
        }
        catch (OperationCanceledException)
        {
            return 0; // the caller gave up (engine stopping)
        }
        catch (Exception e)
        {
            DnsLog.InternalError(_log, e);
            return ServFailOrNothing(query.Span, response.Span);
        }
    }

    /// <summary>The rule's server's answer: from the cache when it holds one for this subnet, else one exchange (shared with identical queries).</summary>
    private async Task<(DnsAnswer? Answer, bool Cached)> AskForRuleAsync(ServerEntry server, Decision decision, byte[] nameWire, ushort type, CancellationToken ct)
    {
        var subnet = decision.ClientSubnet ?? server.ClientSubnet;
        byte[] key = CacheKeyOf(nameWire, type, server.Index, subnet);
        bool useCache = _cache is not null && !decision.DisableCache;
        if (useCache && _cache!.TryGet(key, out var hit, out _))
        {
            Statistics.CacheHit();
            return (hit, true);
        }
        return (await GetOrFetch(key, server, nameWire, type, useCache, subnet).WaitAsync(ct), false);
    }

    private static bool PassesFilter(DnsRule rule, string domain, ushort type, DnsQuerier querier, NetAddress[] addresses)
    {
        var context = new DnsQueryContext(domain, type, querier);
        context.SetAnswer(addresses);
        return rule.Matches(ref context);
    }

    private Decision DecideAfter(string domain, ushort type, DnsQuerier querier, int start, out int ruleIndex, out bool pending)
    {
        var context = new DnsQueryContext(domain, type, querier);
        var decision = Decide(ref context, start, out ruleIndex);
        pending = context.AnswerPending;
        return decision;
    }
}
