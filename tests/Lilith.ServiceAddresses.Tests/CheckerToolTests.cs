using System.Diagnostics;

namespace Lilith.ServiceAddresses.Tests;

/// <summary>The CI checker (ServiceAddresses/tool), run as a process the way CI runs it.</summary>
public sealed class CheckerToolTests
{
    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] args)
    {
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        string tool = Path.Combine(GoldenVectors.RepositoryRoot, "ServiceAddresses", "tool", "bin", configuration, "net10.0", "Lilith.ServiceAddresses.Tool.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(tool);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output + await error);
    }

    [Fact]
    public async Task A_valid_file_exits_zero()
    {
        (int code, string output) = await RunAsync("check", TestRegistries.Path("fleet.yaml"), TestRegistries.Path("fleet.json"));
        Assert.Equal(0, code);
        Assert.Contains("fleet.json: valid", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Conflicts_are_printed_and_exit_non_zero()
    {
        string path = Path.Combine(Path.GetTempPath(), $"registry-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, "services:\n  api:\n    port: 8080\n  web:\n    port: 8080\n", TestContext.Current.CancellationToken);
        try
        {
            (int code, string output) = await RunAsync("check", path);
            Assert.Equal(1, code);
            Assert.Contains("services.web.port: localhost:8080 is used by both api (http) and web (http) in environment 'default'", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Bad_usage_exits_two() => Assert.Equal(2, (await RunAsync("lint")).ExitCode);
}
