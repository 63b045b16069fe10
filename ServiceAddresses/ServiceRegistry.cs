using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using Lilith.ServiceAddresses.Internal;
using YamlDotNet.Core;

namespace Lilith.ServiceAddresses;

/// <summary>
/// The effective, validated service registry of one environment, read from the shared YAML/JSON registry file
/// (format: schema/service-addresses.md, JSON Schema: schema/service-registry.schema.json).
/// </summary>
/// <example>
/// <code>
/// ServiceRegistry registry = ServiceRegistry.Load("services.yaml", "production");
/// int port = registry.GetPort("api-gateway");
/// </code>
/// </example>
public sealed class ServiceRegistry : IServiceAddresses
{
    private readonly Dictionary<string, ServiceAddress> _byName;
    private IReadOnlyList<string>? _startOrder;

    internal ServiceRegistry(string environment, IReadOnlyList<ServiceAddress> services)
    {
        Environment = environment;
        Services = services;
        _byName = new Dictionary<string, ServiceAddress>(services.Count, StringComparer.Ordinal);
        foreach (ServiceAddress service in services)
        {
            _byName[service.Name] = service;
        }
    }

    /// <inheritdoc />
    public string Environment { get; }

    /// <inheritdoc />
    public IReadOnlyList<ServiceAddress> Services { get; }

    /// <summary>
    /// The environment to use: <paramref name="configured"/> when set, else <c>DOTNET_ENVIRONMENT</c>, else
    /// <c>ASPNETCORE_ENVIRONMENT</c>, else <c>production</c> (the .NET default); always lowercase.
    /// </summary>
    public static string ResolveEnvironment(string? configured = null)
    {
        string? name = !string.IsNullOrWhiteSpace(configured) ? configured
            : System.Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") is { Length: > 0 } dotnet ? dotnet
            : System.Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") is { Length: > 0 } aspnet ? aspnet
            : "production";
        return name.Trim().ToLowerInvariant();
    }

    /// <summary>Reads, validates and resolves a registry file (<c>.yaml</c>/<c>.yml</c> or <c>.json</c>) for an environment.</summary>
    /// <param name="path">The file; its extension picks the format (anything but <c>.json</c> is read as YAML).</param>
    /// <param name="environment">The environment; null picks it as <see cref="ResolveEnvironment"/> does.</param>
    /// <exception cref="ServiceRegistryException">The file cannot be read or is not valid; lists every error.</exception>
    public static ServiceRegistry Load(string path, string? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Build(ReadFile(path), ResolveEnvironment(environment), null, checkPortsFree: false, path);
    }

    /// <summary>Reads, validates and resolves registry text for an environment.</summary>
    /// <exception cref="ServiceRegistryException">The text cannot be read or is not valid; lists every error.</exception>
    public static ServiceRegistry Parse(string text, RegistryFormat format, string? environment = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Build(ReadText(text, format), ResolveEnvironment(environment), null, checkPortsFree: false, $"({format} text)");
    }

    /// <summary>
    /// Checks a registry file for every environment it names and for the base (no overrides): every error, each
    /// with its path, none thrown. An empty list means the file is valid.
    /// </summary>
    /// <param name="path">The registry file.</param>
    /// <param name="checkPortsFree">Also check that every port on this machine (localhost, loopback, any) is free.</param>
    public static IReadOnlyList<RegistryError> Validate(string path, bool checkPortsFree = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RegistryDocument document;
        try
        {
            document = ReadFile(path);
        }
        catch (ServiceRegistryException e)
        {
            return e.Errors;
        }

        var errors = new List<RegistryError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string environment in document.Environments.Keys.Prepend("default"))
        {
            foreach (RegistryError error in RegistryBuilder.Build(document, environment, null, checkPortsFree).Errors)
            {
                if (seen.Add(error.ToString()))
                {
                    errors.Add(error);
                }
            }
        }

