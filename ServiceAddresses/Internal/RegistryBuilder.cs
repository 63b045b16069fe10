using System.Net;
using System.Net.Sockets;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>
/// Turns a read <see cref="RegistryDocument"/> into the effective registry of one environment: applies the
/// environment's overrides, then the configuration's, and validates the result (dependencies, cycles, port
/// conflicts, optionally free ports), collecting every error.
/// </summary>
internal static class RegistryBuilder
{
    public const string DefaultHost = "localhost";
    public const string DefaultScheme = "http";

    public static (ServiceRegistry? Registry, List<RegistryError> Errors) Build(
        RegistryDocument document, string environment, IReadOnlyList<OverrideSpec>? configurationOverrides, bool checkPortsFree)
    {
        var errors = new List<RegistryError>(document.Errors);
        var specs = new Dictionary<string, ServiceSpec>(StringComparer.Ordinal);
        foreach (ServiceSpec spec in document.Services)
        {
            specs.TryAdd(spec.Name, spec);
        }

        // Overrides naming unknown services are wrong in every environment, so all environments are checked.
        foreach (OverrideSpec o in document.Environments.Values.SelectMany(v => v).Concat(configurationOverrides ?? []))
        {
            if (!specs.ContainsKey(o.Service))
            {
                errors.Add(new RegistryError(o.Path, $"unknown service '{o.Service}'{NameSuggestions.DidYouMean(o.Service, specs.Keys)}"));
            }
        }

        var overrides = new List<OverrideSpec>();
        if (document.Environments.TryGetValue(environment, out List<OverrideSpec>? environmentOverrides))
        {
            overrides.AddRange(environmentOverrides);
        }

        overrides.AddRange(configurationOverrides ?? []);

        var endpointsOf = new Dictionary<string, List<(string Scheme, int Port, Where At)>>(StringComparer.Ordinal);
        var services = new List<ServiceAddress>(specs.Count);
        foreach (ServiceSpec spec in specs.Values)
        {
            string host = spec.Host ?? DefaultHost;
            int? port = spec.Port;
            string scheme = spec.Scheme ?? DefaultScheme;
            var portAt = new Where($"{spec.Path}.port", spec.PortAt.Line, spec.PortAt.Column);
            var extra = spec.Endpoints.ToDictionary(e => e.Scheme, e => (e.Port, At: new Where(e.Path, e.Line, e.Column)), StringComparer.Ordinal);
            foreach (OverrideSpec o in overrides.Where(o => o.Service == spec.Name))
            {
                host = o.Host ?? host;
                if (o.Port is not null)
                {
                    port = o.Port;
                    portAt = new Where($"{o.Path}.port", o.PortAt.Line, o.PortAt.Column);
                }

                scheme = o.Scheme ?? scheme;
                foreach (EndpointSpec e in o.Endpoints)
                {
                    extra[e.Scheme] = (e.Port, new Where(e.Path, e.Line, e.Column));
                }
            }

            if (port is null)
            {
                continue; // reported while reading
            }

            var list = new List<(string, int, Where)> { (scheme, port.Value, portAt) };
            var endpoints = new Dictionary<string, int>(StringComparer.Ordinal) { [scheme] = port.Value };
            foreach ((string extraScheme, (int extraPort, Where extraPath)) in extra)
            {
                if (extraScheme == scheme)
                {
                    if (extraPort != port.Value)
                    {
                        errors.Add(extraPath.Error($"{extraPort} differs from port {port.Value} of the primary '{scheme}' endpoint"));
                    }

                    continue;
                }

                endpoints[extraScheme] = extraPort;
                list.Add((extraScheme, extraPort, extraPath));
            }

            endpointsOf[spec.Name] = list;
            services.Add(new ServiceAddress(spec.Name, host, port.Value, scheme, endpoints,
                spec.Dependencies.Select(d => d.Name).ToList(), spec.Tags.ToList()));
        }

        CheckDependencies(specs, errors);
        CheckConflicts(services, endpointsOf, environment, errors);
        if (checkPortsFree)
        {
            CheckPortsFree(services, endpointsOf, errors);
        }

        return errors.Count == 0 ? (new ServiceRegistry(environment, services), errors) : (null, errors);
    }

