using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Lilith.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Lilith.Benchmarks.ServiceDiscovery;

/// <summary>
/// Steady-state Redis work of a fleet by number of clients: 100 services x 3 instances registered (one owner client
/// heartbeating them), 1, 10 or 50 reader clients that each resolve 5 of the services, default intervals (heartbeat 5 s,
/// sweep 5 s, refresh 30 s). Setup measures one 30 s window: Redis commands per second from INFO commandstats, and the
/// change events each reader received for 100 changes in services it does not use. The time BenchmarkDotNet reports is
/// meaningless; the numbers go to benchmarks/results/DiscoveryFleetLoad.md (one row per case, appended).
/// </summary>
[Config(typeof(Once))]
public class DiscoveryFleetLoadBenchmarks
{
    /// <summary>One in-process invocation per case: the measurement happens in the setup.</summary>
    private sealed class Once : ManualConfig
    {
        public Once() => AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithInvocationCount(1).WithUnrollFactor(1).WithLaunchCount(1)
            .WithWarmupCount(0).WithIterationCount(1).WithToolchain(InProcessEmitToolchain.Instance).WithId("once"));
    }

    private const int Services = 100;
    private const int PerService = 3;
    private const int UsedPerReader = 5;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(30);

    /// <summary>Reader clients besides the owner of the instances.</summary>
    [Params(1, 10, 50)]
    public int Clients { get; set; }

    /// <summary>Registers the fleet, starts the readers, measures the window and appends the row.</summary>
    [GlobalSetup]
    public async Task MeasureAsync()
    {
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        string prefix = "fleet-" + Guid.NewGuid().ToString("N")[..6];
        var providers = new List<ServiceProvider>();
        long events = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Lilith.ServiceDiscovery" && instrument.Name == "lilith.discovery.events")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref events, value));
        listener.Start();
        try
        {
            ServiceProvider owner = await ClientAsync(redis, prefix);
            providers.Add(owner);
            IServiceRegistry registry = owner.GetRequiredService<IServiceRegistry>();
            for (int s = 0; s < Services; s++)
            {
                for (int i = 0; i < PerService; i++)
                {
                    await registry.RegisterAsync($"svc-{s}", Instance(s, i, "1"));
                }
            }

            for (int c = 0; c < Clients; c++)
            {
                ServiceProvider reader = await ClientAsync(redis, prefix);
                providers.Add(reader);
                for (int u = 0; u < UsedPerReader; u++)
                {
                    await reader.GetRequiredService<IServiceResolver>().ResolveAsync($"svc-{u}");
                }
            }

            ConfigurationOptions admin = ConfigurationOptions.Parse(redis.ConnectionString);
            admin.AllowAdmin = true; // INFO
            await using ConnectionMultiplexer stats = await ConnectionMultiplexer.ConnectAsync(admin);
            IServer server = stats.GetServers()[0];
            Dictionary<string, long> before = await CommandCallsAsync(server);
            Interlocked.Exchange(ref events, 0);
            var clock = Stopwatch.StartNew();

            // 100 changes in services no reader uses (svc-50 .. svc-99), spread over the window.
            for (int k = 0; k < 100; k++)
            {
                await registry.RegisterAsync($"svc-{50 + (k % 50)}", Instance(50 + (k % 50), 0, k.ToString(CultureInfo.InvariantCulture)));
                await Task.Delay(Window / 110);
            }

            await Task.Delay(Window - clock.Elapsed > TimeSpan.Zero ? Window - clock.Elapsed : TimeSpan.Zero);
            double seconds = clock.Elapsed.TotalSeconds;
            long received = Interlocked.Read(ref events);
            Dictionary<string, long> after = await CommandCallsAsync(server);
            var byCommand = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach ((string name, long n) in after)
            {
                long delta = n - before.GetValueOrDefault(name);
                if (delta > 0 && name != "info")
                {
                    byCommand[name] = delta;
                }
            }

            long calls = byCommand.Values.Sum();

            // Every event counted is of a service the receiving client does not use (the owner resolves nothing, the readers
            // only svc-0 .. svc-4); the counter is process-wide, so the last column is its total over the owner and the readers.
            string row = string.Create(CultureInfo.InvariantCulture,
                $"| {Environment.GetEnvironmentVariable("LILITH_BENCH_LABEL") ?? "this build"} | {Clients} | {calls / seconds:0.0} | {string.Join(", ", byCommand.Select(p => $"{p.Key.Replace('|', ' ')} {p.Value / seconds:0.0}"))} | {(double)received / (Clients + 1):0.0} |");
            string file = Path.Combine(Root(), "benchmarks", "results", "DiscoveryFleetLoad.md");
            if (!File.Exists(file))
            {
                await File.WriteAllTextAsync(file,
                    "<!-- DiscoveryFleetLoadBenchmarks: 100 services x 3 instances, one owner client, N readers resolving 5 services each, default intervals, one 30 s window -->\n" +
                    "| build | reader clients | Redis commands/s | by command (calls/s) | events received per client for 100 changes in services it does not use |\n|---|---:|---:|---|---:|\n");
            }

            await File.AppendAllTextAsync(file, row + "\n");
            Console.WriteLine(row);
        }
        finally
        {
            foreach (ServiceProvider provider in providers)
            {
                await provider.DisposeAsync();
            }
        }
    }

    /// <summary>Calls per command so far (INFO commandstats; CONFIG RESETSTAT needs admin mode).</summary>
    private static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (IGrouping<string, KeyValuePair<string, string>> section in await server.InfoAsync("commandstats"))
        {
            foreach ((string key, string value) in section)
            {
                if (value.StartsWith("calls=", StringComparison.Ordinal))
                {
                    calls[key.Replace("cmdstat_", string.Empty, StringComparison.Ordinal)] =
                        long.Parse(value["calls=".Length..value.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
                }
            }
        }

        return calls;
    }

    /// <summary>Nothing to time: the measurement is the setup's window.</summary>
    [Benchmark]
    public int Steady() => Clients;

    private static ServiceInstance Instance(int service, int i, string build) => new()
    {
        Id = $"svc-{service}-{i}", Host = "127.0.0.1", Port = 9000 + i, Metadata = new Dictionary<string, string> { ["build"] = build },
    };

    private static async Task<ServiceProvider> ClientAsync(BenchmarkRedis redis, string prefix)
    {
        var services = new ServiceCollection();
        services.AddSingleton(await redis.ConnectAsync());
        services.AddServiceDiscovery((DiscoveryOptions o) => o.KeyPrefix = prefix);
        return services.BuildServiceProvider();
    }

    private static string Root()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Libraries.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("Libraries.sln not found above " + AppContext.BaseDirectory);
    }
}