        return errors;
    }

    /// <inheritdoc />
    public ServiceAddress GetService(string service) =>
        _byName.TryGetValue(service, out ServiceAddress? address) ? address : throw Unknown(service);

    /// <inheritdoc />
    public bool TryGetService(string service, [NotNullWhen(true)] out ServiceAddress? address) =>
        _byName.TryGetValue(service, out address);

    /// <inheritdoc />
    public int GetPort(string service) =>
        _byName.TryGetValue(service, out ServiceAddress? address) ? address.Port : throw Unknown(service);

    /// <inheritdoc />
    public int GetPort(string service, string scheme)
    {
        ServiceAddress address = GetService(service);
        return address.Endpoints.TryGetValue(scheme, out int port)
            ? port
            : throw new KeyNotFoundException(
                $"Service '{service}' has no '{scheme}' endpoint; it has {string.Join(", ", address.Endpoints.Keys.Select(k => $"'{k}'"))}.");
    }

    /// <inheritdoc />
    public bool TryGetPort(string service, out int port)
    {
        if (_byName.TryGetValue(service, out ServiceAddress? address))
        {
            port = address.Port;
            return true;
        }

        port = 0;
        return false;
    }

    /// <inheritdoc />
    public string GetHost(string service) => GetService(service).Host;

    /// <inheritdoc />
    public bool TryGetHost(string service, [NotNullWhen(true)] out string? host)
    {
        host = _byName.TryGetValue(service, out ServiceAddress? address) ? address.Host : null;
        return host is not null;
    }

    /// <inheritdoc />
    public Uri GetUrl(string service, string? scheme = null) => GetService(service).GetUrl(scheme);

    /// <inheritdoc />
    public bool TryGetUrl(string service, string? scheme, [NotNullWhen(true)] out Uri? url)
    {
        url = _byName.TryGetValue(service, out ServiceAddress? address) && address.Endpoints.ContainsKey(scheme ?? address.Scheme)
            ? address.GetUrl(scheme)
            : null;
        return url is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> GetDependencies(string service, bool transitive = false)
    {
        ServiceAddress address = GetService(service);
        if (!transitive)
        {
            return address.Dependencies;
        }

        List<string> order = StartOrderOf([service]);
        order.Remove(service);
        return order;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> GetStartOrder() => _startOrder ??= StartOrderOf(Services.Select(s => s.Name));

    /// <inheritdoc />
    public IReadOnlyList<string> GetStartOrder(string service)
    {
        GetService(service);
        return StartOrderOf([service]);
    }

    /// <summary>
    /// Every endpoint as configuration entries <c>services:{name}:{scheme}:0 = {scheme}://{host}:{port}</c>, the
    /// layout Microsoft.Extensions.ServiceDiscovery's configuration provider reads, so <c>http://api-gateway</c>
    /// resolves with no other code.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string?>> ToConfiguration()
    {
        foreach (ServiceAddress service in Services)
        {
            foreach ((string scheme, int port) in service.Endpoints)
            {
                yield return new KeyValuePair<string, string?>(
                    $"services:{service.Name}:{scheme}:0",
                    string.Create(CultureInfo.InvariantCulture, $"{scheme}://{ServiceAddress.FormatHost(service.Host)}:{port}"));
            }
        }
    }

    internal static ServiceRegistry Build(RegistryDocument document, string environment, IReadOnlyList<OverrideSpec>? overrides,
        bool checkPortsFree, string source)
    {
        (ServiceRegistry? registry, List<RegistryError> errors) = RegistryBuilder.Build(document, environment, overrides, checkPortsFree);
        return registry ?? throw new ServiceRegistryException(source, errors);
    }

    internal static RegistryDocument ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceRegistryException(path, [new RegistryError("", $"the file cannot be read: {e.Message}")]);
        }

        RegistryFormat format = Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase) ? RegistryFormat.Json : RegistryFormat.Yaml;
        return ReadText(text, format, path);
    }

    internal static RegistryDocument ReadText(string text, RegistryFormat format, string? source = null)
    {
        source ??= $"({format} text)";
        try
        {
            RawNode root = format == RegistryFormat.Json ? JsonTreeReader.Read(text) : YamlTreeReader.Read(new StringReader(text));
            return RegistryDocument.FromTree(root);
        }
        catch (YamlException e)
        {
            int line = (int)e.Start.Line, column = (int)e.Start.Column;
            throw new ServiceRegistryException(source, [new RegistryError("", $"invalid YAML at line {line}, column {column}: {Describe(e)}", line, column)]);
        }
        catch (JsonException e)
        {
            int line = (int)(e.LineNumber ?? 0) + 1, column = (int)(e.BytePositionInLine ?? 0) + 1;
            throw new ServiceRegistryException(source, [new RegistryError("", $"invalid JSON at line {line}, column {column}: {Describe(e)}", line, column)]);
        }
    }

    private static string Describe(Exception e)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line ...): "; the position is given separately.
        string message = e.Message;
        int dash = message.LastIndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith("(Line", StringComparison.Ordinal) && dash > 0)
        {
            message = message[(dash + 3)..];
        }

        // System.Text.Json appends " LineNumber: 2 | BytePositionInLine: 4."; likewise given separately.
        int position = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (position > 0 ? message[..position] : message).TrimEnd();
    }

    private List<string> StartOrderOf(IEnumerable<string> roots)
    {
        var order = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (string root in roots)
        {
            Visit(root);
        }

        return order;

        void Visit(string name)
        {
            if (!done.Add(name))
            {
                return;
            }

            foreach (string dependency in _byName[name].Dependencies)
            {
                Visit(dependency);
            }

            order.Add(name);
        }
    }

    private UnknownServiceException Unknown(string service)
    {
        ArgumentNullException.ThrowIfNull(service);
        return new UnknownServiceException(service, Environment, NameSuggestions.Closest(service, _byName.Keys));
    }
}
