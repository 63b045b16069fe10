using System.Diagnostics;
using Lilith.DistributedLock.Internal;
using StackExchange.Redis;

namespace Lilith.DistributedLock.Tests;

/// <summary>
/// The randomized run (Jepsen's habit): several clients take one lock over and over and write to a fenced register
/// while faults hit them on a schedule drawn from a seed. The register judges the history. The seed is printed;
/// replay with LILITH_FAULT_SEED, run longer with LILITH_FAULT_SECONDS (CI: 15 s).
/// </summary>
public sealed class FencedRegisterRunTests(RedisFixture redis)
{
    private const int Clients = 4;
    private static readonly TimeSpan Lease = TimeSpan.FromMilliseconds(600);
    private readonly LockKeys _keys = new(RedisFixture.NewPrefix());

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Trait("Redis", "own-servers")]
    [Fact]
    public async Task Under_hangs_resets_delays_and_pauses_no_two_holders_overlap_and_no_accepted_token_goes_down()
    {
        int seed = FaultSchedule.Seed();
        TimeSpan duration = FaultSchedule.Duration(TimeSpan.FromSeconds(15));
        TestContext.Current.TestOutputHelper?.WriteLine($"{FaultSchedule.SeedVariable}={seed} {FaultSchedule.SecondsVariable}={duration.TotalSeconds}");

        RedisServerProcess server = await redis.StartOwnedServerAsync();
        var proxies = new FaultProxy[Clients];
        var connections = new IConnectionMultiplexer[Clients];
        var providers = new LockProvider[Clients];
        var settings = new LockProviderSettings(Lease, AutoRenew: true, MaxPollInterval: TimeSpan.FromMilliseconds(100));
        for (int i = 0; i < Clients; i++)
        {
            proxies[i] = redis.StartProxy(server);
            connections[i] = await RedisFixture.ConnectAsync(proxies[i].ConnectionString);
            providers[i] = RedisLockContractTests.Provider(connections[i], _keys, settings);
        }

        var register = new FencedRegister();
        var faults = new List<string>();
        int grants = 0;
        using var end = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        end.CancelAfter(duration);
        try
        {
            Task[] clients = [.. Enumerable.Range(0, Clients).Select(i => Task.Run(() => ClientAsync(i, new Random(seed + 1 + i)), Ct))];
            Task schedule = Task.Run(() => ScheduleAsync(new Random(seed)), Ct);
            await Task.WhenAll([.. clients, schedule]).WaitAsync(duration + TimeSpan.FromSeconds(30), Ct);
        }
        finally
        {
            foreach (IConnectionMultiplexer connection in connections)
            {
                await connection.DisposeAsync();
            }
        }

        IReadOnlyList<string> violations = register.Violations();
        string summary = $"seed {seed}: {grants} grants, {register.History.Count} writes, faults: {string.Join("; ", faults)}";
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        Assert.True(violations.Count == 0, $"{summary}{Environment.NewLine}{string.Join(Environment.NewLine, violations)}");
        Assert.True(grants >= 10, $"too few grants for the run to mean anything: {summary}");
        Assert.NotEmpty(faults);

        async Task ClientAsync(int client, Random random)
        {
            string name = $"client-{client}";
            while (!end.IsCancellationRequested)
            {
                IDistributedLockHandle? handle;
                try
                {
                    handle = await providers[client].TryAcquireAsync("register", TimeSpan.FromSeconds(2), cancellationToken: end.Token);
                }
                catch (Exception e) when (e is DistributedLockException or OperationCanceledException)
                {
                    continue;
                }

                if (handle is null)
                {
                    continue;
                }

                Interlocked.Increment(ref grants);
                for (int write = 0; write < 4 && !end.IsCancellationRequested; write++)
                {
                    // A well-behaved holder writes only while its lease holds in its own view.
                    if (handle.LostToken.IsCancellationRequested)
                    {
                        break;
                    }

                    register.TryWrite("register", name, handle.FencingToken);
                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(0, 60)), CancellationToken.None);
                }

                using var releaseWait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                try
                {
                    await handle.ReleaseAsync(releaseWait.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or RedisException)
                {
                    // The release may hang with the client's network; the lease ends by itself.
                }
            }
        }

        async Task ScheduleAsync(Random random)
        {
            while (!end.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(100, 600)), CancellationToken.None);
                int target = random.Next(Clients);
                TimeSpan span = TimeSpan.FromMilliseconds(random.Next(100, 1500));
                switch (random.Next(5))
                {
                    case 0:
                        faults.Add($"hang client-{target} {span.TotalMilliseconds} ms");
                        proxies[target].Hang((FaultDirection)random.Next(1, 4));
                        await Task.Delay(span, CancellationToken.None);
                        proxies[target].Heal();
                        break;
                    case 1:
                        faults.Add($"reset client-{target}");
                        proxies[target].Reset();
                        break;
                    case 2:
                        TimeSpan delay = TimeSpan.FromMilliseconds(random.Next(5, 200));
                        faults.Add($"delay client-{target} {delay.TotalMilliseconds} ms for {span.TotalMilliseconds} ms");
                        proxies[target].Delay(delay, (FaultDirection)random.Next(1, 4));
                        await Task.Delay(span, CancellationToken.None);
                        proxies[target].Heal();
                        break;
                    case 3:
                        PauseMode mode = random.Next(2) == 0 ? PauseMode.All : PauseMode.Write;
                        faults.Add($"pause {mode} {span.TotalMilliseconds} ms");
                        await RedisFaults.PauseAsync(server, span, mode, CancellationToken.None);
                        break;
                    default:
                        break; // a quiet spell
                }
            }
        }
    }
}
