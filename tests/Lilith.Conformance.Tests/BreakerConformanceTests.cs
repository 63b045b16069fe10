using System.Text.Json;
using Lilith.CircuitBreaker;
using Polly;
using BrokenCircuitException = Polly.CircuitBreaker.BrokenCircuitException;

namespace Lilith.Conformance.Tests;

/// <summary>schema/circuit-breaker.md from both sides: the shared state key and the changed channel.</summary>
public sealed class BreakerConformanceTests(RedisFixture redis) : ConformanceScenario(redis), IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (IBreakerStateStore store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task CSharp_opens_the_breaker_and_the_sibling_sees_it_open_then_closed(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using IBreakerStateStore store = BreakerStateStore.CreateRedis(await Redis.NewConnectionAsync(), sibling.Prefix, "dotnet-1");
        (ResiliencePipeline pipeline, CircuitBreakerControl control) = Breaker(store);

        await Fail(pipeline);
        await Fail(pipeline);
        Assert.Equal(CircuitState.Open, control.State);
        JsonElement open = await sibling.RunAsync("breaker-wait", "--breaker", "postgres", "--state", "open", "--timeout-ms", "10000");
        Assert.Equal(("postgres", "open", 30_000, 1, "dotnet-1"), (open.GetProperty("breaker").GetString(), open.GetProperty("state").GetString(),
            open.GetProperty("breakDurationMs").GetInt32(), open.GetProperty("opens").GetInt32(), open.GetProperty("instance").GetString()));
        Assert.InRange(open.GetProperty("retryAfterMs").GetInt64(), 20_000, 30_000);

        control.Reset();
        JsonElement closed = await sibling.RunAsync("breaker-wait", "--breaker", "postgres", "--state", "closed", "--timeout-ms", "10000");
        Assert.Equal(("closed", 0), (closed.GetProperty("state").GetString(), closed.GetProperty("opens").GetInt32()));
        Assert.False(closed.TryGetProperty("breakDurationMs", out _));
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Sibling_opens_the_breaker_and_CSharp_rejects_calls_then_closes_when_the_sibling_closes_it(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        await using IBreakerStateStore store = BreakerStateStore.CreateRedis(await Redis.NewConnectionAsync(), sibling.Prefix, "dotnet-1", TimeSpan.FromMilliseconds(200));
        (ResiliencePipeline pipeline, CircuitBreakerControl control) = Breaker(store);
        Assert.Equal(1, (await Succeed(pipeline)).Result);

        await sibling.RunAsync("breaker-write", "--breaker", "postgres", "--state", "open", "--break-ms", "30000", "--opens", "1", "--instance", $"{language}-1");
        BreakerStateSnapshot? read = await store.ReadAsync("postgres", Ct);
        Assert.NotNull(read);
        Assert.Equal((CircuitState.Open, 1, $"{language}-1", TimeSpan.FromSeconds(30)), (read.State, read.Opens, read.Instance, read.BreakDuration));
        Assert.InRange(read.RetryAfter, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => control.State == CircuitState.Open, "the C# breaker follows the sibling's opening");
        BrokenCircuitException rejected = Assert.IsType<BrokenCircuitException>((await Succeed(pipeline)).Exception);
        Assert.InRange(rejected.RetryAfter!.Value, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));

        await sibling.RunAsync("breaker-write", "--breaker", "postgres", "--state", "closed", "--opens", "0", "--instance", $"{language}-1");
        await Eventually.TrueAsync(() => control.State == CircuitState.Closed, "the C# breaker follows the sibling's close");
        Assert.Equal(1, (await Succeed(pipeline)).Result);
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Quorum_of_two_in_three_a_lone_sibling_trip_opens_no_one_else_and_a_CSharp_trip_then_opens_all(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        var (a, b) = await QuorumPairAsync(sibling);

        JsonElement lone = await sibling.RunAsync("breaker-report", [.. QuorumArguments, "--instance", $"{language}-1", "--kind", "trip"]);
        Assert.Equal((false, 1, 2), (lone.GetProperty("opened").GetBoolean(), lone.GetProperty("trips").GetInt32(), lone.GetProperty("required").GetInt32()));
        Assert.Null(await a.Store.ReadAsync("postgres", Ct));
        Assert.Equal((CircuitState.Closed, CircuitState.Closed), (a.Control.State, b.Control.State));

        await Fail(a.Pipeline);
        await Fail(a.Pipeline);
        Assert.Equal(CircuitState.Open, a.Control.State);
        await Eventually.TrueAsync(() => b.Control.State == CircuitState.Open, "the other C# instance opens with the quorum");
        JsonElement open = await sibling.RunAsync("breaker-wait", "--breaker", "postgres", "--state", "open", "--timeout-ms", "10000");
        Assert.Equal(("open", "dotnet-a", 30_000), (open.GetProperty("state").GetString(), open.GetProperty("instance").GetString(), open.GetProperty("breakDurationMs").GetInt32()));
        Assert.IsType<BrokenCircuitException>((await Succeed(b.Pipeline)).Exception);
    }

    [Theory]
    [MemberData(nameof(Sibling.Languages), MemberType = typeof(Sibling))]
    public async Task Quorum_of_two_in_three_a_lone_CSharp_trip_opens_only_itself_and_the_siblings_trip_completes_the_quorum(string language)
    {
        Sibling sibling = await SiblingAsync(language);
        var (a, b) = await QuorumPairAsync(sibling);

        await Fail(a.Pipeline);
        await Fail(a.Pipeline);
        Assert.Equal(CircuitState.Open, a.Control.State);
        JsonElement alive = await sibling.RunAsync("breaker-report", [.. QuorumArguments, "--instance", $"{language}-1", "--kind", "alive"]);
        await Eventually.TrueAsync(
            async () => (await sibling.RunAsync("breaker-report", [.. QuorumArguments, "--instance", $"{language}-1", "--kind", "alive"])).GetProperty("trips").GetInt32() == 1,
            "the C# trip is counted");
        Assert.False(alive.GetProperty("opened").GetBoolean());
        Assert.Null(await b.Store.ReadAsync("postgres", Ct));
        Assert.Equal(CircuitState.Closed, b.Control.State);
        Assert.Equal(1, (await Succeed(b.Pipeline)).Result);

        JsonElement quorum = await sibling.RunAsync("breaker-report", [.. QuorumArguments, "--instance", $"{language}-1", "--kind", "trip"]);
        Assert.Equal((true, 2), (quorum.GetProperty("opened").GetBoolean(), quorum.GetProperty("trips").GetInt32()));
        await Eventually.TrueAsync(() => b.Control.State == CircuitState.Open, "the other C# instance opens on the sibling's quorum trip");
        BreakerStateSnapshot? shared = await b.Store.ReadAsync("postgres", Ct);
        Assert.Equal((CircuitState.Open, $"{language}-1"), (shared!.State, shared.Instance));
        Assert.Equal(CircuitState.Open, a.Control.State);
    }

    private static readonly string[] QuorumArguments = ["--breaker", "postgres", "--quorum", "2", "--window-ms", "30000", "--break-ms", "30000", "--opens", "1"];

    private async Task<((ResiliencePipeline Pipeline, CircuitBreakerControl Control, IBreakerStateStore Store) A, (ResiliencePipeline Pipeline, CircuitBreakerControl Control, IBreakerStateStore Store) B)> QuorumPairAsync(Sibling sibling)
    {
        IBreakerStateStore storeA = Own(BreakerStateStore.CreateRedis(await Redis.NewConnectionAsync(), sibling.Prefix, "dotnet-a"));
        IBreakerStateStore storeB = Own(BreakerStateStore.CreateRedis(await Redis.NewConnectionAsync(), sibling.Prefix, "dotnet-b"));
        var a = Breaker(storeA, BreakerFleetPolicy.Quorum);
        var b = Breaker(storeB, BreakerFleetPolicy.Quorum);

        // Both must be listening before the quorum can open them: two subscribers on the prefix's channel.
        StackExchange.Redis.IDatabase db = (await Redis.ConnectionAsync()).GetDatabase();
        await Eventually.TrueAsync(
            async () => (long)((StackExchange.Redis.RedisResult[])(await db.ExecuteAsync("PUBSUB", "NUMSUB", $"{sibling.Prefix}:breaker:changed"))!)[1] >= 2,
            "both C# instances subscribe to the changed channel");
        return ((a.Pipeline, a.Control, storeA), (b.Pipeline, b.Control, storeB));
    }

    private IBreakerStateStore Own(IBreakerStateStore store)
    {
        _stores.Add(store);
        return store;
    }

    private readonly List<IBreakerStateStore> _stores = [];

    private static (ResiliencePipeline Pipeline, CircuitBreakerControl Control) Breaker(IBreakerStateStore store, BreakerFleetPolicy policy = BreakerFleetPolicy.AnyInstance)
    {
        var control = new CircuitBreakerControl();
        ResiliencePipeline pipeline = new ResiliencePipelineBuilder().AddLilithCircuitBreaker(new LilithCircuitBreakerOptions
        {
            Name = "postgres",
            FailureThreshold = 2,
            BreakDuration = TimeSpan.FromSeconds(30),
            StateStore = store,
            Control = control,
            FleetPolicy = policy,
            QuorumInstances = 2,
            QuorumWindow = TimeSpan.FromSeconds(30),
        }).Build();
        return (pipeline, control);
    }

    private static ValueTask<Outcome<int>> Fail(ResiliencePipeline pipeline) =>
        pipeline.ExecuteOutcomeAsync((_, _) => Outcome.FromExceptionAsValueTask<int>(new TimeoutException("boom")), ResilienceContextPool.Shared.Get(Ct), 0);

    private static ValueTask<Outcome<int>> Succeed(ResiliencePipeline pipeline) =>
        pipeline.ExecuteOutcomeAsync((_, _) => Outcome.FromResultAsValueTask(1), ResilienceContextPool.Shared.Get(Ct), 0);
}
