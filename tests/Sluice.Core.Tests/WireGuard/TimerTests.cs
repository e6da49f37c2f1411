using Sluice.Core.Outbounds.WireGuard;

namespace Sluice.Core.Tests.WireGuard;

/// <summary>Whitepaper §6 timers on a fake clock.</summary>
public class TimerTests
{
    [Fact]
    public void Handshake_Retries_AfterRekeyTimeout()
    {
        var pair = new WgPair();
        var (first, firstBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(1));
        var initiation = Wg.Bytes(firstBuffer, first);
        pair.Clock.Advance(4.9);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
        pair.Clock.Advance(0.44); // 5 s + at most 333 ms of jitter
        var (retry, retryBuffer) = Wg.Tick(pair.A);
        Assert.Equal(WgResultKind.SendDatagram, retry.Kind);
        Assert.Equal(148, retry.Length);
        Assert.NotEqual(initiation, Wg.Bytes(retryBuffer, retry)); // fresh ephemeral and index
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
    }

    [Fact]
    public void NextTimerDue_IsUnarmed_WhenIdle_AndNamesTheRetry_AfterAnUnansweredInitiation()
    {
        var pair = new WgPair();
        Assert.Equal(long.MaxValue, pair.A.NextTimerDue()); // nothing to do: the timer thread may sleep its longest
        Wg.Encapsulate(pair.A, WgPair.AToB(1));
        double wait = TimeSpan.FromTicks(pair.A.NextTimerDue() - pair.A.Now()).TotalSeconds;
        Assert.InRange(wait, 5.0, 5.334); // REKEY_TIMEOUT plus at most 333 ms of jitter
        pair.Clock.Advance(wait - 0.01);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
        pair.Clock.Advance(0.01);
        Assert.Equal(148, Wg.Tick(pair.A).Result.Length); // the retry goes when the deadline said
    }

    [Fact]
    public void NextTimerDue_AfterTheHandshake_IsTheKeepaliveOrNewHandshake_SecondsAhead()
    {
        var pair = new WgPair();
        pair.Handshake();
        double wait = TimeSpan.FromTicks(pair.A.NextTimerDue() - pair.A.Now()).TotalSeconds;
        Assert.InRange(wait, 1.0, 180 * 3); // never sooner than the timer thread's one-second look-ahead
    }

    [Fact]
    public void AnIdleTimerThread_SleepsUntilItsDeadline_OrUntilWoken_WithNoLookAhead()
    {
        long now = 1_000_000;
        Assert.Equal(Timeout.InfiniteTimeSpan, WireGuardEndpoint.TimerSleep(long.MaxValue, now)); // nothing armed: no wake-up at all
        Assert.Equal(TimeSpan.FromSeconds(540), WireGuardEndpoint.TimerSleep(now + TimeSpan.FromSeconds(540).Ticks, now)); // key zeroing, not a 1 s poll
        Assert.Equal(TimeSpan.FromMilliseconds(100), WireGuardEndpoint.TimerSleep(now + 1, now)); // an action that cannot go yet does not spin
    }

    [Fact]
    public void TrafficThatArmsATimerBeforeTheTimerThreadWakes_WakesIt_OnceAndNotPerPacket()
    {
        var pair = new WgPair();
        pair.Handshake();
        pair.SendBToA(WgPair.BToA(2)); // B answers: A owes a keepalive, and no longer a new handshake
        pair.Clock.Advance(10.5);
        while (Wg.Tick(pair.A).Result.Kind != WgResultKind.None) { } // the keepalive goes: only key zeroing stays armed
        int wakes = 0;
        pair.A.TimerArmedEarlier += () => wakes++;
        long zeroKeys = pair.A.NextTimerDue();
        Assert.True(zeroKeys - pair.A.Now() > TimeSpan.FromSeconds(400).Ticks, "only key zeroing should be left");
        pair.A.TimerThreadSleepsUntil(zeroKeys);

        pair.SendBToA(WgPair.BToA(10)); // data received: a keepalive is owed in 10 s, long before the thread wakes
        Assert.Equal(1, wakes);
        pair.SendBToA(WgPair.BToA(11));
        pair.SendBToA(WgPair.BToA(12));
        Assert.Equal(1, wakes); // already armed: packets do not wake the thread

        pair.A.TimerThreadAwake();
        pair.A.TimerThreadSleepsUntil(pair.A.NextTimerDue()); // the woken thread now sleeps until the keepalive
        pair.SendAToB(WgPair.AToB(13)); // arms the new-handshake timer 15 s ahead: after the keepalive, no wake
        Assert.Equal(1, wakes);
    }

