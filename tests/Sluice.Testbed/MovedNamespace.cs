// Transitional: the testbed moved from src/Sluice.Cli/Testbed (namespace Sluice.Cli.Testbed) to this
// project (namespace Sluice.Testbed). Tests written on branches before the move still say
// `using Sluice.Cli.Testbed;`; this keeps that namespace alive, and Sluice.E2E imports Sluice.Testbed
// globally, so they compile unchanged. Delete once no test names the old namespace.
namespace Sluice.Cli.Testbed;

/// <summary>Marks the old namespace; see the comment at the top of this file.</summary>
public static class MovedToSluiceTestbed;
