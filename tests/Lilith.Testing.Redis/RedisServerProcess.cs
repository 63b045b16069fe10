using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace Lilith.Testing.Redis;

/// <summary>
/// A <c>redis-server</c> process this test run owns: started from PATH on a free loopback port with no
/// persistence, killed with SIGKILL and restarted on the same port for fault tests, stopped on dispose
/// (and when the test process exits, so no server outlives the run).
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<RedisServerProcess, byte> Live = new();
    private readonly string _executable;
    private readonly IReadOnlyList<string> _leadingArguments;
    private readonly IReadOnlyList<string> _extraArguments;
    private readonly RedisTlsFiles? _tls;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly string _rdbFile = $"lilith-test-{Guid.NewGuid():N}.rdb";
    private Process? _process;

    static RedisServerProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (RedisServerProcess server in Live.Keys)
            {
                server.KillNow();
            }
        };
    }

    private RedisServerProcess(string executable, int port, IReadOnlyList<string> leadingArguments, IReadOnlyList<string> extraArguments, RedisTlsFiles? tls)
    {
        _executable = executable;
        Port = port;
        _leadingArguments = leadingArguments;
        _extraArguments = extraArguments;
        _tls = tls;
    }

    /// <summary>The loopback port the server listens on; it stays the same across restarts.</summary>
    public int Port { get; }

    /// <summary>A StackExchange.Redis configuration string for the server (with <c>ssl=true</c> when it speaks TLS only).</summary>
    public string ConnectionString => _tls is null ? $"127.0.0.1:{Port}" : $"127.0.0.1:{Port},ssl=true,sslHost=localhost";

    /// <summary>The test certificates of a TLS-only server, else null.</summary>
    public RedisTlsFiles? Tls => _tls;

    /// <summary>Whether the process is running now.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The path of <c>redis-server</c> on PATH (or in the usual Debian folders), or null.</summary>
    public static string? FindExecutable() => FindTool("redis-server");

    /// <summary>The path of a Redis tool (<c>redis-server</c>, <c>redis-cli</c>) on PATH or in the usual Debian folders, or null.</summary>
    public static string? FindTool(string name)
    {
        IEnumerable<string> folders = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]);
        return folders.Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>Starts a server on a free loopback port and waits until it answers PING.</summary>
    /// <param name="extraArguments">More <c>redis-server</c> arguments, e.g. <c>--cluster-enabled yes</c>.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    public static Task<RedisServerProcess> StartAsync(IReadOnlyList<string>? extraArguments = null, CancellationToken cancellationToken = default) =>
        StartAsync([], extraArguments ?? [], tls: null, cancellationToken);

    /// <summary>
    /// Starts a server that accepts TLS connections only (no plain port), with the certificate of <paramref name="tls"/>,
    /// on a free loopback port, and waits until it answers PING over TLS.
    /// </summary>
    public static Task<RedisServerProcess> StartTlsAsync(RedisTlsFiles tls, IReadOnlyList<string>? extraArguments = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
        return StartAsync([], extraArguments ?? [], tls, cancellationToken);
    }

    /// <summary>Starts a Sentinel (<c>redis-server &lt;config&gt; --sentinel</c>) on a free loopback port with the given configuration file.</summary>
    public static Task<RedisServerProcess> StartSentinelAsync(string configFile, CancellationToken cancellationToken = default) =>
        StartAsync([configFile, "--sentinel"], [], tls: null, cancellationToken);

    private static async Task<RedisServerProcess> StartAsync(
        IReadOnlyList<string> leadingArguments, IReadOnlyList<string> extraArguments, RedisTlsFiles? tls, CancellationToken cancellationToken)
    {
        string executable = FindExecutable() ?? throw new InvalidOperationException(RedisFixture.NoRedisMessage);
        for (int attempt = 1; ; attempt++)
        {
            var server = new RedisServerProcess(executable, FreeLoopbackPort(), leadingArguments, extraArguments, tls);
            Live.TryAdd(server, 0);
            try
            {
                await server.LaunchAsync(cancellationToken).ConfigureAwait(false);
                return server;
            }
            catch (InvalidOperationException e) when (attempt < 4 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                // The free port, or a cluster node's bus port (port + 10000), was taken by another socket between the
                // check and the bind: a new process on a new port.
                await server.DisposeAsync().ConfigureAwait(false);
            }
            catch (TimeoutException) when (attempt == 1)
            {
                // Running but unanswered for the whole start deadline (seen for TLS servers while the Sentinel failover
                // tests starved this process's thread pool): a new process on a new port, once. The first failure's
                // details are lost only if the second start works.
                await server.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>Kills the server with SIGKILL (no shutdown, no save), as a crash would.</summary>
    public async Task KillAsync()
    {
        Process? process = _process;
        if (process is null || process.HasExited)
        {
            return;
        }

        process.Kill(entireProcessTree: false);
        await process.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the server again on the same port after <see cref="KillAsync"/>; waits until it answers PING.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await KillAsync().ConfigureAwait(false);
        await LaunchAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Live.TryRemove(this, out _);
        await KillAsync().ConfigureAwait(false);
        _process?.Dispose();
        _process = null;
        File.Delete(Path.Combine(Path.GetTempPath(), _rdbFile));
    }

    private void KillNow()
    {
        try
        {
            if (_process is { HasExited: false } process)
            {
                process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] listen = _tls is null
            ? ["--port", port]
            : ["--port", "0", "--tls-port", port, "--tls-cert-file", _tls.ServerCertificateFile, "--tls-key-file", _tls.ServerKeyFile,
               "--tls-ca-cert-file", _tls.CaCertificateFile, "--tls-auth-clients", "no"];
        string[] arguments =
        [
            .. _leadingArguments,
            .. listen,
            "--bind", "127.0.0.1",
            "--save", string.Empty,
            "--appendonly", "no",
            // A file of its own: a replica's full sync writes the RDB file, and a server started later from the same
            // folder with the default dump.rdb would load another test's keys.
            "--dbfilename", _rdbFile,
            "--protected-mode", "no",
            "--daemonize", "no",
            "--dir", Path.GetTempPath(),
        ];
        foreach (string argument in arguments.Concat(_extraArguments))
        {
            info.ArgumentList.Add(argument);
        }

        _process?.Dispose();
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartTimeout);
        string lastProbe = "no probe finished";
        try
        {
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException(
                        $"redis-server on port {Port} exited with code {process.ExitCode} at start:{Environment.NewLine}{string.Join(Environment.NewLine, _output)}");
                }

                string? failure = await ProbeAsync(Port, _tls is not null, deadline.Token).ConfigureAwait(false);
                if (failure is null)
                {
                    return;
                }

                lastProbe = failure;
                await Task.Delay(TimeSpan.FromMilliseconds(25), deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"redis-server{(_tls is null ? string.Empty : " (TLS)")} on port {Port} did not answer PING within {StartTimeout.TotalSeconds} s; " +
                $"process {(process.HasExited ? $"exited with code {process.ExitCode}" : "still running")}; last probe: {lastProbe}; " +
                $"output:{Environment.NewLine}{string.Join(Environment.NewLine, _output)}");
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 40 && _output.TryDequeue(out _))
        {
        }
    }

    /// <summary>Null when the server answered PING, else why not (for the timeout message).</summary>
    private static async Task<string?> ProbeAsync(int port, bool tls, CancellationToken deadline)
    {
        // One probe may hang (a TLS handshake the starting server never answers): it gets 2 s, then the caller tries
        // again, so one stuck probe cannot use up the whole start deadline.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        attempt.CancelAfter(ProbeTimeout);
        CancellationToken cancellationToken = attempt.Token;
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken).ConfigureAwait(false);
            Stream stream = client.GetStream();
            if (tls)
            {
                // Only "does it answer" is asked here; the tests' own connections check the certificate.
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, cancellationToken).ConfigureAwait(false);
                stream = ssl;
            }

            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                byte[] buffer = new byte[64];
                int read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                string reply = Encoding.ASCII.GetString(buffer, 0, read);
                return reply.StartsWith("+PONG", StringComparison.Ordinal) ? null : $"replied '{reply.TrimEnd()}'";
            }
        }
        catch (Exception e) when (e is AuthenticationException or SocketException or IOException)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
        catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
        {
            return $"no answer within {ProbeTimeout.TotalSeconds} s";
        }
    }

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    /// <summary>A port on 127.0.0.1 that nothing listens on right now.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
