using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Lilith.Testing.Redis;

/// <summary>Which way through a <see cref="FaultProxy"/> a fault applies.</summary>
[Flags]
public enum FaultDirection
{
    /// <summary>Bytes the client sends (requests).</summary>
    ToServer = 1,

    /// <summary>Bytes the server sends (replies, pushes).</summary>
    ToClient = 2,

    /// <summary>Both ways.</summary>
    Both = ToServer | ToClient,
}

/// <summary>
/// A loopback TCP proxy between a client and a Redis server, controlled by the test: bytes <b>pass</b>, or the
/// network <b>hangs</b> (bytes are read and dropped, every socket stays open, no reset: what a dead switch or a
/// frozen peer looks like), connections are <b>reset</b>, or every chunk is <b>delayed</b>. Point a client at
/// <see cref="ConnectionString"/> instead of the server's.
/// </summary>
/// <remarks>
/// Dropped bytes cannot be replayed, so a connection that lost bytes while hung is reset by <see cref="Heal"/>:
/// the client sees what it would see after a real partition that outlived its TCP retransmissions.
/// Connections opened while the proxy hangs are accepted and hang too.
/// </remarks>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Link, byte> _links = new();
    private readonly Task _acceptLoop;
    private volatile FaultState _state = FaultState.Passing;

    private FaultProxy(IPEndPoint upstream)
    {
        _upstream = upstream;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The loopback port clients connect to.</summary>
    public int Port { get; }

    /// <summary>A StackExchange.Redis configuration string that reaches the server through this proxy.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>How many client connections are open through the proxy now.</summary>
    public int OpenConnections => _links.Count;

    /// <summary>How many chunks of bytes the proxy has dropped since it started.</summary>
    public long DroppedChunks => Interlocked.Read(ref _droppedChunks);

    private long _droppedChunks;

    /// <summary>Starts a proxy on a free loopback port in front of <paramref name="upstreamPort"/> on 127.0.0.1.</summary>
    public static FaultProxy Start(int upstreamPort) => new(new IPEndPoint(IPAddress.Loopback, upstreamPort));

    /// <summary>Starts a proxy in front of a server the test owns.</summary>
    public static FaultProxy Start(RedisServerProcess server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return Start(server.Port);
    }

    /// <summary>From now on bytes in <paramref name="direction"/> are read and dropped; sockets stay open.</summary>
    public void Hang(FaultDirection direction = FaultDirection.Both) => _state = _state with { Hung = direction };

    /// <summary>From now on every chunk in <paramref name="direction"/> waits <paramref name="delay"/> before it is forwarded (order is kept).</summary>
    public void Delay(TimeSpan delay, FaultDirection direction = FaultDirection.Both)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        _state = _state with
        {
            DelayToServer = direction.HasFlag(FaultDirection.ToServer) ? delay : _state.DelayToServer,
            DelayToClient = direction.HasFlag(FaultDirection.ToClient) ? delay : _state.DelayToClient,
        };
    }

    /// <summary>Resets every open connection now (TCP RST to the client, close to the server); new connections are accepted.</summary>
    public void Reset()
    {
        foreach (Link link in _links.Keys)
        {
            link.Abort();
        }
    }

    /// <summary>Bytes pass again without delay; connections that lost bytes while hung are reset.</summary>
    public void Heal()
    {
        _state = FaultState.Passing;
        foreach (Link link in _links.Keys.Where(link => link.LostBytes))
        {
            link.Abort();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Reset();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopping.
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client = await _listener.AcceptSocketAsync(_stopping.Token).ConfigureAwait(false);
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(_upstream, _stopping.Token).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                // The server is down: the client sees its connection reset, as it would connecting directly.
                Abort(client);
                server.Dispose();
                continue;
            }

            var link = new Link(this, client, server);
            _links.TryAdd(link, 0);
            link.Start();
        }
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(enable: true, seconds: 0);
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private sealed record FaultState(FaultDirection? Hung, TimeSpan DelayToServer, TimeSpan DelayToClient)
    {
        public static readonly FaultState Passing = new(null, TimeSpan.Zero, TimeSpan.Zero);

        public bool Drops(FaultDirection direction) => Hung is { } hung && hung.HasFlag(direction);

        public TimeSpan DelayOf(FaultDirection direction) => direction == FaultDirection.ToServer ? DelayToServer : DelayToClient;
    }

    /// <summary>One client connection and its connection to the server, pumped both ways.</summary>
    private sealed class Link(FaultProxy proxy, Socket client, Socket server)
    {
        private int _closed;

        public bool LostBytes { get; private set; }

        public void Start()
        {
            Task toServer = PumpAsync(client, server, FaultDirection.ToServer);
            Task toClient = PumpAsync(server, client, FaultDirection.ToClient);
            _ = Task.WhenAny(toServer, toClient).ContinueWith(_ => Abort(), TaskScheduler.Default);
        }

        public void Abort()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 1)
            {
                return;
            }

            proxy._links.TryRemove(this, out _);
            FaultProxy.Abort(client);
            FaultProxy.Abort(server);
        }

        private async Task PumpAsync(Socket from, Socket to, FaultDirection direction)
        {
            byte[] buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    int read = await from.ReceiveAsync(buffer, SocketFlags.None, proxy._stopping.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    TimeSpan delay = proxy._state.DelayOf(direction);
                    if (delay > TimeSpan.Zero && !proxy._state.Drops(direction))
                    {
                        await Task.Delay(delay, proxy._stopping.Token).ConfigureAwait(false);
                    }

                    // Read after the delay, so a hang that began during it drops the chunk too.
                    if (proxy._state.Drops(direction))
                    {
                        LostBytes = true;
                        Interlocked.Increment(ref proxy._droppedChunks);
                        continue;
                    }

                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, proxy._stopping.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // Either side closed, or the proxy stops: the link ends.
            }
        }
    }
}
