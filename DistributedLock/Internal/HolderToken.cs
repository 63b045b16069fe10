using System.Globalization;
using System.Text;

namespace Lilith.DistributedLock.Internal;

/// <summary>
/// The value a holder writes into the lock key: <c>dotnet:&lt;host&gt;:&lt;pid&gt;:&lt;32 hex&gt;</c>, readable by an
/// operator (who holds it) and unique per grant (the random part). Other holders only compare it whole.
/// </summary>
internal static class HolderToken
{
    private static readonly string Origin = BuildOrigin();

    public static string New() => string.Concat(Origin, Guid.NewGuid().ToString("N"));

    private static string BuildOrigin()
    {
        var host = new StringBuilder();
        foreach (char c in Environment.MachineName)
        {
            host.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
            if (host.Length == 64)
            {
                break;
            }
        }

        if (host.Length == 0)
        {
            host.Append("unknown");
        }

        return string.Create(CultureInfo.InvariantCulture, $"dotnet:{host}:{Environment.ProcessId}:");
    }
}