    [Fact]
    public void Handshake_GivesUp_AfterRekeyAttemptTime_AndDropsQueuedPackets()
    {
        var pair = new WgPair();
        Wg.Encapsulate(pair.A, WgPair.AToB(1));
        Wg.Encapsulate(pair.A, WgPair.AToB(2));
        Wg.Encapsulate(pair.A, WgPair.AToB(3));
        int initiations = 1;
        double gaveUpAt = -1;
        string? reason = null;
        for (double t = 0.25; t < 150; t += 0.25)
        {
            pair.Clock.Advance(0.25);
            for (var (r, _) = Wg.Tick(pair.A); r.Kind != WgResultKind.None; (r, _) = Wg.Tick(pair.A))
            {
                if (r.Kind == WgResultKind.SendDatagram && r.Length == 148) initiations++;
                if (r.Kind == WgResultKind.Dropped) (gaveUpAt, reason) = (t, r.Reason);
            }
            if (t < 89) Assert.Equal(3, pair.PeerBOnA.QueuedCount);
        }
        Assert.Equal(20, initiations); // 1 + MAX_TIMER_HANDSHAKES (18) + 1, as wireguard-go
        Assert.InRange(gaveUpAt, 90, 120);
        Assert.Contains("dropped 3 queued packets", reason);
        Assert.Equal(0, pair.PeerBOnA.QueuedCount);
    }

    [Fact]
    public void Rekey_IsInitiated_AfterRekeyAfterTime_ByTheInitiatorOnSend()
    {
        var pair = new WgPair();
        pair.Handshake(aInitiates: true);
        pair.Clock.Advance(119);
        Assert.Equal(WgResultKind.WriteTun, pair.SendAToB(WgPair.AToB(2)).Result.Kind);
        Assert.Equal(WgResultKind.WriteTun, pair.SendBToA(WgPair.BToA(3)).Result.Kind);
        Assert.NotEqual(148, Wg.Tick(pair.A).Result.Length);

        pair.Clock.Advance(2);
        Assert.Equal(WgResultKind.WriteTun, pair.SendBToA(WgPair.BToA(4)).Result.Kind);
        Assert.NotEqual(148, Wg.Tick(pair.B).Result.Length); // the responder does not rekey on age
        Assert.Equal(WgResultKind.WriteTun, pair.SendAToB(WgPair.AToB(5)).Result.Kind); // still sends on the old session
        var (rekey, _) = Wg.Tick(pair.A);
        Assert.Equal(WgResultKind.SendDatagram, rekey.Kind);
        Assert.Equal(148, rekey.Length);
    }

    [Fact]
    public void Rekey_IsInitiated_AfterRekeyAfterMessages()
    {
        var pair = new WgPair();
        pair.Handshake(aInitiates: false); // A is the responder: only the message count can trigger it
        pair.Clock.Advance(6);
        pair.PeerBOnA.Current!.SetNextSendCounter(WireGuardLimits.RekeyAfterMessages + 1);
        Assert.Equal(WgResultKind.WriteTun, pair.SendAToB(WgPair.AToB(2)).Result.Kind);
        Assert.Equal(148, Wg.Tick(pair.A).Result.Length);
    }

    [Fact]
    public void Session_StopsSending_AtRejectAfterMessages()
    {
        var pair = new WgPair();
        pair.Handshake();
        pair.Clock.Advance(6);
        pair.PeerBOnA.Current!.SetNextSendCounter(WireGuardLimits.RejectAfterMessages);
        var (result, _) = Wg.Encapsulate(pair.A, WgPair.AToB(2));
        Assert.Equal(148, result.Length); // queued, and a new handshake instead
        Assert.Equal(1, pair.PeerBOnA.QueuedCount);
    }

