using System.Diagnostics;
using System.Text.Json;

namespace Lilith.Conformance.Tests;

/// <summary>
/// The Node.js or Python implementation of the schema (tests/conformance/&lt;language&gt;/cli), pointed at the test's Redis
/// and key prefix. Each call runs one schema operation in a new process and returns the JSON line it printed.
/// </summary>
internal sealed class Sibling(string language, string url, string prefix)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The languages every scenario runs with.</summary>
    public static TheoryData<string> Languages => new("node", "python");

    public string Language => language;

    /// <summary>A sibling on the fixture's Redis with a fresh key prefix.</summary>
    public static async Task<Sibling> CreateAsync(string language, RedisFixture redis) =>
        new(language, UrlOf(await redis.GetConnectionStringAsync()), RedisFixture.NewPrefix());

    public string Prefix => prefix;

    /// <summary>Runs <paramref name="command"/>; fails the test unless it exits 0; returns its JSON result.</summary>
    public async Task<JsonElement> RunAsync(string command, params string[] arguments)
    {
        (int exit, string output) = await SiblingProgram.RunAsync(Executable, Arguments(command, arguments), CallTimeout, TestContext.Current.CancellationToken);
        Assert.True(exit == 0, $"{language} {command} {string.Join(' ', arguments)} exited {exit}:{Environment.NewLine}{output}");
        return LastJson(output);
    }

    /// <summary>Starts a long-running command (a bounded wait) and returns once it printed its first line (e.g. subscribed).</summary>
    public async Task<Running> StartAsync(string command, params string[] arguments)
    {
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = SiblingProgram.Folder,
        };
        foreach (string argument in Arguments(command, arguments))
        {
            info.ArgumentList.Add(argument);
        }

        var running = new Running(Process.Start(info)!, $"{language} {command}");
        await running.FirstLineAsync(CallTimeout);
        return running;
    }

    private string Executable => language switch
    {
        "node" => SiblingProgram.Node,
        "python" => SiblingProgram.Python,
        _ => throw new ArgumentOutOfRangeException(nameof(language), language, "node or python"),
    };

    /// <summary>The program: this repository's (tests/conformance/&lt;language&gt;/cli), or a sibling package's own from LILITH_NODE_CLI / LILITH_PYTHON_CLI.</summary>
    private string Program => language == "node"
        ? Environment.GetEnvironmentVariable("LILITH_NODE_CLI") is { Length: > 0 } nodeCli ? nodeCli : "node/cli.mjs"
        : Environment.GetEnvironmentVariable("LILITH_PYTHON_CLI") is { Length: > 0 } pythonCli ? pythonCli : "python/cli.py";

    private IEnumerable<string> Arguments(string command, string[] arguments) =>
        [Program, command, "--url", url, "--prefix", prefix, .. arguments];

    /// <summary>The redis:// URL of a StackExchange.Redis configuration string ("host:port,options" or a URL already).</summary>
    private static string UrlOf(string connectionString) =>
        connectionString.Contains("://", StringComparison.Ordinal) ? connectionString : "redis://" + connectionString.Split(',')[0].Trim();

    private static JsonElement LastJson(string output)
    {
        string? line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        Assert.True(line is not null, $"no JSON line in:{Environment.NewLine}{output}");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>A started sibling process; its output lines are collected as they come.</summary>
    internal sealed class Running : IDisposable
    {
        private readonly Process _process;
        private readonly string _what;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();
        private readonly TaskCompletionSource _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Running(Process process, string what)
        {
            _process = process;
            _what = what;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _lines.Enqueue(e.Data);
                    _firstLine.TrySetResult();
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _lines.Enqueue(e.Data);
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        private string Output => string.Join(Environment.NewLine, _lines);

        public async Task FirstLineAsync(TimeSpan timeout)
        {
            Task exited = _process.WaitForExitAsync(TestContext.Current.CancellationToken);
            await Task.WhenAny(_firstLine.Task, exited).WaitAsync(timeout, TestContext.Current.CancellationToken);
            Assert.True(_firstLine.Task.IsCompleted, $"{_what} ended before it was ready: {Output}");
        }

        /// <summary>Waits for the process to end; fails the test unless it exits 0; returns its JSON result.</summary>
        public async Task<JsonElement> ResultAsync()
        {
            await _process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(CallTimeout, TestContext.Current.CancellationToken);
            Assert.True(_process.ExitCode == 0, $"{_what} exited {_process.ExitCode}:{Environment.NewLine}{Output}");
            return LastJson(Output);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }
    }
}

/// <summary>Polling with a generous deadline, for what another process makes true.</summary>
internal static class Eventually
{
    public static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    public static async Task TrueAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Within, $"Not true within {Within.TotalSeconds:0} s: {what}");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    public static Task TrueAsync(Func<bool> condition, string what) => TrueAsync(() => Task.FromResult(condition()), what);
}
