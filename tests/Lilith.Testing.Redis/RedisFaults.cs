using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lilith.Testing.Redis;

/// <summary>Which clients a <c>CLIENT PAUSE</c> stalls.</summary>
public enum PauseMode
{
    /// <summary>Every command of every client (<c>CLIENT PAUSE ms ALL</c>).</summary>
    All,

    /// <summary>Commands that may write (<c>CLIENT PAUSE ms WRITE</c>); reads still answer.</summary>
    Write,
}

/// <summary>
/// Faults inside a Redis server the test owns: a stalled server (<c>CLIENT PAUSE</c>) and a frozen one
/// (<c>DEBUG SLEEP</c>). Each command goes over a one-shot connection of its own, so no client under test carries it.
/// Never aim these at the fixture's shared server: every test running in parallel would stall with it.
/// </summary>
public static class RedisFaults
{
    /// <summary>Arguments for <see cref="RedisFixture.StartOwnedServerAsync"/> that let <see cref="DebugSleepAsync"/> work (Redis 7 refuses DEBUG by default).</summary>
    public static readonly IReadOnlyList<string> DebugServerArguments = ["--enable-debug-command", "yes"];

    /// <summary>Stalls the clients of <paramref name="server"/> for <paramref name="duration"/>; returns once the pause is in force.</summary>
    public static Task PauseAsync(RedisServerProcess server, TimeSpan duration, PauseMode mode = PauseMode.All, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return PauseAsync(server.Port, duration, mode, cancellationToken);
    }

    /// <summary>Stalls the clients of the server on loopback port <paramref name="port"/> for <paramref name="duration"/>.</summary>
    public static async Task PauseAsync(int port, TimeSpan duration, PauseMode mode = PauseMode.All, CancellationToken cancellationToken = default)
    {
        string reply = await CommandAsync(port, cancellationToken, "CLIENT", "PAUSE", Milliseconds(duration), mode == PauseMode.All ? "ALL" : "WRITE")
            .ConfigureAwait(false);
        EnsureOk(reply, "CLIENT PAUSE");
    }

    /// <summary>Ends a <c>CLIENT PAUSE</c> before its time.</summary>
    public static async Task UnpauseAsync(RedisServerProcess server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        EnsureOk(await CommandAsync(server.Port, cancellationToken, "CLIENT", "UNPAUSE").ConfigureAwait(false), "CLIENT UNPAUSE");
    }

    /// <summary>
    /// Freezes the whole server (its event loop, replication and expiry included) for <paramref name="duration"/> with
    /// <c>DEBUG SLEEP</c>. Returns once the command is sent; the returned inner task ends when the server answers again.
    /// The server must have been started with <see cref="DebugServerArguments"/>.
    /// </summary>
    public static async Task<Task> DebugSleepAsync(RedisServerProcess server, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        string seconds = duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        Socket socket = await ConnectAsync(server.Port, cancellationToken).ConfigureAwait(false);
        await SendAsync(socket, ["DEBUG", "SLEEP", seconds], cancellationToken).ConfigureAwait(false);
        return AwaitReplyAsync(socket);

        static async Task AwaitReplyAsync(Socket socket)
        {
            using (socket)
            {
                EnsureOk(await ReadLineAsync(socket, CancellationToken.None).ConfigureAwait(false), "DEBUG SLEEP");
            }
        }
    }

    /// <summary>
    /// Sends one command on a connection of its own and returns the first line of the reply (<c>+OK</c>, <c>-ERR …</c>,
    /// <c>$12</c> …). For bulk replies use <see cref="InfoAsync"/>.
    /// </summary>
    public static async Task<string> CommandAsync(int port, CancellationToken cancellationToken, params string[] arguments)
    {
        using Socket socket = await ConnectAsync(port, cancellationToken).ConfigureAwait(false);
        await SendAsync(socket, arguments, cancellationToken).ConfigureAwait(false);
        return await ReadLineAsync(socket, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The text of <c>INFO <paramref name="section"/></c> of the server on loopback port <paramref name="port"/>.</summary>
    public static async Task<string> InfoAsync(int port, string section, CancellationToken cancellationToken = default)
    {
        using Socket socket = await ConnectAsync(port, cancellationToken).ConfigureAwait(false);
        await SendAsync(socket, ["INFO", section], cancellationToken).ConfigureAwait(false);
        string header = await ReadLineAsync(socket, cancellationToken).ConfigureAwait(false);
        if (!header.StartsWith('$'))
        {
            throw new InvalidOperationException($"INFO {section} on port {port} replied '{header}'.");
        }

        int length = int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture);
        byte[] body = new byte[length + 2];
        int read = 0;
        while (read < body.Length)
        {
            int got = await socket.ReceiveAsync(body.AsMemory(read), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw new IOException($"The server on port {port} closed the connection during INFO.");
            }

            read += got;
        }

        return Encoding.UTF8.GetString(body, 0, length);
    }

    /// <summary>The value of <paramref name="field"/> in an <c>INFO</c> text, or null.</summary>
    public static string? InfoField(string info, string field)
    {
        ArgumentNullException.ThrowIfNull(info);
        string prefix = field + ":";
        return info.Split("\r\n").FirstOrDefault(line => line.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
    }

    private static string Milliseconds(TimeSpan duration) =>
        ((long)Math.Ceiling(duration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);

    private static void EnsureOk(string reply, string command)
    {
        if (reply != "+OK")
        {
            throw new InvalidOperationException($"{command} replied '{reply}'.");
        }
    }

    private static async Task<Socket> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task SendAsync(Socket socket, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var command = new StringBuilder();
        command.Append(CultureInfo.InvariantCulture, $"*{arguments.Count}\r\n");
        foreach (string argument in arguments)
        {
            command.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(argument)}\r\n{argument}\r\n");
        }

        await socket.SendAsync(Encoding.UTF8.GetBytes(command.ToString()), SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        byte[] one = new byte[1];
        while (true)
        {
            int got = await socket.ReceiveAsync(one, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw new IOException("The server closed the connection before it replied.");
            }

            if (one[0] == (byte)'\n' && line.Count > 0 && line[^1] == (byte)'\r')
            {
                return Encoding.UTF8.GetString(line.ToArray(), 0, line.Count - 1);
            }

            line.Add(one[0]);
        }
    }
}
