using System.Diagnostics;

namespace Lilith.Conformance.Tests;

/// <summary>Runs one of the sibling-language programs under tests/conformance/ and captures what it prints.</summary>
internal static class SiblingProgram
{
    /// <summary>Node.js, from PATH.</summary>
    public static string Node => Find("node", "LILITH_NODE") ??
        throw new InvalidOperationException("node is not on PATH; install Node.js 20 (build/test.sh expects it on the machine).");

    /// <summary>Debian's python3 (which has python3-redis), or LILITH_PYTHON.</summary>
    public static string Python =>
        Environment.GetEnvironmentVariable("LILITH_PYTHON") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3"
        : Find("python3", "LILITH_PYTHON") ?? throw new InvalidOperationException("python3 is not on PATH.");

    /// <summary>The folder of the conformance programs.</summary>
    public static string Folder => Path.Combine(GoldenVectors.RepositoryRoot, "tests", "conformance");

    /// <summary>Runs <paramref name="executable"/> with <paramref name="arguments"/>; returns the exit code and all output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string executable, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Folder,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(executable)} {string.Join(' ', info.ArgumentList)} did not finish within {timeout}.");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    private static string? Find(string name, string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } configured
            ? configured
            : (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
                .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(folder => Path.Combine(folder, name))
                .FirstOrDefault(File.Exists);
}
