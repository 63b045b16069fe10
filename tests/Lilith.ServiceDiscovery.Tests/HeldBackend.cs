using Lilith.ServiceDiscovery.Internal;

namespace Lilith.ServiceDiscovery.Tests;

/// <summary>
/// A backend that passes everything through, except that the next load can be held after it read, and the next register
/// before it writes, until released: the tests use it to make the order of two clients' steps exact.
/// </summary>
internal sealed class HeldBackend(IDiscoveryBackend inner) : IDiscoveryBackend
{
    private readonly Hold _load = new();
    private readonly Hold _register = new();
    private int _loads;
    private int _expiredCalls;

    public int Loads => Volatile.Read(ref _loads);

    /// <summary>Holds the next load once it has read; the task completes with what it read.</summary>
    public Task<LoadReply> HoldNext() => _load.Arm<LoadReply>();

    /// <summary>Holds the next register before it reaches the data; the task completes when it is held.</summary>
    public Task<string> HoldNextRegister() => _register.Arm<string>();

    public void Release() => _load.Release();

    public void ReleaseRegister() => _register.Release();

    public async Task<LoadReply> LoadAsync(string service, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _loads);
        LoadReply reply = await inner.LoadAsync(service, cancellationToken);
        await _load.PassAsync(reply, cancellationToken);
        return reply;
    }

    public async Task<(int Status, string? Current)> RegisterAsync(string service, string id, string expectedJson, string newJson,
        IReadOnlyList<(string Dimension, string Value)> oldIndex, IReadOnlyList<(string Dimension, string Value)> newIndex, long ttlMs, CancellationToken cancellationToken)
    {
        await _register.PassAsync(id, cancellationToken);
        return await inner.RegisterAsync(service, id, expectedJson, newJson, oldIndex, newIndex, ttlMs, cancellationToken);
    }

    public string Description => inner.Description;

    public bool IsReachable => inner.IsReachable;

    public Task<bool> HeartbeatAsync(string service, string id, long ttlMs, CancellationToken cancellationToken) => inner.HeartbeatAsync(service, id, ttlMs, cancellationToken);

    public Task<int> RemoveAsync(string service, string id, string expectedJson, IReadOnlyList<(string Dimension, string Value)> index, bool expired, CancellationToken cancellationToken) =>
        inner.RemoveAsync(service, id, expectedJson, index, expired, cancellationToken);

    public Task<(int Status, string? Json)> SetHealthAsync(string service, string id, InstanceHealth health, CancellationToken cancellationToken) =>
        inner.SetHealthAsync(service, id, health, cancellationToken);

    public Task<string?> GetAsync(string service, string id, CancellationToken cancellationToken) => inner.GetAsync(service, id, cancellationToken);

    /// <summary>How many times this client asked for expired entries (its share of the sweeping).</summary>
    public int ExpiredCalls => Volatile.Read(ref _expiredCalls);

    public Task<IReadOnlyList<KeyValuePair<string, string>>> ExpiredAsync(string service, int limit, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _expiredCalls);
        return inner.ExpiredAsync(service, limit, cancellationToken);
    }

    public Task<IReadOnlyList<(string Name, double Score)>> ServicesAsync(long start, int count, CancellationToken cancellationToken) =>
        inner.ServicesAsync(start, count, cancellationToken);

    public Task<bool> TrySweepLeaseAsync(string token, long leaseMs, CancellationToken cancellationToken) => inner.TrySweepLeaseAsync(token, leaseMs, cancellationToken);

    public Task<long> CountAsync(string service, CancellationToken cancellationToken) => inner.CountAsync(service, cancellationToken);

    public Task<bool> PruneServiceAsync(string service, double score, CancellationToken cancellationToken) => inner.PruneServiceAsync(service, score, cancellationToken);

    public Task TouchServiceAsync(string service, CancellationToken cancellationToken) => inner.TouchServiceAsync(service, cancellationToken);

    /// <summary>Event payloads the backend delivered to this client, per service.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, int> Delivered { get; } = new(StringComparer.Ordinal);

    public Task SubscribeAsync(Action<string, string> onEvent, Action onReconnected, CancellationToken cancellationToken) =>
        inner.SubscribeAsync(
            (service, json) =>
            {
                Delivered.AddOrUpdate(service, 1, static (_, n) => n + 1);
                onEvent(service, json);
            },
            onReconnected,
            cancellationToken);

    public Task SubscribeServiceAsync(string? service, CancellationToken cancellationToken) => inner.SubscribeServiceAsync(service, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    /// <summary>One armed stop: the next call that passes reports what it carries and waits for the release.</summary>
    private sealed class Hold
    {
        private object? _armed;
        private TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Arm<T>()
        {
            var reached = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _armed, reached);
            return reached.Task;
        }

        public void Release() => _release.TrySetResult();

        public async Task PassAsync<T>(T value, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _armed, null) is TaskCompletionSource<T> reached)
            {
                Task release = _release.Task;
                reached.TrySetResult(value);
                await release.WaitAsync(cancellationToken);
            }
        }
    }
}
