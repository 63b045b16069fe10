using System.Globalization;
using System.Text.RegularExpressions;
using Lilith.Common;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>An endpoint as the file gives it.</summary>
internal sealed record EndpointSpec(string Scheme, int Port, string Path, int Line = 0, int Column = 0);

/// <summary>The endpoint values a service entry and an override entry both carry, with where they are in the file.</summary>
internal abstract class EndpointValuesSpec(string path)
{
    public string Path { get; } = path;

    public string? Host { get; set; }

    public int? Port { get; set; }

    public string? Scheme { get; set; }

    public List<EndpointSpec> Endpoints { get; } = [];

    /// <summary>Where the port value is in the file (0 when not given).</summary>
    public (int Line, int Column) PortAt { get; set; }
}

/// <summary>A service as the file gives it (before environment overrides).</summary>
internal sealed class ServiceSpec(string name, string path) : EndpointValuesSpec(path)
{
    public string Name { get; } = name;

    public List<(string Name, string Path, int Line, int Column)> Dependencies { get; } = [];

    public List<string> Tags { get; } = [];
}

/// <summary>What one environment (or the configuration) changes for one service.</summary>
internal sealed class OverrideSpec(string service, string path) : EndpointValuesSpec(path)
{
    public string Service { get; } = service;
}

/// <summary>
/// The registry file read into specs: every structural problem (wrong type, bad port, duplicate name, unknown
/// member) is collected with its path, none stops the reading of the rest.
/// </summary>
internal sealed partial class RegistryDocument
{
    public const int KnownVersion = 1;

    public List<ServiceSpec> Services { get; } = [];

    /// <summary>Environment name (lowercase) -> overrides.</summary>
    public Dictionary<string, List<OverrideSpec>> Environments { get; } = new(StringComparer.Ordinal);

    public List<RegistryError> Errors { get; } = [];

    public static RegistryDocument FromTree(RawNode root)
    {
        var document = new RegistryDocument();
        document.ReadRoot(root);
        return document;
    }

    /// <summary>Reads a mapping of service -> override (an environment block, or configuration overrides).</summary>
    public List<OverrideSpec> ReadOverrides(RawNode node, string path)
    {
        var result = new List<OverrideSpec>();
        if (Expect<RawMapping>(node, path) is not { } mapping)
        {
            return result;
        }

        var seen = new Dictionary<string, RawEntry>(StringComparer.Ordinal);
        foreach (RawEntry entry in mapping.Entries)
        {
            string servicePath = $"{path}.{entry.Key}";
            if (!seen.TryAdd(entry.Key, entry))
            {
                Add(servicePath, $"duplicate service name{FirstAt(seen[entry.Key])}", entry);
                continue;
            }

            var spec = new OverrideSpec(entry.Key, servicePath);
            if (Expect<RawMapping>(entry.Value, servicePath) is { } members)
            {
                foreach (RawEntry member in members.Entries)
                {
                    string memberPath = $"{servicePath}.{member.Key}";
                    switch (member.Key)
                    {
                        case "host" or "port" or "scheme" or "endpoints": ReadEndpointValue(spec, member, memberPath); break;
                        default: Add(memberPath, "unknown member (an override has host, port, scheme, endpoints)", member); break;
                    }
                }
            }

            result.Add(spec);
        }

        return result;
    }

    private void ReadRoot(RawNode root)
    {
        if (root is RawScalar { Value: null })
        {
            return;
        }

        if (Expect<RawMapping>(root, "(document)") is not { } mapping)
        {
            return;
        }

        foreach (RawEntry entry in mapping.Entries)
        {
            switch (entry.Key)
            {
                case "version":
                    if (ReadInt(entry.Value, "version") is { } version && version != KnownVersion)
                    {
                        Add("version", $"{version} is not known to this reader, which knows {KnownVersion}", entry);
                    }

                    break;
                case "services":
                    ReadServices(entry.Value);
                    break;
                case "environments":
                    ReadEnvironments(entry.Value);
                    break;
                default:
                    Add(entry.Key, "unknown member (a registry has version, services, environments)", entry);
                    break;
            }
        }
    }

