using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Lilith.DomainEvents.Internal;

/// <summary>
/// The default consumer name, <c>&lt;service&gt;-&lt;host&gt;-&lt;ordinal&gt;</c>. The ordinal is the lowest one whose lock
/// file (in the temp directory) this process can lock exclusively; the operating system releases the lock when the
/// process ends, even when it is killed, so a restarted process takes the same ordinal, and two live processes of
/// the service on one host never share a name.
/// </summary>
internal sealed class ConsumerIdentity : IDisposable
{
    private readonly FileStream? _lock;

    private ConsumerIdentity(string name, FileStream? held)
    {
        Name = name;
        _lock = held;
    }

    public string Name { get; }

    /// <summary>The configured name as is, or the default name with the lowest free ordinal on this host.</summary>
    public static ConsumerIdentity Acquire(string? configured, string service)
    {
        if (configured is not null)
        {
            return new ConsumerIdentity(configured, null);
        }

        string host = Environment.MachineName;
        string directory = Path.Combine(Path.GetTempPath(), "lilith-domain-events");
        Directory.CreateDirectory(directory);
        for (int ordinal = 0; ordinal < DomainEventsDefaults.MaxOrdinal; ordinal++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"{service}-{host}-{ordinal}");
            try
            {
                // FileShare.None takes an exclusive advisory lock (flock on Unix) that no other open of the file gets.
                var held = new FileStream(Path.Combine(directory, FileNameOf(name)), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return new ConsumerIdentity(name, held);
            }
            catch (IOException)
            {
                // Held by a live process of the service on this host: try the next ordinal.
            }
        }

        throw new InvalidOperationException(
            $"No free consumer ordinal below {DomainEventsDefaults.MaxOrdinal} for service '{service}' on host '{host}'; set DomainEventsOptions.ConsumerName.");
    }

    public void Dispose() => _lock?.Dispose();

    /// <summary>A file name for any consumer name: the name itself when short and plain, else its SHA-256 in hex.</summary>
    private static string FileNameOf(string name) =>
        name.Length <= 200 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? name + ".lock"
            : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(name))) + ".lock";
}
