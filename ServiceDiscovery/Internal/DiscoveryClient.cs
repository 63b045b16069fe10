using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Lilith.Common;
using Microsoft.Extensions.Logging;

namespace Lilith.ServiceDiscovery.Internal;

/// <summary>
/// The registry and resolver over one backend: compare-and-set writes, the local cache fed by events, revisions and
/// reloads, the heartbeat, sweep and refresh loops, and the watchers. Loops start on first use and stop on dispose;
/// dispose does not deregister (the hosted service does that on a graceful stop).
/// </summary>
internal sealed partial class DiscoveryClient : IServiceRegistry, IServiceResolver, IAsyncDisposable, IDisposable
{
    private const int MaxAttempts = 8;
    private const int SweepBatch = 100;
    private const int ServicesPage = 1000;
    private readonly IDiscoveryBackend _backend;
    private readonly DiscoveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _ttlMs;
    private readonly ConcurrentDictionary<string, ServiceEntry> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Service, string Id), LocalRegistration> _local = new();
    private readonly ConcurrentDictionary<string, ILoadBalancer> _balancers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Watcher, byte> _watchers = new();
    private readonly Channel<(string Service, string Json)> _incoming = Channel.CreateUnbounded<(string, string)>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly string _sweeperToken = Guid.NewGuid().ToString("N");
    private readonly object _gate = new();
    private readonly List<Task> _loops = [];
    private Task? _start;
    private volatile bool _outage;
    private int _disposed;

    public DiscoveryClient(IDiscoveryBackend backend, DiscoveryOptions options, TimeProvider time, ILogger logger)
    {
        _backend = backend;
        _options = options;
        _time = time;
        _logger = logger;
        _ttlMs = (long)options.Ttl.TotalMilliseconds;
    }

    public bool IsBackendReachable => _backend.IsReachable && !_outage;

    /// <summary>Where the data lives, for health reports and logs.</summary>
    internal string BackendDescription => _backend.Description;

    /// <summary>How many services the cache holds (served from memory while the backend is unreachable).</summary>
    internal int CachedServiceCount => _cache.Count;

    // ---------------------------------------------------------------- registry

    public async ValueTask RegisterAsync(string service, ServiceInstance instance, CancellationToken cancellationToken = default)
    {
        KeySchema.ValidateName(service, "service", nameof(service));
        Validate(instance);
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        using Activity? activity = DiscoveryTelemetry.Source.StartActivity("discovery register");
        activity?.SetTag("lilith.discovery.service", service);
        string json = InstanceCodec.Write(instance);
        while (true)
        {
            LocalRegistration local = _local.GetOrAdd((service, instance.Id), static _ => new LocalRegistration());
            await local.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (local.Removed)
                {
                    continue; // Deregistered meanwhile: start from a new record.
                }

                try
                {
                    await WriteRegistrationAsync(service, instance, json, local.Json ?? string.Empty, cancellationToken).ConfigureAwait(false);
                }
                catch when (local.Json is null)
                {
                    // Never written: leave nothing for the heartbeat loop to renew.
                    local.Removed = true;
                    _local.TryRemove(new((service, instance.Id), local));
                    throw;
                }

                local.Set(instance, json);
            }
            finally
            {
                local.Gate.Release();
            }

            break;
        }

        await _backend.TouchServiceAsync(service, cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteRegistrationAsync(string service, ServiceInstance instance, string json, string expected, CancellationToken cancellationToken)
    {
        IReadOnlyList<(string, string)> newIndex = InstanceCodec.IndexEntries(instance).ToList();
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            (int status, string? current) = await _backend.RegisterAsync(service, instance.Id, expected, json,
                InstanceCodec.IndexEntries(expected), newIndex, _ttlMs, cancellationToken).ConfigureAwait(false);
            if (status >= 0)
            {
                return;
            }

            expected = current ?? string.Empty;
        }

        throw new ServiceDiscoveryException($"Instance '{instance.Id}' of service '{service}' kept changing under concurrent writers; registration gave up after {MaxAttempts} attempts.");
    }

    public async ValueTask<bool> DeregisterAsync(string service, string instanceId, CancellationToken cancellationToken = default)
    {
        KeySchema.ValidateName(service, "service", nameof(service));
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        using Activity? activity = DiscoveryTelemetry.Source.StartActivity("discovery deregister");
        if (!_local.TryRemove((service, instanceId), out LocalRegistration? local))
        {
            return await RemoveStoredAsync(service, instanceId, null, cancellationToken).ConfigureAwait(false);
        }

        // Marked first, so a heartbeat that is about to register the instance again gives up; the gate waits for one
        // that is already writing, so the removal below comes after its write and no copy outlives the deregistration.
        local.Removed = true;
        await local.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RemoveStoredAsync(service, instanceId, local.Json, cancellationToken).ConfigureAwait(false) || local.Json is not null;
        }
        finally
        {
            local.Gate.Release();
        }
    }

    private async Task<bool> RemoveStoredAsync(string service, string instanceId, string? expected, CancellationToken cancellationToken)
    {
        expected ??= await _backend.GetAsync(service, instanceId, cancellationToken).ConfigureAwait(false);
        for (int attempt = 0; attempt < MaxAttempts && expected is not null; attempt++)
        {
            int status = await _backend.RemoveAsync(service, instanceId, expected, InstanceCodec.IndexEntries(expected), expired: false, cancellationToken).ConfigureAwait(false);
            if (status >= 0)
            {
                return status == 1;
            }

            expected = await _backend.GetAsync(service, instanceId, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    public async ValueTask<bool> HeartbeatAsync(string service, string instanceId, CancellationToken cancellationToken = default)
    {
        KeySchema.ValidateName(service, "service", nameof(service));
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        return await HeartbeatCoreAsync(service, instanceId, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> HeartbeatCoreAsync(string service, string instanceId, CancellationToken cancellationToken)
    {
        if (await _backend.HeartbeatAsync(service, instanceId, _ttlMs, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        if (!_local.TryGetValue((service, instanceId), out LocalRegistration? local))
        {
            return false;
        }

        // Expired, swept (missed heartbeats) or lost (Redis restarted): register it again from the local copy, which
        // publishes the change. Under the registration's gate, so a deregistration in between wins (no zombie).
        await local.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (local.Removed || local.Instance is null || local.Json is null)
            {
                return false;
            }

            await WriteRegistrationAsync(service, local.Instance, local.Json, string.Empty, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            local.Gate.Release();
        }

        await _backend.TouchServiceAsync(service, cancellationToken).ConfigureAwait(false);
        Log.Reregistered(_logger, service, instanceId);
        return true;
    }

    public async ValueTask<bool> SetHealthAsync(string service, string instanceId, InstanceHealth health, CancellationToken cancellationToken = default)
    {
        KeySchema.ValidateName(service, "service", nameof(service));
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        _local.TryGetValue((service, instanceId), out LocalRegistration? local);
        if (local is not null)
        {
            await local.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            // The script changes only the stored health member: members this client does not know survive.
            (int status, string? json) = await _backend.SetHealthAsync(service, instanceId, health, cancellationToken).ConfigureAwait(false);
            if (status == -2)
            {
                throw new ServiceDiscoveryException($"Instance '{instanceId}' of service '{service}' is not stored as a JSON object; its health cannot be set.");
            }

            if (status > 0 && local is { Removed: false, Instance: { } instance } && json is not null)
            {
                local.Set(instance with { Health = health }, json);
            }

            return status > 0;
        }
        finally
        {
            local?.Gate.Release();
        }
    }

    // ---------------------------------------------------------------- resolver

    public ValueTask<IReadOnlyList<ServiceInstance>> ResolveAsync(string service, InstanceFilter? filter = null, CancellationToken cancellationToken = default)
    {
        if (_start is { IsCompletedSuccessfully: true } && _cache.TryGetValue(service, out ServiceEntry? entry) && entry.Snapshot is { } snapshot)
        {
            return new ValueTask<IReadOnlyList<ServiceInstance>>(snapshot.Resolve(filter));
        }

        return ResolveSlowAsync(service, filter, cancellationToken);
    }

    private async ValueTask<IReadOnlyList<ServiceInstance>> ResolveSlowAsync(string service, InstanceFilter? filter, CancellationToken cancellationToken)
    {
        ServiceSnapshot snapshot = await GetSnapshotAsync(service, cancellationToken).ConfigureAwait(false);
        return snapshot.Resolve(filter);
    }

    public ValueTask<InstanceLease> SelectAsync(string service, InstanceFilter? filter = null, CancellationToken cancellationToken = default)
    {
        if (_start is { IsCompletedSuccessfully: true } && _cache.TryGetValue(service, out ServiceEntry? entry) && entry.Snapshot is { } snapshot)
        {
            return new ValueTask<InstanceLease>(Pick(service, snapshot.Resolve(filter)));
        }

        return SelectSlowAsync(service, filter, cancellationToken);
    }

    private async ValueTask<InstanceLease> SelectSlowAsync(string service, InstanceFilter? filter, CancellationToken cancellationToken)
    {
        ServiceSnapshot snapshot = await GetSnapshotAsync(service, cancellationToken).ConfigureAwait(false);
        return Pick(service, snapshot.Resolve(filter));
    }

    private InstanceLease Pick(string service, ServiceInstance[] instances)
    {
        if (instances.Length == 0)
        {
            throw new ServiceDiscoveryException($"Service '{service}' has no available instance.");
        }

        ILoadBalancer balancer = _balancers.TryGetValue(service, out ILoadBalancer? b) ? b : _balancers.GetOrAdd(service, CreateBalancer);
        return balancer.Select(instances);
    }

    private ILoadBalancer CreateBalancer(string service) =>
        _options.LoadBalancerFactory?.Invoke(service) ?? LoadBalancers.Create(_options.LoadBalancing);

    public IAsyncEnumerable<DiscoveryEvent> WatchAsync(string? service, CancellationToken cancellationToken = default)
    {
        if (service is not null)
        {
            KeySchema.ValidateName(service, "service", nameof(service));
        }

        ObjectDisposedException.ThrowIf(_disposed != 0, this);

        // The watch begins here, not at the first MoveNextAsync: every event the client receives from now on is kept
        // for it. Until the enumeration ends, or the token is cancelled even if it never starts.
        var watcher = new Watcher(service);
        _watchers.TryAdd(watcher, 0);
        watcher.Release = cancellationToken.Register(() => EndWatch(watcher));

        // Starts the subscription now; a failure is observed (and reported) by the enumeration's own start.
        _ = SubscribeAsync(service, CancellationToken.None).ContinueWith(
            static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return ReadWatchAsync(watcher, cancellationToken);
    }

    private async IAsyncEnumerable<DiscoveryEvent> ReadWatchAsync(Watcher watcher, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await SubscribeAsync(watcher.Service, cancellationToken).ConfigureAwait(false);
            if (watcher.Service is not null)
            {
                await GetSnapshotAsync(watcher.Service, cancellationToken).ConfigureAwait(false);
            }

            while (await watcher.Events.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (watcher.Events.Reader.TryRead(out DiscoveryEvent? e))
                {
                    yield return e;
                }
            }
        }
        finally
        {
            EndWatch(watcher);
        }
    }

    /// <summary>Starts the client and subscribes to the events of <paramref name="service"/> (null: of every service).</summary>
    private async Task SubscribeAsync(string? service, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        await _backend.SubscribeServiceAsync(service, cancellationToken).ConfigureAwait(false);
    }

    private void EndWatch(Watcher watcher)
    {
        _watchers.TryRemove(watcher, out _);
        watcher.Events.Writer.TryComplete();
        watcher.Release.Unregister();
    }

    /// <summary>
    /// Resolves like <see cref="ResolveAsync"/> and returns a token that is cancelled at the next change of the service's
    /// cached instances (an event applied, or a reload that found a difference). The token is taken before the instances
    /// are read, so a change that lands in between cancels it rather than being missed.
    /// </summary>
    internal async ValueTask<(ServiceInstance[] Instances, CancellationToken Changed)> ResolveWithChangeTokenAsync(
        string service, InstanceFilter? filter, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        CancellationToken changed = GetEntry(service).Changed;
        ServiceSnapshot snapshot = await GetSnapshotAsync(service, cancellationToken).ConfigureAwait(false);
        return (snapshot.Resolve(filter), changed);
    }

    private ServiceEntry GetEntry(string service)
    {
        if (!_cache.TryGetValue(service, out ServiceEntry? entry))
        {
            KeySchema.ValidateName(service, "service", nameof(service));
            entry = _cache.GetOrAdd(service, s => new ServiceEntry(s));
        }

        return entry;
    }

    private async ValueTask<ServiceSnapshot> GetSnapshotAsync(string service, CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        ServiceEntry entry = GetEntry(service);
        if (entry.Snapshot is { } ready)
        {
            return ready;
        }

        try
        {
            // Subscribed before the first load, so a change after what the load read arrives as an event.
            await _backend.SubscribeServiceAsync(service, cancellationToken).ConfigureAwait(false);
            await ReloadAsync(entry, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && entry.Snapshot is null)
        {
            throw new ServiceDiscoveryException($"Service '{service}' cannot be loaded from {_backend.Description}: {e.Message}", e);
        }

        return entry.Snapshot!;
    }

    // ---------------------------------------------------------------- cache maintenance

    private async Task ReloadAsync(ServiceEntry entry, CancellationToken cancellationToken)
    {
        await entry.ReloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long appliedBefore = Volatile.Read(ref entry.Applied);
            LoadReply reply;
            try
            {
                reply = await _backend.LoadAsync(entry.Service, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!_outage)
                {
                    _outage = true;
                    Log.Outage(_logger, entry.Service, _backend.Description, e.Message);
                }

                throw;
            }

            if (_outage)
            {
                _outage = false;
                Log.Recovered(_logger, _backend.Description);
            }

            var instances = new List<ServiceInstance>(reply.Entries.Count);
            foreach ((string id, string json) in reply.Entries)
            {
                ServiceInstance? instance = InstanceCodec.Read(json, id, out string? error);
                if (instance is null)
                {
                    DiscoveryTelemetry.Malformed.Add(1, new KeyValuePair<string, object?>("lilith.discovery.service", entry.Service));
                    Log.MalformedInstance(_logger, entry.Service, id, error!);
                    continue;
                }

                instances.Add(instance);
            }

            instances.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
            var snapshot = new ServiceSnapshot(reply.Revision, [.. instances], _options.IncludeWarning);
            List<DiscoveryEvent>? resync = null;
            bool reloadAgain;
            lock (entry)
            {
                if (entry.Applied != appliedBefore && entry.Snapshot is { } current && current.Revision >= snapshot.Revision)
                {
                    // Events applied while this load was in flight are at least as new as what it read: keep them.
                }
                else
                {
                    resync = entry.Snapshot is { } old ? Diff(entry.Service, old, snapshot) : null;
                    entry.Snapshot = snapshot;
                }

                // A change published while the first load was in flight found no snapshot to apply to; when it is
                // newer than what the load read, load once more rather than wait for the refresh interval.
                reloadAgain = entry.MissedRevision > snapshot.Revision;
                entry.MissedRevision = 0;
            }

            if (resync is { Count: > 0 })
            {
                SignalChanged(entry);
            }

            if (reloadAgain)
            {
                RequestReload(entry);
            }

            foreach (DiscoveryEvent e in resync ?? [])
            {
                Deliver(e);
            }
        }
        finally
        {
            entry.ReloadGate.Release();
        }
    }

    private List<DiscoveryEvent> Diff(string service, ServiceSnapshot old, ServiceSnapshot now)
    {
        var events = new List<DiscoveryEvent>();
        DateTimeOffset at = _time.GetUtcNow();
        Dictionary<string, ServiceInstance> before = old.All.ToDictionary(i => i.Id, StringComparer.Ordinal);
        foreach (ServiceInstance instance in now.All)
        {
            if (!before.Remove(instance.Id, out ServiceInstance? previous))
            {
                events.Add(new DiscoveryEvent(DiscoveryEventKind.Registered, service, instance.Id, now.Revision, at, instance) { IsResync = true });
            }
            else if (previous.Health != instance.Health)
            {
                events.Add(new DiscoveryEvent(DiscoveryEventKind.HealthChanged, service, instance.Id, now.Revision, at, instance) { IsResync = true });
            }
            else if (InstanceCodec.Write(previous) != InstanceCodec.Write(instance))
            {
                events.Add(new DiscoveryEvent(DiscoveryEventKind.Registered, service, instance.Id, now.Revision, at, instance) { IsResync = true });
            }
        }

        foreach (string gone in before.Keys)
        {
            events.Add(new DiscoveryEvent(DiscoveryEventKind.Deregistered, service, gone, now.Revision, at, null) { IsResync = true });
        }

        return events;
    }

    private void RequestReload(ServiceEntry entry)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await ReloadAsync(entry, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                Log.ReloadFailed(_logger, entry.Service, e.Message);
            }
            catch (OperationCanceledException)
            {
                // Disposed.
            }
        });
    }

    private async Task PumpEventsAsync(CancellationToken cancellationToken)
    {
        await foreach ((string service, string json) in _incoming.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                DiscoveryEvent? e = EventCodec.Read(json, out string? error);
                if (e is null || e.Service != service)
                {
                    DiscoveryTelemetry.Malformed.Add(1, new KeyValuePair<string, object?>("lilith.discovery.service", service));
                    Log.MalformedEvent(_logger, service, error ?? $"the event names service '{e?.Service}'");
                    if (_cache.TryGetValue(service, out ServiceEntry? cached))
                    {
                        // Whatever it announced is unknown: read the service again rather than wait for the next event's gap.
                        RequestReload(cached);
                    }

                    continue;
                }

                DiscoveryTelemetry.Events.Add(1, new KeyValuePair<string, object?>("lilith.discovery.event", EventCodec.TypeText(e.Kind)));
                if (_cache.TryGetValue(service, out ServiceEntry? entry))
                {
                    Apply(entry, e);
                }

                Deliver(e);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.EventFailed(_logger, service, ex.Message);
            }
        }
    }

    private void Apply(ServiceEntry entry, DiscoveryEvent e)
    {
        lock (entry)
        {
            if (entry.Snapshot is not { } old)
            {
                // The first load is in flight (or failed): it may have read the service before this change.
                entry.MissedRevision = Math.Max(entry.MissedRevision, e.Revision);
                return;
            }

            if (e.Revision != old.Revision + 1)
            {
                // A gap (missed events) or a revision that went back (Redis lost its data): reload in full.
                RequestReload(entry);
                return;
            }

            IEnumerable<ServiceInstance> rest = old.All.Where(i => i.Id != e.InstanceId);
            ServiceInstance[] all = e.Kind is DiscoveryEventKind.Registered or DiscoveryEventKind.HealthChanged && e.Instance is not null
                ? rest.Append(e.Instance).OrderBy(i => i.Id, StringComparer.Ordinal).ToArray()
                : rest.ToArray();
            entry.Snapshot = new ServiceSnapshot(e.Revision, all, _options.IncludeWarning);
            entry.Applied++;
        }

        // After the new snapshot is in place, so whoever refreshes on the signal reads the changed instances.
        SignalChanged(entry);
    }

    private void SignalChanged(ServiceEntry entry)
    {
        try
        {
            entry.SignalChanged();
        }
        catch (AggregateException e)
        {
            // A callback registered on the change token threw; the change itself is applied.
            Log.ChangeCallbackFailed(_logger, entry.Service, e.InnerException?.Message ?? e.Message);
        }
    }

    private void Deliver(DiscoveryEvent e)
    {
        foreach (Watcher watcher in _watchers.Keys)
        {
            if (watcher.Service is null || watcher.Service == e.Service)
            {
                watcher.Events.Writer.TryWrite(e);
            }
        }
    }

    // ---------------------------------------------------------------- loops

    private ValueTask EnsureStartedAsync(CancellationToken cancellationToken)
    {
        Task? start = _start;
        if (start is { IsCompletedSuccessfully: true })
        {
            return default;
        }

        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_gate)
        {
            if (_start is null || _start.IsFaulted || _start.IsCanceled)
            {
                _start = StartAsync();
            }

            start = _start;
        }

        return new ValueTask(start.WaitAsync(cancellationToken));
    }

    private async Task StartAsync()
    {
        await _backend.SubscribeAsync(
            (service, json) => _incoming.Writer.TryWrite((service, json)),
            OnReconnected,
            _stop.Token).ConfigureAwait(false);
        lock (_gate)
        {
            CancellationToken stop = _stop.Token;
            _loops.Add(Task.Run(() => PumpEventsAsync(stop), stop));
            _loops.Add(Task.Run(() => HeartbeatLoopAsync(stop), stop));
            _loops.Add(Task.Run(() => EveryAsync(_options.SweepInterval, SweepAllAsync, "sweep", stop), stop));
            _loops.Add(Task.Run(() => EveryAsync(_options.RefreshInterval, RefreshAllAsync, "refresh", stop), stop));
        }
    }

    private void OnReconnected()
    {
        Log.Reconnected(_logger, _backend.Description);
        CancellationToken stop = _stop.Token;
        _ = Task.Run(async () =>
        {
            try
            {
                // Renew (or re-register, when the server lost its data) our own instances first, then resync the cache;
                // once more a heartbeat interval later, when the other clients have re-registered theirs.
                foreach ((string service, string id) in _local.Keys)
                {
                    await HeartbeatCoreAsync(service, id, stop).ConfigureAwait(false);
                }

                await RefreshAllAsync(stop).ConfigureAwait(false);
                await Task.Delay(_options.HeartbeatInterval ?? _options.Ttl / 3, _time, stop).ConfigureAwait(false);
                await RefreshAllAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Disposed.
            }
            catch (Exception e)
            {
                Log.LoopFailed(_logger, "resync after reconnect", e.Message);
            }
        });
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        TimeSpan interval = _options.HeartbeatInterval ?? _options.Ttl / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
                foreach ((string service, string id) in _local.Keys)
                {
                    try
                    {
                        await HeartbeatCoreAsync(service, id, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        Log.HeartbeatFailed(_logger, service, id, e.Message);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task EveryAsync(TimeSpan interval, Func<CancellationToken, Task> work, string what, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
                await work(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log.LoopFailed(_logger, what, e.Message);
            }
        }
    }

    /// <summary>
    /// Removes expired instances of every known service and drops services left without entries from the services index.
    /// One client per prefix does it at a time: the holder of the sweeper lease (3 sweep intervals long, renewed by each pass),
    /// so the sweeping work of a fleet does not grow with its clients; when the holder stops, another takes over.
    /// </summary>
    internal async Task SweepAllAsync(CancellationToken cancellationToken)
    {
        long leaseMs = (long)(_options.SweepInterval.TotalMilliseconds * 3);
        if (!await _backend.TrySweepLeaseAsync(_sweeperToken, leaseMs, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // Every service, page by page (no cap on their number).
        for (long start = 0; ; )
        {
            IReadOnlyList<(string Name, double Score)> page = await _backend.ServicesAsync(start, ServicesPage, cancellationToken).ConfigureAwait(false);
            int pruned = 0;
            foreach ((string service, double score) in page)
            {
                if (await SweepServiceAsync(service, score, cancellationToken).ConfigureAwait(false))
                {
                    pruned++;
                }
            }

            if (page.Count < ServicesPage)
            {
                return;
            }

            start += page.Count - pruned; // the ranks after a pruned service moved down
        }
    }

    /// <summary>Sweeps one service; true when it had no entry left and was taken out of the services index.</summary>
    private async Task<bool> SweepServiceAsync(string service, double score, CancellationToken cancellationToken)
    {
        try
        {
            foreach ((string id, string json) in await _backend.ExpiredAsync(service, SweepBatch, cancellationToken).ConfigureAwait(false))
            {
                // The entry's own JSON names its index sets; one that cannot be read as an instance is removed all the same.
                int removed = await _backend.RemoveAsync(service, id, json, InstanceCodec.IndexEntries(json), expired: true, cancellationToken).ConfigureAwait(false);
                if (removed == 1)
                {
                    Log.Swept(_logger, service, id);
                }
            }

            // Only when no registration touched it since it was listed: a register then touches it again.
            return await _backend.CountAsync(service, cancellationToken).ConfigureAwait(false) == 0 &&
                await _backend.PruneServiceAsync(service, score, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // One service's failure does not keep the others from being swept.
            Log.SweepFailed(_logger, service, e);
            return false;
        }
    }

    private async Task RefreshAllAsync(CancellationToken cancellationToken)
    {
        foreach (ServiceEntry entry in _cache.Values)
        {
            await ReloadAsync(entry, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static void Validate(ServiceInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        KeySchema.ValidateName(instance.Id, "instance", nameof(instance));
        if (string.IsNullOrWhiteSpace(instance.Host))
        {
            throw new ArgumentException($"Instance '{instance.Id}': Host must not be empty.", nameof(instance));
        }

        if (instance.Port is < 1 or > 65535)
        {
            throw new ArgumentException($"Instance '{instance.Id}': Port {instance.Port} is not between 1 and 65535.", nameof(instance));
        }

        if (instance.Weight < 0)
        {
            throw new ArgumentException($"Instance '{instance.Id}': Weight {instance.Weight} is negative.", nameof(instance));
        }
    }

    /// <summary>On a graceful stop the next client takes the sweep over at its next pass, not after the lease runs out.</summary>
    private async Task GiveUpSweeperLeaseAsync()
    {
        if (_start is not { IsCompletedSuccessfully: true })
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _backend.TrySweepLeaseAsync(_sweeperToken, 0, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Redis is away: the lease runs out by itself.
        }
    }

    // Containers disposed synchronously (using ServiceProvider) still stop the loops.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _incoming.Writer.TryComplete();
        Task[] loops;
        lock (_gate)
        {
            loops = [.. _loops];
        }

        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        foreach (Watcher watcher in _watchers.Keys)
        {
            watcher.Events.Writer.TryComplete();
        }

        await GiveUpSweeperLeaseAsync().ConfigureAwait(false);
        await _backend.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>What this client registered under one (service, id); the gate orders its writes, re-registrations and removal.</summary>
    private sealed class LocalRegistration
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>The instance as last written (null until the first write succeeds).</summary>
        public ServiceInstance? Instance { get; private set; }

        /// <summary>The JSON as last written, the expected value of the next compare-and-set.</summary>
        public string? Json { get; private set; }

        public volatile bool Removed;

        public void Set(ServiceInstance instance, string json) => (Instance, Json) = (instance, json);
    }

    private sealed class ServiceEntry(string service)
    {
        private CancellationTokenSource _changed = new();

        public string Service { get; } = service;

        public SemaphoreSlim ReloadGate { get; } = new(1, 1);

        public volatile ServiceSnapshot? Snapshot;

        /// <summary>Events applied to <see cref="Snapshot"/> so far (a load compares it before and after).</summary>
        public long Applied;

        /// <summary>The newest revision of an event that came while there was no snapshot yet (0: none).</summary>
        public long MissedRevision;

        /// <summary>Cancelled at the next change of <see cref="Snapshot"/>; a new token serves the changes after it.</summary>
        public CancellationToken Changed => Volatile.Read(ref _changed).Token;

        // The fired source is not disposed: holders may still register on its token (they are then called at once),
        // and a source without a timer holds nothing that needs disposing.
        public void SignalChanged() => Interlocked.Exchange(ref _changed, new CancellationTokenSource()).Cancel();
    }

    private sealed class Watcher(string? service)
    {
        public string? Service { get; } = service;

        /// <summary>Ends the watch when the caller's token is cancelled, even if it never enumerates.</summary>
        public CancellationTokenRegistration Release { get; set; }

        public Channel<DiscoveryEvent> Events { get; } = Channel.CreateUnbounded<DiscoveryEvent>(new() { SingleReader = true });
    }
}