    private void ReadServices(RawNode node)
    {
        if (Expect<RawMapping>(node, "services") is not { } mapping)
        {
            return;
        }

        var seen = new Dictionary<string, RawEntry>(StringComparer.Ordinal);
        foreach (RawEntry entry in mapping.Entries)
        {
            string path = $"services.{entry.Key}";
            if (!seen.TryAdd(entry.Key, entry))
            {
                Add(path, $"duplicate service name{FirstAt(seen[entry.Key])}", entry);
                continue;
            }

            if (DescribeNameError(entry.Key, "service") is { } nameError)
            {
                Add(path, nameError, entry);
            }

            var spec = new ServiceSpec(entry.Key, path);
            Services.Add(spec);
            if (entry.Value is RawScalar { Value: null })
            {
                Add(path, "port is missing", entry);
                continue;
            }

            if (Expect<RawMapping>(entry.Value, path) is not { } members)
            {
                continue;
            }

            foreach (RawEntry member in members.Entries)
            {
                string memberPath = $"{path}.{member.Key}";
                switch (member.Key)
                {
                    case "host" or "port" or "scheme" or "endpoints": ReadEndpointValue(spec, member, memberPath); break;
                    case "dependencies":
                        foreach ((string? text, string itemPath, RawNode item) in ReadStrings(member.Value, memberPath))
                        {
                            if (text is not null)
                            {
                                spec.Dependencies.Add((text, itemPath, item.Line, item.Column));
                            }
                        }

                        break;
                    case "tags":
                        spec.Tags.AddRange(ReadStrings(member.Value, memberPath).Where(t => t.Text is not null).Select(t => t.Text!));
                        break;
                    default:
                        Add(memberPath, "unknown member (a service has host, port, scheme, endpoints, dependencies, tags)", member);
                        break;
                }
            }

            if (spec.Port is null && !members.Entries.Any(m => m.Key == "port"))
            {
                Add(path, "port is missing", entry);
            }
        }
    }

    private void ReadEnvironments(RawNode node)
    {
        if (Expect<RawMapping>(node, "environments") is not { } mapping)
        {
            return;
        }

        foreach (RawEntry entry in mapping.Entries)
        {
            string path = $"environments.{entry.Key}";
            string key = entry.Key.ToLowerInvariant();
            if (Environments.ContainsKey(key))
            {
                Add(path, "duplicate environment name (environment names are compared case-insensitively)", entry);
                continue;
            }

            if (DescribeNameError(entry.Key, "environment") is { } nameError)
            {
                Add(path, nameError, entry);
            }

            Environments[key] = entry.Value is RawScalar { Value: null } ? [] : ReadOverrides(entry.Value, path);
        }
    }

    private void ReadEndpoints(RawNode node, string path, List<EndpointSpec> into)
    {
        if (Expect<RawMapping>(node, path) is not { } mapping)
        {
            return;
        }

        foreach (RawEntry entry in mapping.Entries)
        {
            string endpointPath = $"{path}.{entry.Key}";
            if (into.Any(e => e.Scheme == entry.Key))
            {
                Add(endpointPath, "duplicate endpoint scheme", entry);
                continue;
            }

            if (!SchemeRule().IsMatch(entry.Key))
            {
                Add(endpointPath, $"'{entry.Key}' is not a URI scheme (a letter, then letters, digits, '+', '-' or '.')", entry);
                continue;
            }

            if (ReadPort(entry.Value, endpointPath) is { } port)
            {
                into.Add(new EndpointSpec(entry.Key, port, endpointPath, entry.Value.Line, entry.Value.Column));
            }
        }
    }

