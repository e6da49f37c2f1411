using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sluice.Control;
using Sluice.Core.Dns;

namespace Sluice.Daemon;

/// <summary>
/// The dashboards' DNS tools: GET /dns/query?name=N[&amp;type=T] asks the engine's DNS server as an app would (rules,
/// cache, fakeip) and answers in mihomo's shape; POST /cache/dns/flush forgets every cached answer. 400 for a bad name
/// or type, 409 with no engine, 500 naming why a query got no answer (within the engine's DNS timeout).
/// </summary>
internal static class ClashDnsEndpoints
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(10);

    public static void Map(IEndpointRouteBuilder app, EngineSupervisor supervisor)
    {
        app.MapGet("/dns/query", async (string? name, string? type, CancellationToken requestAborted) =>
        {
            if (string.IsNullOrEmpty(name)) return ClashEndpoints.Message(StatusCodes.Status400BadRequest, "name is required: /dns/query?name=example.com&type=A");
            if (!DnsLookup.IsDomainName(name)) return ClashEndpoints.Message(StatusCodes.Status400BadRequest, $"\"{name}\" is not a domain name");
            if (!DnsType.TryParse(string.IsNullOrEmpty(type) ? "A" : type, out ushort qtype)) return ClashEndpoints.Message(StatusCodes.Status400BadRequest, "invalid query type");
            if (supervisor.Engine?.DnsServer is not { } dns) return ClashEndpoints.Message(StatusCodes.Status409Conflict, "the engine is not running");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
            timeout.CancelAfter(QueryTimeout);
            DnsLookupView answer;
            try
            {
                answer = await DnsLookup.QueryAsync(dns, name, qtype, timeout.Token);
            }
            catch (DnsLookupException e)
            {
                return ClashEndpoints.Message(StatusCodes.Status500InternalServerError, e.Message);
            }
            catch (OperationCanceledException) when (!requestAborted.IsCancellationRequested)
            {
                return ClashEndpoints.Message(StatusCodes.Status500InternalServerError, $"no answer for {name} within {QueryTimeout.TotalSeconds:0} s");
            }
            return Results.Json(new ClashDnsQuery(answer.Rcode, [new ClashDnsQuestion(answer.QuestionName, answer.QuestionType, answer.QuestionClass)], "internal",
                answer.Truncated, answer.RecursionDesired, answer.RecursionAvailable, answer.AuthenticatedData, answer.CheckingDisabled)
            {
                Answer = Records(answer.Answer),
                Authority = Records(answer.Authority),
                Additional = Records(answer.Additional),
            }, ApiJsonContext.Default.ClashDnsQuery);
        });

        app.MapPost("/cache/dns/flush", () =>
        {
            if (supervisor.Engine?.DnsServer is not { } dns) return ClashEndpoints.Message(StatusCodes.Status409Conflict, "the engine is not running: no DNS cache to flush");
            dns.FlushCache();
            return Results.NoContent();
        });
    }

    // Empty sections are left out, as mihomo and sing-box do.
    private static ClashDnsRecord[]? Records(IReadOnlyList<DnsRecordView> records) =>
        records.Count == 0 ? null : records.Select(r => new ClashDnsRecord(r.Name, r.Type, r.Ttl, r.Data)).ToArray();
}
