namespace Lilith.ServiceAddresses;

/// <summary>The text format of a registry document.</summary>
public enum RegistryFormat
{
    /// <summary>YAML 1.1/1.2 (a single document).</summary>
    Yaml,

    /// <summary>JSON (comments and trailing commas are accepted).</summary>
    Json,
}
