using StackExchange.Redis;

namespace Lilith.Common;

/// <summary>
/// Reads the two connection string forms users bring: a StackExchange.Redis configuration string
/// (<c>localhost:6379,password=...,ssl=true</c>) or a URL as the TypeScript and Python siblings take it
/// (<c>redis://user:password@host:6379/0</c>, <c>rediss://</c> for TLS).
/// </summary>
internal static class RedisConnectionString
{
    /// <summary>Parses either form into StackExchange.Redis options.</summary>
    /// <exception cref="ArgumentException">The string is empty or is a URL that cannot be read; the message does not echo a password.</exception>
    public static ConfigurationOptions Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("The Redis connection string is empty.", nameof(connectionString));
        }

        if (!connectionString.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) &&
            !connectionString.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            return ConfigurationOptions.Parse(connectionString);
        }

        if (!Uri.TryCreate(connectionString, UriKind.Absolute, out Uri? uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException(
                $"The Redis URL '{Redact(connectionString)}' cannot be read; expected redis://[user:password@]host[:port][/database].",
                nameof(connectionString));
        }

        var options = new ConfigurationOptions
        {
            Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase),
        };
        options.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port <= 0 ? 6379 : uri.Port);
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            string[] parts = uri.UserInfo.Split(':', 2);
            if (parts.Length == 2)
            {
                if (parts[0].Length > 0)
                {
                    options.User = Uri.UnescapeDataString(parts[0]);
                }

                options.Password = Uri.UnescapeDataString(parts[1]);
            }
            else
            {
                options.Password = Uri.UnescapeDataString(parts[0]);
            }
        }

        string path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int db))
            {
                throw new ArgumentException(
                    $"The Redis URL '{Redact(connectionString)}' names database '{path}', which is not a number.",
                    nameof(connectionString));
            }

            options.DefaultDatabase = db;
        }

        return options;
    }

    /// <summary>The connection string with any password replaced, safe to log.</summary>
    public static string Redact(string connectionString)
    {
        if (connectionString.StartsWith("redis", StringComparison.OrdinalIgnoreCase) &&
            Uri.TryCreate(connectionString, UriKind.Absolute, out Uri? uri))
        {
            return string.IsNullOrEmpty(uri.UserInfo)
                ? connectionString
                : connectionString.Replace(uri.UserInfo + "@", (uri.UserInfo.Contains(':') ? uri.UserInfo.Split(':')[0] + ":***" : "***") + "@", StringComparison.Ordinal);
        }

        try
        {
            return ConfigurationOptions.Parse(connectionString).ToString(includePassword: false);
        }
        catch (ArgumentException)
        {
            return "(unreadable connection string)";
        }
    }
}
