using Lilith.Common;
using Lilith.Demo;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

// The backend: in-memory unless REDIS_URL names a Redis (redis://host:port or a StackExchange.Redis string).
string? redisUrl = Environment.GetEnvironmentVariable("REDIS_URL");
var backend = new DemoBackend(string.IsNullOrWhiteSpace(redisUrl) ? null : redisUrl);
Console.WriteLine(backend.IsRedis
    ? $"Backend: Redis at {RedisConnectionString.Redact(backend.RedisConnectionString!)}"
    : "Backend: in-memory (embedded default; set REDIS_URL=redis://host:port to use Redis)");

HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
if (backend.IsRedis)
{
    ConfigurationOptions options = RedisConnectionString.Parse(backend.RedisConnectionString!);
    options.AbortOnConnectFail = false;
    builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(options));
}

List<IDemoPart> parts = typeof(Program).Assembly.GetTypes()
    .Where(t => typeof(IDemoPart).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IDemoPart)Activator.CreateInstance(t)!)
    .OrderBy(p => p.Order)
    .ToList();
foreach (IDemoPart part in parts)
{
    part.Configure(builder.Services, backend);
}

using IHost host = builder.Build();
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
await host.StartAsync(stop.Token);
if (backend.IsRedis)
{
    TimeSpan ping = await host.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase().PingAsync();
    Console.WriteLine($"Redis answers PING in {ping.TotalMilliseconds:0.###} ms");
}

int failed = 0;
foreach (IDemoPart part in parts)
{
    Console.WriteLine();
    Console.WriteLine($"== {part.Title}");
    try
    {
        await part.RunAsync(host.Services, Console.Out, stop.Token);
    }
    catch (Exception e) when (e is not OperationCanceledException)
    {
        failed++;
        Console.WriteLine($"   FAILED: {e.GetType().Name}: {e.Message}");
    }
}

await host.StopAsync(CancellationToken.None);
Console.WriteLine();
Console.WriteLine($"Demo finished on the {(backend.IsRedis ? "Redis" : "in-memory")} backend: {parts.Count - failed} of {parts.Count} parts ran.");
return failed == 0 ? 0 : 1;