    /// <summary>Reads one of the endpoint members a service entry and an override share (host, port, scheme, endpoints).</summary>
    private void ReadEndpointValue(EndpointValuesSpec spec, RawEntry member, string memberPath)
    {
        switch (member.Key)
        {
            case "host": spec.Host = ReadHost(member.Value, memberPath); break;
            case "port":
                spec.Port = ReadPort(member.Value, memberPath);
                spec.PortAt = (member.Value.Line, member.Value.Column);
                break;
            case "scheme": spec.Scheme = ReadScheme(member.Value, memberPath); break;
            default: ReadEndpoints(member.Value, memberPath, spec.Endpoints); break;
        }
    }

    private string? ReadHost(RawNode node, string path)
    {
        if (Expect<RawScalar>(node, path) is not { } scalar)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(scalar.Value) || scalar.Value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '/' or '{' or '}'))
        {
            Add(path, $"'{scalar.Value}' is not a host name or address", scalar);
            return null;
        }

        return scalar.Value;
    }

    private string? ReadScheme(RawNode node, string path)
    {
        if (Expect<RawScalar>(node, path) is not { } scalar)
        {
            return null;
        }

        if (scalar.Value is null || !SchemeRule().IsMatch(scalar.Value))
        {
            Add(path, $"'{scalar.Value}' is not a URI scheme (a letter, then letters, digits, '+', '-' or '.')", scalar);
            return null;
        }

        return scalar.Value;
    }

    private int? ReadPort(RawNode node, string path)
    {
        if (Expect<RawScalar>(node, path) is not { } scalar)
        {
            return null;
        }

        if (!long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long port))
        {
            Add(path, $"'{scalar.Value}' is not a port number", scalar);
            return null;
        }

        if (port is < 1 or > 65535)
        {
            Add(path, $"{port} is not in 1..65535", scalar);
            return null;
        }

        return (int)port;
    }

    private int? ReadInt(RawNode node, string path)
    {
        if (Expect<RawScalar>(node, path) is not { } scalar)
        {
            return null;
        }

        if (!int.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            Add(path, $"'{scalar.Value}' is not a whole number", scalar);
            return null;
        }

        return value;
    }

    private List<(string? Text, string Path, RawNode Node)> ReadStrings(RawNode node, string path)
    {
        var result = new List<(string?, string, RawNode)>();
        if (node is RawScalar { Value: null })
        {
            return result;
        }

        if (Expect<RawSequence>(node, path) is not { } sequence)
        {
            return result;
        }

        for (int i = 0; i < sequence.Items.Count; i++)
        {
            string itemPath = $"{path}[{i}]";
            RawNode item = sequence.Items[i];
            if (item is RawScalar { Value: { Length: > 0 } text })
            {
                result.Add((text, itemPath, item));
            }
            else
            {
                Add(itemPath, item is RawScalar ? "must not be empty" : $"must be text, not {item.Kind}", item);
                result.Add((null, itemPath, item));
            }
        }

        return result;
    }

    private T? Expect<T>(RawNode node, string path)
        where T : RawNode
    {
        if (node is T typed)
        {
            return typed;
        }

        string wanted = typeof(T) == typeof(RawMapping) ? "a mapping" : typeof(T) == typeof(RawSequence) ? "a list" : "a scalar";
        Add(path, $"must be {wanted}, not {(node is RawScalar { Value: null } ? "null" : node.Kind)}", node);
        return null;
    }

    private static string? DescribeNameError(string name, string what)
    {
        try
        {
            KeySchema.ValidateName(name, what);
            return null;
        }
        catch (ArgumentException e)
        {
            // The schema's message without the trailing "(Parameter 'name')".
            string message = e.Message;
            int parameter = message.IndexOf(" (Parameter", StringComparison.Ordinal);
            return parameter > 0 ? message[..parameter] : message;
        }
    }

    private static string FirstAt(RawEntry first) => first.Line > 0 ? $" (first defined at line {first.Line})" : "";

    private void Add(string path, string message, RawNode at) => Errors.Add(new RegistryError(path, message, at.Line, at.Column));

    private void Add(string path, string message, RawEntry at) => Errors.Add(new RegistryError(path, message, at.Line, at.Column));

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemeRule();
}