    [Fact]
    public void Data_IsRejected_AfterRejectAfterTime()
    {
        var pair = new WgPair();
        pair.Handshake();
        pair.Clock.Advance(100);
        var (sent, sentBuffer) = Wg.Encapsulate(pair.A, WgPair.AToB(2));
        var late = Wg.Bytes(sentBuffer, sent);
        pair.Clock.Advance(81); // 181 s after the handshake
        var (result, _) = Wg.Receive(pair.B, late, WgPair.AEndpoint);
        Assert.Equal(WgResultKind.Dropped, result.Kind);
        Assert.Contains("expired", result.Reason);

        var (resend, _) = Wg.Encapsulate(pair.A, WgPair.AToB(3));
        Assert.Equal(148, resend.Length); // A does not send on the dead session either
    }

    [Fact]
    public void Keepalive_IsSent_TenSecondsAfterReceivingData_WithoutSending()
    {
        var pair = new WgPair();
        pair.Handshake(); // B received data at t = 0
        pair.Clock.Advance(9.9);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.B).Result.Kind);
        pair.Clock.Advance(0.2);
        var (keepalive, buffer) = Wg.Tick(pair.B);
        Assert.Equal(WgResultKind.SendDatagram, keepalive.Kind);
        Assert.Equal(32, keepalive.Length);
        Assert.Equal(WgResultKind.None, Wg.Receive(pair.A, Wg.Bytes(buffer, keepalive), WgPair.BEndpoint).Result.Kind);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.B).Result.Kind);
    }

    [Fact]
    public void Keepalive_IsNotSent_WhenDataWentBack()
    {
        var pair = new WgPair();
        pair.Handshake();
        pair.Clock.Advance(5);
        Assert.Equal(WgResultKind.WriteTun, pair.SendBToA(WgPair.BToA(1)).Result.Kind);
        pair.Clock.Advance(5.5);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.B).Result.Kind);
    }

    [Fact]
    public void NewHandshake_WhenSentDataGetsNoAnswer_ForKeepalivePlusRekeyTimeout()
    {
        var pair = new WgPair();
        pair.Handshake();
        pair.Clock.Advance(0.5);
        Assert.Equal(WgResultKind.WriteTun, pair.SendBToA(WgPair.BToA(1)).Result.Kind); // A hears from B
        pair.Clock.Advance(0.5);
        Wg.Encapsulate(pair.A, WgPair.AToB(2)); // lost, and B goes silent
        pair.Clock.Advance(14.9);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
        pair.Clock.Advance(0.44);
        Assert.Equal(148, Wg.Tick(pair.A).Result.Length);
    }

    [Fact]
    public void PersistentKeepalive_StartsAHandshake_ThenKeepsTheMappingOpen()
    {
        var pair = new WgPair(aKeepalive: TimeSpan.FromSeconds(25));
        var (start, startBuffer) = Wg.Tick(pair.A);
        Assert.Equal(148, start.Length);
        var (response, responseBuffer) = Wg.Receive(pair.B, Wg.Bytes(startBuffer, start), WgPair.AEndpoint);
        var (confirm, _) = Wg.Receive(pair.A, Wg.Bytes(responseBuffer, response), WgPair.BEndpoint);
        Assert.Equal(32, confirm.Length);

        pair.Clock.Advance(24.9);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
        pair.Clock.Advance(0.2);
        Assert.Equal(32, Wg.Tick(pair.A).Result.Length);
        Assert.Equal(WgResultKind.None, Wg.Tick(pair.A).Result.Kind);
        pair.Clock.Advance(25);
        Assert.Equal(32, Wg.Tick(pair.A).Result.Length);
    }

    [Fact]
    public void Keys_AreZeroed_AfterThreeRejectAfterTimes()
    {
        var pair = new WgPair();
        pair.Handshake();
        for (int t = 0; t < 539; t++)
        {
            pair.Clock.Advance(1);
            while (Wg.Tick(pair.A).Result.Kind != WgResultKind.None) { }
            while (Wg.Tick(pair.B).Result.Kind != WgResultKind.None) { }
        }
        Assert.NotNull(pair.PeerBOnA.Current);
        pair.Clock.Advance(2);
        while (Wg.Tick(pair.A).Result.Kind != WgResultKind.None) { }
        Assert.Null(pair.PeerBOnA.Current);
        Assert.Null(pair.PeerBOnA.Previous);
        Assert.Equal(0, pair.A.IndexCount);
    }
}
