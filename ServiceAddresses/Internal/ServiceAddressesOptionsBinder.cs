using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lilith.ServiceAddresses.Internal;

/// <summary>
/// Reads <see cref="ServiceAddressesOptions"/> from configuration by hand, so a bad value becomes a start error
/// naming the key and the value (not a binder exception), and the Registry child can be kept as a registry source.
/// </summary>
internal sealed class ServiceAddressesOptionsBinder(IServiceProvider services) : IConfigureOptions<ServiceAddressesOptions>
{
    public void Configure(ServiceAddressesOptions options)
    {
        if (services.GetService<IConfiguration>() is { } configuration)
        {
            IConfigurationSection section = configuration.GetSection(ServiceAddressesOptions.SectionName);
            if (section.Exists())
            {
                Bind(section, options, section.Path);
            }
        }
    }

    public static void Bind(IConfiguration section, ServiceAddressesOptions options, string path)
    {
        string At(string key) => path.Length == 0 ? key : $"{path}:{key}";
        void BindFlag(string key, Action<bool> set)
        {
            if (section[key] is { } text)
            {
                if (bool.TryParse(text, out bool value))
                {
                    set(value);
                }
                else
                {
                    options.BindErrors.Add(new RegistryError(At(key), $"'{text}' is not true or false"));
                }
            }
        }

        options.RegistryPath = section[nameof(options.RegistryPath)] ?? options.RegistryPath;
        options.Environment = section[nameof(options.Environment)] ?? options.Environment;
        options.ConnectionString = section[nameof(options.ConnectionString)] ?? options.ConnectionString;
        options.KeyPrefix = section[nameof(options.KeyPrefix)] ?? options.KeyPrefix;
        BindFlag(nameof(options.CheckPortsFree), value => options.CheckPortsFree = value);
        BindFlag(nameof(options.AutoRenewClaims), value => options.AutoRenewClaims = value);

        if (section[nameof(options.Backend)] is { } backend)
        {
            if (Enum.TryParse(backend, ignoreCase: true, out ServiceAddressesBackend value) && Enum.IsDefined(value))
            {
                options.Backend = value;
            }
            else
            {
                options.BindErrors.Add(new RegistryError(At(nameof(options.Backend)), $"'{backend}' is not InMemory or Redis"));
            }
        }

        if (section[nameof(options.ClaimTtl)] is { } ttl)
        {
            if (TimeSpan.TryParse(ttl, CultureInfo.InvariantCulture, out TimeSpan value))
            {
                options.ClaimTtl = value;
            }
            else
            {
                options.BindErrors.Add(new RegistryError(At(nameof(options.ClaimTtl)), $"'{ttl}' is not a duration (hh:mm:ss)"));
            }
        }

        foreach (IConfigurationSection service in section.GetSection(nameof(options.Overrides)).GetChildren())
        {
            if (!options.Overrides.TryGetValue(service.Key, out ServiceOverride? o))
            {
                options.Overrides[service.Key] = o = new ServiceOverride();
            }

            o.Host = service[nameof(o.Host)] ?? o.Host;
            o.Scheme = service[nameof(o.Scheme)] ?? o.Scheme;
            if (service[nameof(o.Port)] is { } port)
            {
                if (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
                {
                    o.Port = value;
                }
                else
                {
                    options.BindErrors.Add(new RegistryError(At($"{nameof(options.Overrides)}:{service.Key}:{nameof(o.Port)}"), $"'{port}' is not a port number"));
                }
            }
        }

        IConfigurationSection registry = section.GetSection("Registry");
        if (registry.Exists())
        {
            options.RegistrySection = registry;
        }
    }
}

/// <summary>
/// Validates the options and, with them, reads and validates the registry, so a bad registry fails the host's
/// start (ValidateOnStart) with every error listed.
/// </summary>
internal sealed class ServiceAddressesOptionsValidator : IValidateOptions<ServiceAddressesOptions>
{
    public ValidateOptionsResult Validate(string? name, ServiceAddressesOptions options)
    {
        var failures = new List<string>();
        failures.AddRange(options.BindErrors.Select(e => e.ToString()));
        if (Lilith.Common.KeySchema.DescribePrefixError(options.KeyPrefix, "ServiceAddresses:KeyPrefix") is { } prefixError)
        {
            failures.Add(prefixError);
        }

        if (options.ClaimTtl <= TimeSpan.Zero)
        {
            failures.Add($"ServiceAddresses:ClaimTtl: {options.ClaimTtl} must be positive");
        }

        if (options.Backend is { } backend && !Enum.IsDefined(backend))
        {
            failures.Add($"ServiceAddresses:Backend: {options.Backend} is not InMemory or Redis");
        }

        if (options.RegistryPath is null && options.RegistrySection is null)
        {
            failures.Add("ServiceAddresses:RegistryPath: no registry; set RegistryPath to a YAML/JSON file or give the registry in ServiceAddresses:Registry");
        }
        else if (failures.Count == 0)
        {
            try
            {
                options.Loaded = LoadRegistry(options);
            }
            catch (ServiceRegistryException e)
            {
                failures.Add($"The service registry {e.Source} has {e.Errors.Count} error{(e.Errors.Count == 1 ? "" : "s")}:");
                failures.AddRange(e.Errors.Select(error => error.ToString()));
            }
        }

        // The same section may be bound twice (default section and an explicit one): report each problem once.
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures.Distinct(StringComparer.Ordinal));
    }

    public static ServiceRegistry LoadRegistry(ServiceAddressesOptions options)
    {
        string source;
        RegistryDocument document;
        if (options.RegistrySection is { } section)
        {
            source = $"in configuration section {(section is IConfigurationSection s ? s.Path : "Registry")}";
            document = RegistryDocument.FromTree(ConfigurationTreeReader.Read(section));
        }
        else
        {
            source = options.RegistryPath!;
            document = ServiceRegistry.ReadFile(source);
        }

        // Configuration overrides go through the same reader as a file's environment block.
        var overrides = new RawMapping(options.Overrides.Select(o => new RawEntry(o.Key, 0, 0, new RawMapping(
            new[] { ("host", o.Value.Host), ("port", o.Value.Port?.ToString(CultureInfo.InvariantCulture)), ("scheme", o.Value.Scheme) }
                .Where(m => m.Item2 is not null)
                .Select(m => new RawEntry(m.Item1, 0, 0, new RawScalar(m.Item2, 0, 0)))
                .ToList(), 0, 0))).ToList(), 0, 0);
        List<OverrideSpec> specs = document.ReadOverrides(overrides, "ServiceAddresses:Overrides");
        return ServiceRegistry.Build(document, ServiceRegistry.ResolveEnvironment(options.Environment), specs, options.CheckPortsFree, source);
    }
}
