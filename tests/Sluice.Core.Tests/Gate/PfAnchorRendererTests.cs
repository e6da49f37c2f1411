using Sluice.Core.Gate;

namespace Sluice.Core.Tests.Gate;

/// <summary>macOS rendering: golden files only (pf and launchd cannot run on Linux).</summary>
public class PfAnchorRendererTests
{
    [Fact]
    public void ModeAll_BlocksEverythingButLoopbackTunAndTheEngineGroup() =>
        Golden.Match("macos-all.pf", PfAnchorRenderer.Render(GatePlans.Plan(GateMode.All, lan: true, dns: ["9.9.9.9"]), "utun7"));

    [Fact]
    public void ModeProtected_HoldsByUser() =>
        Golden.Match("macos-protected.pf", PfAnchorRenderer.Render(GatePlans.Plan(GateMode.Protected, uids: [501, 502]), "utun7"));

    [Fact]
    public void LaunchDaemon_RunsGateApplyAtLoad() =>
        Golden.Match("com.sluice.gate.plist", PfAnchorRenderer.RenderLaunchd(["/usr/local/bin/sluice"], "/etc/sluice/config.json"));
}
