using BenchmarkDotNet.Attributes;
using Lilith.ServiceAddresses;
using Microsoft.Extensions.Configuration;

namespace Lilith.Benchmarks.ServiceAddresses;

/// <summary><c>GetPort</c> against a plain <see cref="Dictionary{TKey, TValue}"/> lookup (goal: within 2x, 0 bytes).</summary>
[MemoryDiagnoser]
public class ServiceAddressesLookupBenchmarks
{
    private Dictionary<string, int> _ports = null!;
    private ServiceRegistry _registry = null!;
    private string _name = null!;

    [GlobalSetup]
    public void Setup()
    {
        string yaml = RegistryText.Yaml(100);
        _registry = ServiceRegistry.Parse(yaml, RegistryFormat.Yaml, "development");
        _ports = _registry.Services.ToDictionary(s => s.Name, s => s.Port, StringComparer.Ordinal);
        _name = new string("service-0042".AsSpan()); // not the interned literal, as a real caller's string
    }

    [Benchmark(Baseline = true)]
    public int DictionaryLookup() => _ports[_name];

    [Benchmark]
    public int GetPort() => _registry.GetPort(_name);
}

/// <summary>
/// Load and validate a 1,000-service registry (goal: under 50 ms) against binding the same JSON file with the configuration
/// binder (the issue's anchor) and against deserializing it with System.Text.Json into plain objects.
/// </summary>
[MemoryDiagnoser]
public class ServiceAddressesLoadBenchmarks
{
    private string _yamlPath = null!;
    private string _jsonPath = null!;

    [GlobalSetup]
    public void Setup()
    {
        _yamlPath = Path.Combine(Path.GetTempPath(), $"lilith-bench-{Environment.ProcessId}.yaml");
        _jsonPath = Path.ChangeExtension(_yamlPath, ".json");
        File.WriteAllText(_yamlPath, RegistryText.Yaml(1000));
        File.WriteAllText(_jsonPath, RegistryText.Json(1000));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        File.Delete(_yamlPath);
        File.Delete(_jsonPath);
    }

    /// <summary>The anchor: what a service does without this package (configuration file bound to plain objects, no validation).</summary>
    [Benchmark(Baseline = true)]
    public int BindWithConfigurationBinder()
    {
        IConfigurationRoot configuration = new ConfigurationBuilder().AddJsonFile(_jsonPath, optional: false, reloadOnChange: false).Build();
        var file = configuration.Get<PlainRegistry>()!;
        return file.Services!.Count;
    }

    /// <summary>A second, faster anchor: System.Text.Json into the same plain objects, no validation.</summary>
    [Benchmark]
    public int DeserializeJsonToObjects()
    {
        using FileStream stream = File.OpenRead(_jsonPath);
        var file = System.Text.Json.JsonSerializer.Deserialize<PlainRegistry>(stream, PlainJson)!;
        return file.Services!.Count;
    }

    [Benchmark]
    public int LoadAndValidateJson() => ServiceRegistry.Load(_jsonPath, "production").Services.Count;

    [Benchmark]
    public int LoadAndValidateYaml() => ServiceRegistry.Load(_yamlPath, "production").Services.Count;

    private static readonly System.Text.Json.JsonSerializerOptions PlainJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    public sealed class PlainRegistry
    {
        public Dictionary<string, PlainService>? Services { get; set; }

        public Dictionary<string, Dictionary<string, PlainService>>? Environments { get; set; }
    }

    public sealed class PlainService
    {
        public string? Host { get; set; }

        public int? Port { get; set; }

        public List<string>? Dependencies { get; set; }

        public List<string>? Tags { get; set; }
    }
}

internal static class RegistryText
{
    public static string Yaml(int count)
    {
        var text = new System.Text.StringBuilder("version: 1\nservices:\n");
        for (int i = 0; i < count; i++)
        {
            text.Append($"  service-{i:D4}:\n    host: host-{i % 50}\n    port: {10000 + i}\n    tags: [t{i % 7}]\n");
            if (i > 0)
            {
                text.Append($"    dependencies: [service-{i - 1:D4}{(i > 2 ? $", service-{i / 3:D4}" : "")}]\n");
            }
        }

        text.Append("environments:\n  production:\n");
        for (int i = 0; i < count; i += 10)
        {
            text.Append($"    service-{i:D4}: {{ port: {30000 + i} }}\n");
        }

        return text.ToString();
    }

    public static string Json(int count)
    {
        var services = new Dictionary<string, object>();
        for (int i = 0; i < count; i++)
        {
            var dependencies = i == 0 ? new List<string>() : i <= 2 ? [$"service-{i - 1:D4}"] : new List<string> { $"service-{i - 1:D4}", $"service-{i / 3:D4}" };
            services[$"service-{i:D4}"] = new { host = $"host-{i % 50}", port = 10000 + i, tags = new[] { $"t{i % 7}" }, dependencies };
        }

        var production = new Dictionary<string, object>();
        for (int i = 0; i < count; i += 10)
        {
            production[$"service-{i:D4}"] = new { port = 30000 + i };
        }

        return System.Text.Json.JsonSerializer.Serialize(new { version = 1, services, environments = new { production } });
    }
}