    private static void CheckDependencies(Dictionary<string, ServiceSpec> specs, List<RegistryError> errors)
    {
        foreach (ServiceSpec spec in specs.Values)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach ((string name, string path, int line, int column) in spec.Dependencies)
            {
                if (name == spec.Name)
                {
                    errors.Add(new RegistryError(path, $"'{name}' depends on itself", line, column));
                }
                else if (!specs.ContainsKey(name))
                {
                    errors.Add(new RegistryError(path, $"unknown service '{name}'{NameSuggestions.DidYouMean(name, specs.Keys)}", line, column));
                }
                else if (!seen.Add(name))
                {
                    errors.Add(new RegistryError(path, $"'{name}' is listed twice", line, column));
                }
            }
        }

        // Depth-first search; a back edge closes a cycle, printed from where it starts on the stack.
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new List<string>();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in specs.Keys)
        {
            Visit(name);
        }

        void Visit(string name)
        {
            state[name] = 1;
            stack.Add(name);
            foreach ((string dependency, _, _, _) in specs[name].Dependencies)
            {
                if (dependency == name || !specs.ContainsKey(dependency))
                {
                    continue;
                }

                int s = state.GetValueOrDefault(dependency);
                if (s == 0)
                {
                    Visit(dependency);
                }
                else if (s == 1)
                {
                    List<string> cycle = stack.Skip(stack.IndexOf(dependency)).ToList();
                    string canonical = string.Join(",", cycle.Order(StringComparer.Ordinal));
                    if (reported.Add(canonical))
                    {
                        errors.Add(new RegistryError($"services.{dependency}.dependencies",
                            $"dependency cycle {string.Join(" -> ", cycle)} -> {dependency}"));
                    }
                }
            }

            stack.RemoveAt(stack.Count - 1);
            state[name] = 2;
        }
    }

    private static void CheckConflicts(List<ServiceAddress> services,
        Dictionary<string, List<(string Scheme, int Port, Where At)>> endpointsOf, string environment, List<RegistryError> errors)
    {
        var first = new Dictionary<(string Host, int Port), (string Service, string Scheme)>();
        foreach (ServiceAddress service in services)
        {
            foreach ((string scheme, int port, Where path) in endpointsOf[service.Name])
            {
                var key = (service.Host.ToLowerInvariant(), port);
                if (first.TryGetValue(key, out var owner))
                {
                    errors.Add(path.Error(
                        $"{ServiceAddress.FormatHost(service.Host)}:{port} is used by both {owner.Service} ({owner.Scheme}) and " +
                        $"{service.Name} ({scheme}) in environment '{environment}'"));
                }
                else
                {
                    first[key] = (service.Name, scheme);
                }
            }
        }
    }

    private static void CheckPortsFree(List<ServiceAddress> services,
        Dictionary<string, List<(string Scheme, int Port, Where At)>> endpointsOf, List<RegistryError> errors)
    {
        foreach (ServiceAddress service in services)
        {
            IPAddress? address = LocalAddress(service.Host);
            if (address is null)
            {
                continue; // not this machine: nothing to check here
            }

            foreach ((_, int port, Where path) in endpointsOf[service.Name])
            {
                try
                {
                    using var listener = new TcpListener(address, port);
                    listener.Start();
                    listener.Stop();
                }
                catch (SocketException)
                {
                    errors.Add(path.Error($"{ServiceAddress.FormatHost(service.Host)}:{port} is in use on this machine"));
                }
            }
        }
    }

    private static IPAddress? LocalAddress(string host)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? ip) && (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
            ? ip
            : null;
    }

    /// <summary>A value's path and position, for errors found after reading.</summary>
    private sealed record Where(string Path, int Line, int Column)
    {
        public RegistryError Error(string message) => new(Path, message, Line, Column);
    }
}
